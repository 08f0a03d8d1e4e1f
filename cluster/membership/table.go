package membership

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// table is the member list as this node sees it. Only the event goroutine
// writes it (and Shutdown, after that goroutine is done); readers take
// copies.
type table struct {
	mu      sync.RWMutex
	members map[string]Member
}

func newTable() *table {
	return &table{members: make(map[string]Member)}
}

// apply records e, stamped now, and reports whether the list changed.
func (t *table) apply(e event, now time.Time, logger *slog.Logger) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	old, known := t.members[e.name]
	switch e.kind {
	case evJoin, evUpdate, evLeave:
		meta, leaving, err := decodeMeta(e.name, e.meta)
		if err != nil {
			// Not fatal: the member is still a member, just without details.
			logger.Debug("gossip: ignoring unreadable metadata", "node", e.name, "err", err)
		}
		m := Member{Meta: meta, Addr: e.addr, State: Alive}
		if e.kind == evLeave {
			m.State = Dead
			if leaving {
				m.State = Left
			}
		}
		return t.set(old, known, m, now)
	case evSuspect:
		if known && old.State == Alive {
			return t.set(old, known, withState(old, Suspect), now)
		}
	case evAnswer:
		if known && old.State == Suspect {
			return t.set(old, known, withState(old, Alive), now)
		}
	}
	return false
}

func withState(m Member, s State) Member {
	m.State = s
	return m
}

// set stores m in place of old, keeping Since unless the state changed.
// The caller holds t.mu.
func (t *table) set(old Member, known bool, m Member, now time.Time) bool {
	m.Since = now
	if known && old.State == m.State {
		m.Since = old.Since
		if old == m {
			return false
		}
	}
	t.members[m.Name] = m
	return true
}

// setState forces name's state (Shutdown marks this node Left or Dead).
func (t *table) setState(name string, s State, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if m, ok := t.members[name]; ok && m.State != s {
		m.State, m.Since = s, now
		t.members[name] = m
	}
}

// reap drops members Dead or Left since before cutoff and reports whether
// any went.
func (t *table) reap(cutoff time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	reaped := false
	for name, m := range t.members {
		if (m.State == Dead || m.State == Left) && m.Since.Before(cutoff) {
			delete(t.members, name)
			reaped = true
		}
	}
	return reaped
}

func (t *table) get(name string) (Member, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	m, ok := t.members[name]
	return m, ok
}

// snapshot returns a fresh copy of all members, sorted by name.
func (t *table) snapshot() []Member {
	t.mu.RLock()
	out := make([]Member, 0, len(t.members))
	for _, m := range t.members {
		out = append(out, m)
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}
