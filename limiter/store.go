package limiter

import (
	"hash/maphash"
	"sync"
)

// tag separates the states a node keeps for one policy and key.
type tag uint8

const (
	tagLocal    tag = iota // a local limit, or a global one this node owns
	tagView                // this node's view of a global key another node owns
	tagFallback            // the rate/N limit used while the owner is out of reach
)

// skey is a store key. A struct of strings hashes without building a
// joined string, so a lookup allocates nothing.
type skey struct {
	name string
	key  string
	tag  tag
}

// store is the local state table: sharded maps of slots, each shard
// bounded to its share of MaxKeys with CLOCK (second-chance) eviction
// that takes expired states first. Safe for concurrent use; each shard
// has one mutex, held for a map lookup and a few integer operations.
//
// Memory per key is about 130 bytes (the entry, its map record and the
// caller's key string, which the store retains).
type store struct {
	seed    maphash.Seed
	shards  [numShards]shard
	onEvict func() // counts an eviction of a live state (metrics)
}

const numShards = 64

type shard struct {
	mu      sync.Mutex
	index   map[skey]int32
	entries []entry
	free    []int32
	hand    int
	cap     int
	_       [40]byte // keep neighbouring shards' mutexes off one cache line
}

type entry struct {
	k       skey
	s       slot
	expires int64
	ref     bool
	live    bool
}

func newStore(maxKeys int, onEvict func()) *store {
	st := &store{seed: maphash.MakeSeed(), onEvict: onEvict}
	per := max(1, (maxKeys+numShards-1)/numShards)
	for i := range st.shards {
		st.shards[i].index = make(map[skey]int32)
		st.shards[i].cap = per
	}
	return st
}

func (st *store) shard(k skey) *shard {
	h := maphash.String(st.seed, k.key) ^ (maphash.String(st.seed, k.name) * 0x9e3779b97f4a7c15) ^ uint64(k.tag)
	return &st.shards[h%numShards]
}

// apply runs the algorithm on k's state at now and stores the result.
func (st *store) apply(k skey, p policy, cost, now int64) Decision {
	sh := st.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, ok := sh.index[k]
	var s slot
	if ok {
		s = sh.entries[i].s
	}
	ns, d := apply(s, p, cost, now)
	if d.Allowed {
		sh.put(st, i, ok, k, ns, expires(ns, p), now)
	} else if ok {
		sh.entries[i].ref = true // a denied key is in use too
	}
	return d
}

// update replaces k's state with f(old, found) at now.
func (st *store) update(k skey, p policy, now int64, f func(s slot, found bool) slot) slot {
	sh := st.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, ok := sh.index[k]
	var s slot
	if ok {
		s = sh.entries[i].s
	}
	ns := f(s, ok)
	sh.put(st, i, ok, k, ns, expires(ns, p), now)
	return ns
}

// get returns k's state.
func (st *store) get(k skey) (slot, bool) {
	sh := st.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if i, ok := sh.index[k]; ok {
		return sh.entries[i].s, true
	}
	return slot{}, false
}

// put stores s for k (at index i when found). A state that has already
// expired is the same as no state: it is dropped instead.
func (sh *shard) put(st *store, i int32, found bool, k skey, s slot, exp, now int64) {
	if exp <= now {
		if found {
			sh.remove(i)
		}
		return
	}
	if found {
		e := &sh.entries[i]
		e.s, e.expires, e.ref = s, exp, true
		return
	}
	i = sh.slotFor(st, now)
	// A new state starts without its reference bit: a key seen once
	// is the first to go, a key used again survives a pass.
	sh.entries[i] = entry{k: k, s: s, expires: exp, live: true}
	sh.index[k] = i
}

// slotFor returns a free entry index, evicting one when the shard is
// full: the CLOCK hand passes entries, clearing their reference bits,
// and takes the first that is expired or was not used since its last
// pass.
func (sh *shard) slotFor(st *store, now int64) int32 {
	if n := len(sh.free); n > 0 {
		i := sh.free[n-1]
		sh.free = sh.free[:n-1]
		return i
	}
	if len(sh.entries) < sh.cap {
		sh.entries = append(sh.entries, entry{})
		return int32(len(sh.entries) - 1)
	}
	for {
		sh.hand = (sh.hand + 1) % len(sh.entries)
		e := &sh.entries[sh.hand]
		if e.expires > now && e.ref {
			e.ref = false
			continue
		}
		if e.expires > now && st.onEvict != nil {
			st.onEvict()
		}
		delete(sh.index, e.k)
		*e = entry{}
		return int32(sh.hand)
	}
}

func (sh *shard) remove(i int32) {
	delete(sh.index, sh.entries[i].k)
	sh.entries[i] = entry{}
	sh.free = append(sh.free, i)
}

// sweep drops every expired state. It holds each shard's lock in turn
// for one pass over that shard.
func (st *store) sweep(now int64) {
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		for j := range sh.entries {
			if e := &sh.entries[j]; e.live && e.expires <= now {
				sh.remove(int32(j))
			}
		}
		sh.mu.Unlock()
	}
}

// len returns how many states the store holds.
func (st *store) len() int {
	n := 0
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		n += len(sh.index)
		sh.mu.Unlock()
	}
	return n
}
