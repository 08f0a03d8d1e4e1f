package proxy

import (
	"fmt"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
)

// balanceKind names a balancing algorithm (config: upstream.balance).
type balanceKind int

const (
	balanceRoundRobin balanceKind = iota
	balanceLeastConn
	balanceWeighted
	balanceRandom
	balanceHash
)

func parseBalance(s string) (balanceKind, error) {
	switch s {
	case "", "round_robin":
		return balanceRoundRobin, nil
	case "least_conn":
		return balanceLeastConn, nil
	case "weighted":
		return balanceWeighted, nil
	case "random":
		return balanceRandom, nil
	case "hash":
		return balanceHash, nil
	}
	return 0, fmt.Errorf("unknown balance %q: use round_robin, least_conn, weighted, random or hash", s)
}

// Every balancer below picks among the targets ps.ok accepts and returns
// nil when there is none. They are called concurrently; the balancers
// themselves are plain functions of the targets, a counter, a random
// number or a key, so they never allocate.

// roundRobin takes the eligible targets in turn. Skipped targets are left
// out of the count rather than passed over, so their share spreads evenly
// on the others instead of landing on their neighbour.
type roundRobin struct{ next atomic.Uint64 }

func (rr *roundRobin) pick(ts []*target, ps *pickState) *target {
	n := uint64(0)
	for _, t := range ts {
		if ps.ok(t) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	k := (rr.next.Add(1) - 1) % n
	var last *target
	for _, t := range ts {
		if !ps.ok(t) {
			continue
		}
		if k == 0 {
			return t
		}
		k--
		last = t // health may change between the passes
	}
	return last
}

// leastConn takes the target with the fewest in-flight attempts per unit
// of weight. The scan starts at a rotating offset, so ties go round robin.
type leastConn struct{ next atomic.Uint64 }

func (lc *leastConn) pick(ts []*target, ps *pickState) *target {
	n := uint64(len(ts))
	start := lc.next.Add(1) - 1
	var best *target
	var bestLoad int64
	for i := uint64(0); i < n; i++ {
		t := ts[(start+i)%n]
		if !ps.ok(t) {
			continue
		}
		load := t.inflight.Load()
		// load/weight < bestLoad/best.weight, without division.
		if best == nil || load*best.weight < bestLoad*t.weight {
			best, bestLoad = t, load
		}
	}
	return best
}

// smoothWeighted is nginx's smooth weighted round robin: every pick adds
// each eligible target's weight to its current score, takes the highest,
// and subtracts the total from the winner. Weights 5,1,1 give a a b a c a
// a rather than a a a a a b c.
type smoothWeighted struct {
	mu      sync.Mutex
	current []int64 // by target index
}

func (sw *smoothWeighted) pick(ts []*target, ps *pickState) *target {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	var total int64
	best := -1
	for i, t := range ts {
		if !ps.ok(t) {
			continue
		}
		sw.current[i] += t.weight
		total += t.weight
		if best < 0 || sw.current[i] > sw.current[best] {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	sw.current[best] -= total
	return ts[best]
}

// pickRandom takes an eligible target at random, in proportion to weight.
func pickRandom(ts []*target, ps *pickState, rnd uint64) *target {
	var total int64
	for _, t := range ts {
		if ps.ok(t) {
			total += t.weight
		}
	}
	if total == 0 {
		return nil
	}
	k := int64(rnd % uint64(total))
	var last *target
	for _, t := range ts {
		if !ps.ok(t) {
			continue
		}
		if k < t.weight {
			return t
		}
		k -= t.weight
		last = t
	}
	return last
}

// hashOn is the parsed hash_on setting.
type hashOn struct {
	kind hashKind
	name string // canonical header name, or cookie name
}

type hashKind int

const (
	hashHeader hashKind = iota + 1
	hashCookie
	hashClientIP
)

func parseHashOn(s string) (hashOn, error) {
	kind, name, _ := strings.Cut(s, ":")
	switch {
	case s == "client_ip":
		return hashOn{kind: hashClientIP}, nil
	case kind == "header" && name != "":
		return hashOn{kind: hashHeader, name: textproto.CanonicalMIMEHeaderKey(name)}, nil
	case kind == "cookie" && name != "":
		return hashOn{kind: hashCookie, name: name}, nil
	}
	return hashOn{}, fmt.Errorf("invalid hash_on %q: use header:NAME, cookie:NAME or client_ip", s)
}
