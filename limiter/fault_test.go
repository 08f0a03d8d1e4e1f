package limiter

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// These tests hold global limits to the limit when the owner is slow,
// the machine is busy, or the owner leaves: fallbacks must not add what
// the owner admits anyway (see doc.go, Faults).

// defaultTimeouts gives the cluster the shipped DecisionTimeout and
// PeerRetry (newCluster stretches the timeout for slow test machines).
func defaultTimeouts(c *Config) { c.DecisionTimeout, c.PeerRetry = 0, 0 }

// hogCPU runs GOMAXPROCS goroutines that burn CPU until the test ends
// or 30s pass, so that peer requests and handlers wait for a core as
// they do on a loaded machine.
func hogCPU(t *testing.T) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	deadline := time.Now().Add(30 * time.Second)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := uint64(1)
			for i := 0; ; i++ {
				x = x*6364136223846793005 + 1442695040888963407
				if i%(1<<16) == 0 {
					select {
					case <-stop:
						_ = x
						return
					default:
					}
					if time.Now().After(deadline) {
						return
					}
				}
			}
		}()
	}
	t.Cleanup(func() { close(stop); wg.Wait() })
}

// keyOwnedBy returns a key of policy name whose owner is node i.
func keyOwnedBy(cl *cluster, name string, i int) string {
	for n := 0; ; n++ {
		if o, _ := cl.ring.owners(ownerKey(name, fmt.Sprint(n))); o == i {
			return fmt.Sprint(n)
		}
	}
}

// drive sends 3× lim's rate (in Period/Rate steps of the test clock, and
// a flush every 50ms of it) for windows periods, in turn through the
// nodes of from, and returns how many were admitted. lim.Period must be
// a second.
func drive(t *testing.T, cl *cluster, lim Limit, key string, windows int, from []int) int {
	t.Helper()
	step := time.Second / time.Duration(lim.Rate) // 3 requests a step
	syncEvery := max(1, int(DefaultSyncInterval/step))
	reqs := []Request{{Key: key, Limit: lim}}
	admitted, n := 0, 0
	for s := range windows * int(lim.Rate) {
		for range 3 {
			d, err := cl.nodes[from[n%len(from)]].lim.Allow(context.Background(), reqs)
			n++
			if err != nil {
				t.Fatalf("Allow: %v", err)
			}
			if d.Allowed {
				admitted++
			}
		}
		cl.clk.Advance(step)
		if s%syncEvery == syncEvery-1 {
			cl.flush()
		}
	}
	return admitted
}

func fallbacks(t *testing.T, cl *cluster) float64 {
	f := 0.0
	for _, nd := range cl.nodes {
		f += counterValue(t, nd.reg, "portico_limiter_fallback_total")
	}
	return f
}

// TestStrictExactOnBusyMachine: three nodes over loopback HTTP with the
// shipped timeouts and goroutines burning every core beside them; at 3×
// the limit, a strict limit admits the limit (the old 10ms deadline and
// one-slow-reply-means-down admitted up to 5/3 of it).
func TestStrictExactOnBusyMachine(t *testing.T) {
	cl := newCluster(t, 3, defaultTimeouts)
	lim := Limit{Name: "api", Rate: 50, Burst: 5, Scope: ScopeGlobal, Mode: ModeStrict}
	key := keyOwnedBy(cl, "api", 0)
	hogCPU(t)
	const windows = 1
	got := drive(t, cl, lim, key, windows, []int{0, 1, 2})
	want := int(lim.Rate)*windows + int(lim.Burst)
	t.Logf("admitted %d at 3× the limit, limit %d, %v fallbacks", got, want, fallbacks(t, cl))
	if got > want+1 {
		t.Errorf("admitted %d with a CPU hog, want at most the limit %d (+1)", got, want)
	}
}

// slowOnce delays the first strict decision node i answers by d.
func slowOnce(t *testing.T, cl *cluster, i int, d time.Duration) *atomic.Int32 {
	var slowed atomic.Int32
	h := cl.nodes[i].lim.PeerHandler()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	cl.nodes[i].h.mu.Lock()
	cl.nodes[i].h.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == decidePath && slowed.Add(1) == 1 {
			select {
			case <-time.After(d):
			case <-release:
			case <-r.Context().Done():
			}
		}
		h.ServeHTTP(w, r)
	})
	cl.nodes[i].h.mu.Unlock()
	return &slowed
}

