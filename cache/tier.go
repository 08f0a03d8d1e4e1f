package cache

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// minTierBytes is the smallest tier budget accepted.
const minTierBytes = 4 << 10

// tier is one ristretto cache of entries sized in bytes, with the purge
// index beside it. The owner tier holds the entries this node owns; the
// near tier holds short-lived copies of entries owned elsewhere. A nil
// *tier is an empty, disabled tier. All methods are safe for concurrent
// use.
type tier struct {
	name string // "owner" or "near", the metrics label
	rc   *ristretto.Cache[string, *entry]
	idx  *index

	// mu guards closed: ristretto panics on a Set, Get or Wait that races
	// with its Close, so every call holds mu.RLock and Close holds mu.
	mu     sync.RWMutex
	closed bool

	// purgeMu orders stores against purges: a store checks gen (the purge
	// generation its fill started in) and indexes its entry under RLock,
	// a purge bumps gen and collects its victims under Lock. A fill that
	// started before a purge therefore never stores after it, and one
	// that stored before it is found by it.
	purgeMu sync.RWMutex
	gen     uint64
}

func newTier(name string, maxBytes int64) (*tier, error) {
	t := &tier{name: name, idx: newIndex()}
	rc, err := ristretto.NewCache(&ristretto.Config[string, *entry]{
		// About ten counters per expected entry of ~2 KiB (ristretto's
		// advice), at least 10,000: 3-4 bytes each.
		NumCounters:        max(maxBytes/200, 10_000),
		MaxCost:            maxBytes,
		BufferItems:        64,
		Metrics:            true,
		IgnoreInternalCost: true, // entryOverhead counts it
		OnExit:             t.idx.remove,
	})
	if err != nil {
		return nil, fmt.Errorf("create %s tier: %w", name, err)
	}
	t.rc = rc
	return t, nil
}

// get returns the entry stored under key, if any.
func (t *tier) get(key string) *entry {
	if t == nil {
		return nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return nil
	}
	e, ok := t.rc.Get(key)
	if !ok || e == nil || e.key != key {
		return nil
	}
	return e
}

// lookup finds r's entry under key, following a vary marker to r's
// variant. fk is the key concurrent fills of r coalesce on: the secondary
// key when the variant is known, else key.
func (t *tier) lookup(p *policy, key string, r *http.Request) (e *entry, fk string) {
	fk = key
	if len(p.vary) > 0 {
		fk = variantKey(key, p.vary, r)
	}
	e = t.get(key)
	if e == nil || !e.marker {
		return e, fk
	}
	fk = variantKey(key, e.vary, r)
	return t.get(fk), fk
}

// generation is the purge generation a fill starts in.
func (t *tier) generation() uint64 {
	if t == nil {
		return 0
	}
	t.purgeMu.RLock()
	defer t.purgeMu.RUnlock()
	return t.gen
}

// store keeps e (and its vary marker) for keep, unless a purge came after
// generation gen. It reports whether ristretto took the write (it may
// still refuse it: TinyLFU admission).
func (t *tier) store(e *entry, gen uint64, now time.Time) bool {
	if t == nil {
		return false
	}
	t.purgeMu.RLock()
	defer t.purgeMu.RUnlock()
	if t.gen != gen {
		return false
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return false
	}
	ttl := e.keep(now)
	if len(e.vary) > 0 {
		// The marker lives as long as the longest-lived variant.
		m, mttl := markerFor(e), ttl
		if prev, ok := t.rc.GetTTL(m.key); ok && prev > mttl {
			mttl = prev
		}
		t.set(m, mttl)
	}
	return t.set(e, ttl)
}

func (t *tier) set(e *entry, ttl time.Duration) bool {
	t.idx.add(e)
	if !t.rc.SetWithTTL(e.key, e, e.cost, ttl) {
		t.idx.remove(e) // dropped: OnExit will not see it
		return false
	}
	return true
}

// wait blocks until the tier's buffered writes are applied, so that a
// store is visible to get.
func (t *tier) wait() {
	if t == nil {
		return
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !t.closed {
		t.rc.Wait()
	}
}

// purge removes the entries s selects and returns how many (vary markers
// not counted).
func (t *tier) purge(s Selector) int {
	if t == nil {
		return 0
	}
	t.purgeMu.Lock()
	t.gen++
	victims := t.idx.match(s)
	t.purgeMu.Unlock()

	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return 0
	}
	n := 0
	for _, e := range victims {
		t.rc.Del(e.key)
		if !e.marker {
			n++
		}
	}
	return n
}

// used is the cost of the entries held, in bytes.
func (t *tier) used() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return 0
	}
	return t.rc.MaxCost() - t.rc.RemainingCost()
}

func (t *tier) close() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed = true
		t.rc.Close()
	}
}
