package limiter

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"
)

// simulate sends rate*3 requests per second for windows seconds of
// simulated time, spread over every live node (one key, one policy),
// syncing async views every 50ms, and returns how many were admitted
// in each window.
func simulate(t *testing.T, cl *cluster, lim Limit, windows int, from []int) []int {
	t.Helper()
	const step = 10 * time.Millisecond
	perStep := int(lim.Rate*3) * int(step) / int(time.Second)
	stepsPerWindow := int(time.Second / step)
	admitted := make([]int, windows)
	reqs := []Request{{Key: "consumer-1", Limit: lim}}
	n := 0
	for w := range windows {
		for s := range stepsPerWindow {
			for range perStep {
				nd := cl.nodes[from[n%len(from)]]
				n++
				d, err := nd.lim.Allow(context.Background(), reqs)
				if err != nil {
					t.Fatalf("Allow: %v", err)
				}
				if d.Allowed {
					admitted[w]++
				}
			}
			cl.clk.Advance(step)
			if s%5 == 4 {
				cl.flush()
			}
		}
	}
	return admitted
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func checkAccuracy(t *testing.T, admitted []int, lim Limit, tolerance float64) {
	t.Helper()
	want := float64(lim.Rate)*float64(len(admitted)) + float64(lim.Burst)
	got := float64(sum(admitted))
	t.Logf("admitted per window %v, total %v, want %v", admitted, got, want)
	if math.Abs(got-want) > tolerance*want {
		t.Errorf("admitted %v over %d windows, want %v ±%.0f%% (per window %v)", got, len(admitted), want, tolerance*100, admitted)
	}
	for i, a := range admitted {
		if a > 2*int(lim.Rate) {
			t.Errorf("window %d admitted %d, over 2x the limit %d", i, a, lim.Rate)
		}
	}
}

func TestGlobalStrictAccuracy(t *testing.T) {
	cl := newCluster(t, 3)
	lim := Limit{Name: "api", Rate: 100, Burst: 10, Scope: ScopeGlobal, Mode: ModeStrict}
	admitted := simulate(t, cl, lim, 5, []int{0, 1, 2})
	checkAccuracy(t, admitted, lim, 0.01)
	for i, nd := range cl.nodes {
		if f := counterValue(t, nd.reg, "portico_limiter_fallback_total"); f != 0 {
			t.Errorf("node %d fell back %v times", i, f)
		}
	}
}

func TestGlobalAsyncAccuracy(t *testing.T) {
	cl := newCluster(t, 3)
	lim := Limit{Name: "api", Rate: 100, Burst: 10, Scope: ScopeGlobal}
	admitted := simulate(t, cl, lim, 5, []int{0, 1, 2})
	checkAccuracy(t, admitted, lim, 0.10)
}

// TestStrictBatching sends concurrent strict decisions: they share peer
// requests, and exactly the burst is admitted.
func TestStrictBatching(t *testing.T) {
	cl := newCluster(t, 2, func(c *Config) { c.BatchWindow = 20 * time.Millisecond })
	lim := Limit{Name: "api", Rate: 1, Period: time.Hour, Burst: 50, Scope: ScopeGlobal, Mode: ModeStrict}
	// Find a key node 0 owns, and ask from node 1.
	key := ""
	for i := 0; key == ""; i++ {
		if _, self := cl.ring.view(0).Owner(ownerKey("api", fmt.Sprint(i))); self {
			key = fmt.Sprint(i)
		}
	}
	const n = 200
	results := make(chan bool, n)
	for range n {
		go func() {
			d, err := cl.nodes[1].lim.Allow(context.Background(), []Request{{Key: key, Limit: lim}})
			results <- err == nil && d.Allowed && !d.Fallback
		}()
	}
	ok := 0
	for range n {
		if <-results {
			ok++
		}
	}
	if ok != 50 {
		t.Errorf("admitted %d of %d concurrent strict requests, want the burst 50", ok, n)
	}
	batches := histogramCount(t, cl.nodes[1].reg, "portico_limiter_peer_batch_size")
	if batches >= n {
		t.Errorf("%v peer requests for %d decisions, want fewer (batched)", batches, n)
	}
}

// TestOwnerDown kills the owner mid-test: decisions go on with the
// fallback limit and the overshoot stays bounded.
func TestOwnerDown(t *testing.T) {
	for _, mode := range []string{ModeStrict, ModeAsync} {
		t.Run(mode, func(t *testing.T) {
			cl := newCluster(t, 3, func(c *Config) { c.DecisionTimeout = time.Second })
			lim := Limit{Name: "api", Rate: 90, Burst: 9, Scope: ScopeGlobal, Mode: mode}
			o, _ := cl.ring.owners(ownerKey("api", "consumer-1"))
			var others []int
			for i := range 3 {
				if i != o {
					others = append(others, i)
				}
			}
			before := simulate(t, cl, lim, 2, others)
			cl.nodes[o].srv.CloseClientConnections()
			cl.stop(o)
			after := simulate(t, cl, lim, 3, others)
			fallbacks := 0.0
			for _, i := range others {
				fallbacks += counterValue(t, cl.nodes[i].reg, "portico_limiter_fallback_total")
			}
			if fallbacks == 0 {
				t.Error("no fallback decisions with the owner down")
			}
			for i, a := range append(before, after...) {
				if a > 2*int(lim.Rate) {
					t.Errorf("window %d admitted %d, over 2x the limit", i, a)
				}
			}
			// Two of three nodes at rate/3 each: about 2/3 of the rate.
			if a := after[len(after)-1]; a == 0 || a > int(lim.Rate) {
				t.Errorf("last window with the owner down admitted %d, want (0, %d]", a, lim.Rate)
			}
		})
	}
}

// TestOwnerTimeout: an owner that does not answer within
// DecisionTimeout is a fallback, and Allow returns.
func TestOwnerTimeout(t *testing.T) {
	cl := newCluster(t, 2, func(c *Config) { c.DecisionTimeout = 50 * time.Millisecond })
	stuck := make(chan struct{})
	cl.nodes[0].h.mu.Lock()
	cl.nodes[0].h.h = stuckHandler(stuck)
	cl.nodes[0].h.mu.Unlock()
	defer close(stuck)
	lim := Limit{Name: "api", Rate: 10, Scope: ScopeGlobal, Mode: ModeStrict}
	key := ""
	for i := 0; key == ""; i++ {
		if o, _ := cl.ring.owners(ownerKey("api", fmt.Sprint(i))); o == 0 {
			key = fmt.Sprint(i)
		}
	}
	d, err := cl.nodes[1].lim.Allow(context.Background(), []Request{{Key: key, Limit: lim}})
	if err != nil || !d.Allowed || !d.Fallback {
		t.Errorf("with a silent owner: %+v %v, want an allowed fallback", d, err)
	}
}
