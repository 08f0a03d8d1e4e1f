package proxy

import (
	"hash/fnv"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// target is one backend of an Upstream and everything known about it.
// Its counters are atomics: they are read on every pick, from every
// request's goroutine.
type target struct {
	index  int
	raw    string   // the configured URL, for status and events
	url    *url.URL // scheme, host and base path (no trailing slash)
	weight int64    // 0 drains
	seed   uint64   // per-target salt for rendezvous hashing

	inflight atomic.Int64 // attempts sent and not yet finished (incl. body)

	// Active health: false after cfg.Unhealthy failed probes in a row.
	healthy atomic.Bool
	// Passive health: consecutive failures of live traffic, and the
	// UnixNano until which the target is ejected (0: not ejected).
	failures     atomic.Int64
	ejectedUntil atomic.Int64

	breaker *breaker // nil when circuit breaking is off
}

func newTarget(index int, raw string, u *url.URL, weight int64) *target {
	h := fnv.New64a()
	h.Write([]byte(raw))
	base := *u
	base.Path = strings.TrimSuffix(u.Path, "/")
	base.RawPath = strings.TrimSuffix(u.RawPath, "/")
	base.RawQuery, base.Fragment, base.User = "", "", nil
	t := &target{index: index, raw: raw, url: &base, weight: weight, seed: h.Sum64()}
	t.healthy.Store(true)
	return t
}

// available reports whether t may take a new request at now (UnixNano),
// ignoring which targets this request already tried.
func (t *target) available(now int64) bool {
	return t.weight > 0 && t.healthy.Load() && t.ejectedUntil.Load() <= now &&
		(t.breaker == nil || t.breaker.mayPass(now))
}

// passivePolicy ejects a target after consecutive failures.
type passivePolicy struct {
	failures int64 // <= 0: passive health is off
	cooldown time.Duration
}

// record counts one outcome of live traffic on t. The failures counter is
// reset by whoever crosses the threshold, so concurrent failures eject once.
func (p passivePolicy) record(t *target, now time.Time, failed bool) {
	if p.failures <= 0 {
		return
	}
	if !failed {
		if t.failures.Load() != 0 {
			t.failures.Store(0)
		}
		return
	}
	if t.failures.Add(1) == p.failures {
		t.failures.Store(0)
		t.ejectedUntil.Store(now.Add(p.cooldown).UnixNano())
	}
}

// targetSet is a set of target indexes: the targets a request has tried.
// Up to 64 targets it lives on the stack.
type targetSet struct {
	bits uint64
	more []uint64
}

func (s *targetSet) has(i int) bool {
	if i < 64 {
		return s.bits&(1<<uint(i)) != 0
	}
	j := i/64 - 1
	return j < len(s.more) && s.more[j]&(1<<uint(i%64)) != 0
}

func (s *targetSet) add(i int) {
	if i < 64 {
		s.bits |= 1 << uint(i)
		return
	}
	j := i/64 - 1
	for len(s.more) <= j {
		s.more = append(s.more, 0)
	}
	s.more[j] |= 1 << uint(i%64)
}

// pickState is what a balancer needs to judge a target for one pick.
type pickState struct {
	now   int64 // UnixNano
	tried *targetSet
}

func (ps *pickState) ok(t *target) bool {
	return !ps.tried.has(t.index) && t.available(ps.now)
}
