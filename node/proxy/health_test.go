package proxy

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gw/portico/node/config"
)

func TestPassiveHealth_EjectsAndReturns(t *testing.T) {
	bad := newBackend(t, "bad", status(http.StatusInternalServerError))
	good := newBackend(t, "good", nil)
	cfg := upstreamConfig(bad.url(), good.url())
	cfg.Health.Passive = config.PassiveHealth{Failures: 3, Cooldown: config.Duration(10 * time.Second), On: []string{"5xx"}}
	clock := newFakeClock()
	up := newTestUpstream(t, cfg, Options{Now: clock.Now})
	g := newGateway(t, route("pool"), up, HandlerOptions{})

	// Round robin alternates; the third failure of "bad" ejects it.
	for range 6 {
		g.do(t, "GET", "/", nil)
	}
	if n := bad.hits.Load(); n != 3 {
		t.Fatalf("bad hits = %d, want 3", n)
	}
	st := up.Targets()[0]
	if want := clock.Now().Add(10 * time.Second); !st.EjectedUntil.Equal(want) {
		t.Fatalf("EjectedUntil = %v, want %v", st.EjectedUntil, want)
	}
	for range 10 {
		if _, name, _ := g.do(t, "GET", "/", nil); name != "good" {
			t.Fatalf("request went to %q while bad is ejected", name)
		}
	}
	clock.Advance(10*time.Second - time.Nanosecond)
	if _, name, _ := g.do(t, "GET", "/", nil); name != "good" {
		t.Fatalf("request went to %q before the cooldown ended", name)
	}
	clock.Advance(time.Nanosecond)
	if !up.Targets()[0].EjectedUntil.IsZero() {
		t.Errorf("EjectedUntil = %v after the cooldown, want zero", up.Targets()[0].EjectedUntil)
	}
	before := bad.hits.Load()
	for range 2 {
		g.do(t, "GET", "/", nil)
	}
	if got := bad.hits.Load() - before; got != 1 {
		t.Errorf("bad got %d of 2 requests after its cooldown, want 1", got)
	}
}

func TestPassiveHealth_SuccessResetsCount(t *testing.T) {
	u := testUpstream(t, 1, nil)
	p := passivePolicy{failures: 3, cooldown: time.Second}
	tg := u.targets[0]
	now := time.Unix(1000, 0)
	for _, failed := range []bool{true, true, false, true, true} {
		p.record(tg, now, failed, func() bool { return false })
	}
	if tg.ejectedUntil.Load() != 0 {
		t.Fatalf("ejected after 2+2 failures split by a success")
	}
	p.record(tg, now, true, func() bool { return false })
	if got := tg.ejectedUntil.Load(); got != now.Add(time.Second).UnixNano() {
		t.Errorf("ejectedUntil = %d, want %d", got, now.Add(time.Second).UnixNano())
	}
}

func TestActiveHealth_TakesTargetOutAndBack(t *testing.T) {
	var healthStatus atomic.Int64
	healthStatus.Store(http.StatusOK)
	var probes atomic.Int64
	a := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			probes.Add(1)
			w.WriteHeader(int(healthStatus.Load()))
		}
	})
	b := newBackend(t, "b", nil)
	cfg := upstreamConfig(a.url()+"/base", b.url())
	cfg.Health.Active = config.ActiveHealth{Path: "/healthz", Interval: config.Duration(5 * time.Millisecond),
		Timeout: config.Duration(time.Second), Healthy: 2, Unhealthy: 2}
	up := newTestUpstream(t, cfg, Options{})
	up.Start()
	up.Start() // idempotent
	waitFor(t, "a first probe", func() bool { return probes.Load() > 0 })
	if !up.Targets()[0].Healthy {
		t.Fatal("a unhealthy while its probes succeed")
	}

	healthStatus.Store(http.StatusServiceUnavailable)
	waitFor(t, "a to turn unhealthy", func() bool { return !up.Targets()[0].Healthy })
	g := newGateway(t, route("pool"), up, HandlerOptions{})
	for range 4 {
		if _, name, _ := g.do(t, "GET", "/", nil); name != "b" {
			t.Fatalf("request went to %q while a is down", name)
		}
	}

	healthStatus.Store(http.StatusNoContent)
	waitFor(t, "a to come back", func() bool { return up.Targets()[0].Healthy })
	seen := map[string]bool{}
	for range 4 {
		_, name, _ := g.do(t, "GET", "/", nil)
		seen[name] = true
	}
	if !seen["a"] {
		t.Error("a got no traffic after coming back")
	}
}

