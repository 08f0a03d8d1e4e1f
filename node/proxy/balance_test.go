package proxy

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/portico-gw/portico/node/config"
)

// TestBalancingDistribution sends requests one at a time through a real
// gateway to three real targets and counts where they land.
func TestBalancingDistribution(t *testing.T) {
	tests := []struct {
		name    string
		balance string
		weights []int
		n       int
		want    []int     // exact counts, or
		share   []float64 // approximate shares (random), ±0.05
		seq     string    // the first picks, when the order matters
	}{
		{name: "round_robin", balance: "round_robin", n: 300, want: []int{100, 100, 100}, seq: "abcabc"},
		{name: "round_robin ignores weights but drains 0", balance: "round_robin", weights: []int{5, 1, 0}, n: 100, want: []int{50, 50, 0}, seq: "abab"},
		{name: "least_conn sequential ties go round robin", balance: "least_conn", n: 300, want: []int{100, 100, 100}},
		{name: "weighted is smooth", balance: "weighted", weights: []int{5, 1, 1}, n: 70, want: []int{50, 10, 10}, seq: "aabacaa"},
		{name: "weighted drains 0", balance: "weighted", weights: []int{2, 0, 1}, n: 30, want: []int{20, 0, 10}},
		{name: "random by weight", balance: "random", weights: []int{2, 1, 1}, n: 2000, share: []float64{0.5, 0.25, 0.25}},
		{name: "hash with no key falls back to round robin", balance: "hash", n: 30, want: []int{10, 10, 10}, seq: "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs := []*backend{newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)}
			cfg := upstreamConfig(bs[0].url(), bs[1].url(), bs[2].url())
			cfg.Balance, cfg.HashOn = tt.balance, "header:X-User"
			for i, w := range tt.weights {
				cfg.Targets[i].Weight = weight(w)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			var mu sync.Mutex
			up := newTestUpstream(t, cfg, Options{Rand: func() uint64 { mu.Lock(); defer mu.Unlock(); return rng.Uint64() }})
			g := newGateway(t, route("pool"), up, HandlerOptions{})
			var seq strings.Builder
			for range tt.n {
				code, name, _ := g.do(t, "GET", "/", nil)
				if code != http.StatusOK {
					t.Fatalf("status = %d, want 200", code)
				}
				seq.WriteString(name)
			}
			if !strings.HasPrefix(seq.String(), tt.seq) {
				t.Errorf("picks start %q, want %q", seq.String()[:min(seq.Len(), 12)], tt.seq)
			}
			for i, b := range bs {
				got := int(b.hits.Load())
				if tt.want != nil && got != tt.want[i] {
					t.Errorf("%s got %d requests, want %d (%s)", b.name, got, tt.want[i], hitsOf(bs...))
				}
				if tt.share != nil {
					share := float64(got) / float64(tt.n)
					if share < tt.share[i]-0.05 || share > tt.share[i]+0.05 {
						t.Errorf("%s got share %.3f, want %.2f±0.05 (%s)", b.name, share, tt.share[i], hitsOf(bs...))
					}
				}
			}
		})
	}
}

// testUpstream builds an upstream on n placeholder targets for pick tests
// (nothing is dialed).
func testUpstream(t *testing.T, n int, mutate func(*config.Upstream)) *Upstream {
	t.Helper()
	var urls []string
	for i := range n {
		urls = append(urls, fmt.Sprintf("http://10.0.0.%d:80", i+1))
	}
	cfg := upstreamConfig(urls...)
	if mutate != nil {
		mutate(&cfg)
	}
	return newTestUpstream(t, cfg, Options{})
}

func pickIndex(t *testing.T, u *Upstream, r *http.Request, tried *targetSet) int {
	t.Helper()
	if tried == nil {
		tried = &targetSet{}
	}
	tg, _, err := u.pick(r, tried, u.opts.Now())
	if err != nil {
		return -1
	}
	return tg.index
}

func TestRoundRobin_SkipsUnavailableSmoothly(t *testing.T) {
	u := testUpstream(t, 4, nil)
	u.targets[1].healthy.Store(false) // active health says down
	r := httptest.NewRequest("GET", "/", nil)
	counts := make([]int, 4)
	prev := -1
	for range 300 {
		i := pickIndex(t, u, r, nil)
		if i == prev {
			t.Fatalf("target %d picked twice in a row", i)
		}
		counts[i]++
		prev = i
	}
	if want := []int{100, 0, 100, 100}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("counts = %v, want %v: the skipped share must spread evenly", counts, want)
	}
}

func TestLeastConn_PicksFewestInFlight(t *testing.T) {
	u := testUpstream(t, 3, func(c *config.Upstream) {
		c.Balance = "least_conn"
		c.Targets[2].Weight = weight(2)
	})
	r := httptest.NewRequest("GET", "/", nil)
	tests := []struct {
		name     string
		inflight [3]int64
		want     int
	}{
		{"fewest", [3]int64{3, 1, 5}, 1},
		{"per unit of weight", [3]int64{2, 2, 3}, 2}, // 3/2 < 2/1
		{"idle beats busy", [3]int64{0, 1, 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, n := range tt.inflight {
				u.targets[i].inflight.Store(n)
			}
			for range 5 {
				if got := pickIndex(t, u, r, nil); got != tt.want {
					t.Fatalf("picked %d, want %d", got, tt.want)
				}
			}
		})
	}
}

func TestNoHealthyTarget(t *testing.T) {
	tests := []struct {
		name  string
		setup func(u *Upstream)
	}{
		{"all unhealthy", func(u *Upstream) {
			for _, tg := range u.targets {
				tg.healthy.Store(false)
			}
		}},
		{"all ejected", func(u *Upstream) {
			for _, tg := range u.targets {
				tg.ejectedUntil.Store(u.opts.Now().Add(1e12).UnixNano())
			}
		}},
		{"all drained", func(u *Upstream) {
			for _, tg := range u.targets {
				tg.weight = 0
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t, "a", nil)
			up := newTestUpstream(t, upstreamConfig(b.url(), b.url()), Options{})
			tt.setup(up)
			g := newGateway(t, route("pool"), up, HandlerOptions{})
			code, _, _ := g.do(t, "GET", "/", nil)
			if code != http.StatusServiceUnavailable {
				t.Errorf("status = %d, want 503", code)
			}
			if err := g.errs.last(); !isNoHealthy(err) {
				t.Errorf("error = %v, want ErrNoHealthyTarget", err)
			}
			if n := b.hits.Load(); n != 0 {
				t.Errorf("backend hits = %d, want 0", n)
			}
		})
	}
}
