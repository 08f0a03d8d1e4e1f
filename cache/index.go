package cache

import (
	"strings"
	"sync"
)

// index finds a tier's entries by cache key, URL prefix and tag, for
// purges. It holds exactly the entries the tier holds or is about to hold:
// entries are added before they go to ristretto and removed by its OnExit
// callback (eviction, expiry, rejection, replacement, deletion), so its
// memory is bounded by the tier's budget (entryOverhead counts it). All
// methods are safe for concurrent use; remove may run on ristretto's
// goroutine, so nothing calls ristretto while holding mu.
type index struct {
	mu        sync.Mutex
	byPrimary map[string][]*entry // cache key → its entry, or its marker and variants
	byTag     map[string]map[*entry]struct{}
	entries   int // not counting vary markers
}

func newIndex() *index {
	return &index{byPrimary: make(map[string][]*entry), byTag: make(map[string]map[*entry]struct{})}
}

func (x *index) add(e *entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.byPrimary[e.primary] = append(x.byPrimary[e.primary], e)
	for _, t := range e.tags {
		set := x.byTag[t]
		if set == nil {
			set = make(map[*entry]struct{})
			x.byTag[t] = set
		}
		set[e] = struct{}{}
	}
	if !e.marker {
		x.entries++
	}
}

// remove forgets e (that very entry: a newer one under the same key
// stays). It is ristretto's OnExit, called with nil for deletions of
// absent keys.
func (x *index) remove(e *entry) {
	if e == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	list := x.byPrimary[e.primary]
	i := 0
	for i < len(list) && list[i] != e {
		i++
	}
	if i == len(list) {
		return // already gone
	}
	list[i] = list[len(list)-1]
	list[len(list)-1] = nil
	if list = list[:len(list)-1]; len(list) == 0 {
		delete(x.byPrimary, e.primary)
	} else {
		x.byPrimary[e.primary] = list
	}
	for _, t := range e.tags {
		if set := x.byTag[t]; set != nil {
			delete(set, e)
			if len(set) == 0 {
				delete(x.byTag, t)
			}
		}
	}
	if !e.marker {
		x.entries--
	}
}

// match returns the entries s selects. A prefix or URL purge scans every
// key: it is O(entries).
func (x *index) match(s Selector) []*entry {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []*entry
	switch {
	case s.Key != "":
		out = append(out, x.byPrimary[s.Key]...)
	case s.Tag != "":
		for e := range x.byTag[s.Tag] {
			out = append(out, e)
		}
	case s.Prefix != "":
		for k, list := range x.byPrimary {
			if strings.HasPrefix(KeyURL(k), s.Prefix) {
				out = append(out, list...)
			}
		}
	case s.URL != "":
		for k, list := range x.byPrimary {
			if KeyURL(k) == s.URL {
				out = append(out, list...)
			}
		}
	}
	return out
}

func (x *index) len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.entries
}