func TestActiveHealth_CloseStopsCheckers(t *testing.T) {
	var probes atomic.Int64
	a := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) { probes.Add(1) })
	cfg := upstreamConfig(a.url())
	cfg.Health.Active = config.ActiveHealth{Path: "/", Interval: config.Duration(time.Millisecond)}
	up, err := NewUpstream(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	up.Start()
	waitFor(t, "probes", func() bool { return probes.Load() >= 2 })
	for range 2 { // idempotent
		if err := up.Close(t.Context()); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	n := probes.Load()
	up.Start() // after Close: nothing
	if err := up.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := probes.Load(); got != n {
		t.Errorf("probes went on after Close: %d, then %d", n, got)
	}
	// goleak (TestMain) checks that no checker goroutine is left.
}

func TestBreaker_OpensHalfOpensCloses(t *testing.T) {
	var code atomic.Int64
	code.Store(http.StatusInternalServerError)
	block := make(chan struct{})
	var blockNext atomic.Bool
	arrived := make(chan struct{}, 1)
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if blockNext.CompareAndSwap(true, false) {
			arrived <- struct{}{}
			<-block
		}
		w.WriteHeader(int(code.Load()))
	})
	cfg := upstreamConfig(b.url())
	cfg.CircuitBreaker = config.CircuitBreaker{ErrorRatio: 0.5, MinRequests: 4,
		Window: config.Duration(10 * time.Second), OpenFor: config.Duration(30 * time.Second)}
	clock := newFakeClock()
	up := newTestUpstream(t, cfg, Options{Now: clock.Now})
	g := newGateway(t, route("pool"), up, HandlerOptions{})
	state := func() string { return up.Targets()[0].Breaker }

	for i := range 3 { // below min_requests: stays closed
		if code, _, _ := g.do(t, "GET", "/", nil); code != 500 {
			t.Fatalf("request %d: status %d, want 500", i, code)
		}
	}
	if s := state(); s != BreakerClosed {
		t.Fatalf("breaker %s after 3 requests, want closed", s)
	}
	g.do(t, "GET", "/", nil) // 4 of 4 failed
	if s := state(); s != BreakerOpen {
		t.Fatalf("breaker %s after 4 failures, want open", s)
	}
	hits := b.hits.Load()
	if code, _, _ := g.do(t, "GET", "/", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("open breaker: status %d, want 503", code)
	}
	if b.hits.Load() != hits {
		t.Fatal("open breaker let a request through")
	}

	// Half-open: one probe goes through; while it is in flight, others
	// are refused. It fails: open again.
	clock.Advance(30 * time.Second)
	if s := state(); s != BreakerHalfOpen {
		t.Fatalf("breaker %s after open_for, want half-open", s)
	}
	blockNext.Store(true)
	probeDone := make(chan int)
	go func() {
		resp, err := g.client.Get(g.srv.URL + "/")
		if err != nil {
			probeDone <- 0
			return
		}
		resp.Body.Close()
		probeDone <- resp.StatusCode
	}()
	<-arrived
	if code, _, _ := g.do(t, "GET", "/", nil); code != http.StatusServiceUnavailable {
		t.Errorf("second request while the probe is in flight: status %d, want 503", code)
	}
	close(block)
	if c := <-probeDone; c != 500 {
		t.Fatalf("probe status %d, want 500", c)
	}
	if s := state(); s != BreakerOpen {
		t.Fatalf("breaker %s after a failed probe, want open", s)
	}

	// Next half-open probe succeeds: closed.
	clock.Advance(30 * time.Second)
	code.Store(http.StatusOK)
	if c, _, _ := g.do(t, "GET", "/", nil); c != 200 {
		t.Fatalf("probe status %d, want 200", c)
	}
	if s := state(); s != BreakerClosed {
		t.Fatalf("breaker %s after a good probe, want closed", s)
	}
	for range 5 {
		if c, _, _ := g.do(t, "GET", "/", nil); c != 200 {
			t.Fatalf("closed breaker: status %d, want 200", c)
		}
	}
}

func TestBreaker_WindowSlides(t *testing.T) {
	b := newBreaker(config.CircuitBreaker{ErrorRatio: 0.5, MinRequests: 4, Window: config.Duration(10 * time.Second)})
	now := time.Unix(1000, 0)
	b.record(now, false, true)
	b.record(now, false, true)
	// 10s later those two failures have left the window.
	later := now.Add(10 * time.Second)
	b.record(later, false, true)
	b.record(later, false, false)
	b.record(later, false, false)
	if s := b.state(later.UnixNano()); s != BreakerClosed {
		t.Fatalf("breaker %s with 1 failure of 3 in the window, want closed", s)
	}
	b.record(later, false, true)
	if s := b.state(later.UnixNano()); s != BreakerOpen {
		t.Fatalf("breaker %s with 2 failures of 4 in the window, want open", s)
	}
}
