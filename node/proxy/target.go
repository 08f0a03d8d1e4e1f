package proxy

import (
	"errors"
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

	// Failure logging (warnFailure): when the last warning was logged
	// (UnixNano) and how many failures were not logged since.
	lastWarn, unlogged atomic.Int64
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
// ignoring which targets this request already tried. With anyway set,
// passive ejection is ignored (see Upstream.pick).
func (t *target) available(now int64, anyway bool) bool {
	return t.weight > 0 && t.healthy.Load() && (anyway || t.ejectedUntil.Load() <= now) &&
		(t.breaker == nil || t.breaker.mayPass(now))
}

// passivePolicy ejects a target after consecutive failures of the kinds
// it counts (config: health.passive).
type passivePolicy struct {
	failures int64 // <= 0: passive health is off
	cooldown time.Duration
	on5xx    bool // a 5xx answer counts as a failure (opt-in)
	// onConnect and onTimeout count connect failures (dial, TLS, resets
	// before any response) and timeouts.
	onConnect, onTimeout bool
}

// failed reports whether a try's outcome counts against its target. A
// client's fault (its body, its leaving) never gets here.
func (p passivePolicy) failed(status int, err error) bool {
	switch {
	case err == nil:
		return p.on5xx && status >= 500
	case errors.Is(err, ErrTimeout):
		return p.onTimeout
	case isConnectFailure(err):
		return p.onConnect
	}
	// Other transport failures (a malformed response, a reset after the
	// request was written) are the target's: they count with connect.
	return p.onConnect
}

// record counts one outcome of live traffic on t. The failures counter is
// reset by whoever crosses the threshold, so concurrent failures eject once.
// last reports whether t is the only target still available: it is then
// not ejected (nginx's rule: the last server of a group is always tried).
func (p passivePolicy) record(t *target, now time.Time, failed bool, last func() bool) {
	if p.failures <= 0 {
		return
	}
	if !failed {
		if t.failures.Load() != 0 {
			t.failures.Store(0)
		}
		return
	}
	if t.failures.Add(1) >= p.failures {
		t.failures.Store(0)
		if !last() {
			t.ejectedUntil.Store(now.Add(p.cooldown).UnixNano())
		}
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
	now    int64 // UnixNano
	tried  *targetSet
	anyway bool // ignore passive ejection: every target is ejected
}

func (ps *pickState) ok(t *target) bool {
	return !ps.tried.has(t.index) && t.available(ps.now, ps.anyway)
}