// TestStrictOneSlowReply: one owner reply 30ms late must not turn the
// other nodes to their own rate/N for a second while the owner goes on
// admitting the whole rate. With the shipped deadline it is no fault at
// all; with a deadline shorter than the delay it costs one fallback
// decision, which is charged to the owner.
func TestStrictOneSlowReply(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		extra   int
	}{{"shipped deadline", 0, 0}, {"10ms deadline", 10 * time.Millisecond, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newCluster(t, 3, defaultTimeouts, func(c *Config) { c.DecisionTimeout = tc.timeout })
			lim := Limit{Name: "api", Rate: 50, Burst: 5, Scope: ScopeGlobal, Mode: ModeStrict}
			key := keyOwnedBy(cl, "api", 0)
			slowed := slowOnce(t, cl, 0, 30*time.Millisecond)
			const windows = 2
			got := drive(t, cl, lim, key, windows, []int{0, 1, 2})
			want := int(lim.Rate)*windows + int(lim.Burst)
			t.Logf("admitted %d, limit %d, %d decide requests, %v fallbacks", got, want, slowed.Load(), fallbacks(t, cl))
			if slowed.Load() == 0 {
				t.Fatal("the owner was never asked")
			}
			if got > want+tc.extra {
				t.Errorf("admitted %d after one slow reply, want at most %d (+%d)", got, want, tc.extra)
			}
		})
	}
}

// TestFallbackCharged: what a node admits while the owner is out of
// reach is sent to the owner when it answers again, so the owner's
// budget accounts for it.
func TestFallbackCharged(t *testing.T) {
	cl := newCluster(t, 3, defaultTimeouts)
	lim := Limit{Name: "api", Rate: 10, Period: time.Hour, Burst: 10, Scope: ScopeGlobal, Mode: ModeStrict}
	key := keyOwnedBy(cl, "api", 0)
	reqs := []Request{{Key: key, Limit: lim}}
	allow := func(i int) Decision {
		t.Helper()
		d, err := cl.nodes[i].lim.Allow(context.Background(), reqs)
		if err != nil {
			t.Fatalf("Allow: %v", err)
		}
		return d
	}
	// The owner's peer listener refuses (503) for a while.
	h := cl.nodes[0].h
	h.mu.Lock()
	saved := h.h
	h.h = nil
	h.mu.Unlock()
	fell := 0
	for range 5 {
		if d := allow(1); d.Allowed && d.Fallback {
			fell++
		}
	}
	if fell == 0 {
		t.Fatal("no fallback admissions with the owner refusing")
	}
	for range 10 - fell {
		if d := allow(0); !d.Allowed {
			t.Fatalf("the owner denied its own request %+v before its budget was spent", d)
		}
	}
	h.mu.Lock()
	h.h = saved
	h.mu.Unlock()
	cl.flush() // the owner answers again: node 1 sends what it admitted
	// The owner admitted 10 - fell itself and node 1 fell units: the
	// burst is spent. An hour's tenth later, one unit is back, not more.
	if d := allow(0); d.Allowed {
		t.Errorf("owner admitted %+v: the %d fallback admissions were not charged to it", d, fell)
	}
	cl.clk.Advance(6 * time.Minute)
	if d := allow(0); !d.Allowed {
		t.Errorf("owner denied %+v after one emission interval", d)
	}
	if d := allow(0); d.Allowed {
		t.Errorf("owner admitted a second unit %+v after one emission interval", d)
	}
}

// TestOwnerLeaves: the owner stops mid-window, then leaves the ring. The
// remaining nodes fall back while it is still listed, then the new owner
// takes over from the views the nodes hold (its own and the askers').
// What the old and the new owner admit together stays at the limit plus
// the stated bound (doc.go: at most what the old owner admitted that no
// survivor had seen; one sync's worth per node in async mode).
func TestOwnerLeaves(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		bound float64 // of the limit
	}{{ModeStrict, 0.02}, {ModeAsync, 0.10}} {
		t.Run(tc.mode, func(t *testing.T) {
			cl := newCluster(t, 3, defaultTimeouts)
			lim := Limit{Name: "api", Rate: 100, Burst: 100, Scope: ScopeGlobal, Mode: tc.mode}
			key := keyOwnedBy(cl, "api", 0)
			got := drive(t, cl, lim, key, 1, []int{0, 1, 2})
			cl.nodes[0].srv.CloseClientConnections()
			cl.stop(0)
			got += drive(t, cl, lim, key, 1, []int{1, 2})
			cl.ring.setLive(0, false)
			got += drive(t, cl, lim, key, 2, []int{1, 2})
			want := float64(lim.Rate)*4 + float64(lim.Burst)
			t.Logf("admitted %d over 4 windows, limit %v, %v fallbacks", got, want, fallbacks(t, cl))
			if float64(got) > want*(1+tc.bound) {
				t.Errorf("old and new owner admitted %d, want at most %v (+%.0f%%)", got, want, tc.bound*100)
			}
		})
	}
}
