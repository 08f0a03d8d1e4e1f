package cache

import (
	"context"
	"sync"
)

// flights coalesces concurrent fills of one key (a typed singleflight):
// the first request leads and fetches, the others wait for its result.
// Unlike golang.org/x/sync/singleflight, the result can be released before
// the leader returns (as soon as it knows the response will not be
// shared), and the flight stays joinable after its release until the
// leader forgets it, which it does once its entry is visible in the tier:
// requests arriving in between get the result instead of fetching again.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one fill in progress.
type flight struct {
	done     chan struct{} // closed by release
	res      result        // written before done is closed
	released bool          // only the leader touches it
}

// result is what a fill leaves its waiters: an entry to serve, or nothing,
// which tells each waiter to go upstream itself (the response was not
// shareable: private, uncacheable, too large, or the fill failed).
type result struct {
	e       *entry
	verdict string // Cache-Status verdict for waiters, without "collapsed"
}

func newFlights() *flights { return &flights{m: make(map[string]*flight)} }

// join returns key's flight and whether the caller leads it.
func (g *flights) join(key string) (*flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f := g.m[key]; f != nil {
		return f, false
	}
	f := &flight{done: make(chan struct{})}
	g.m[key] = f
	return f, true
}

// forget ends the leader's flight; a flight not yet released releases
// nothing, sending its waiters upstream (the leader failed or panicked).
func (g *flights) forget(key string, f *flight) {
	f.release(result{})
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m[key] == f {
		delete(g.m, key)
	}
}

// release hands res to the waiters, once; the leader calls it.
func (f *flight) release(res result) {
	if f.released {
		return
	}
	f.released = true
	f.res = res
	close(f.done)
}

// wait returns the flight's result, or false when ctx ends first.
func (f *flight) wait(ctx context.Context) (result, bool) {
	select {
	case <-f.done:
		return f.res, true
	case <-ctx.Done():
		return result{}, false
	}
}
