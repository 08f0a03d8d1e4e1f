package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOwnerFillsWithAskersFill: a peer's fill reaches the owner's route
// handler straight from PeerHandler (not its client pipeline), is keyed
// with the consumer the asker sent (the owner's Key.Consumer reads node
// state the fill does not carry) and fetches through next.ServeFill with
// the asker's Fill.
func TestOwnerFillsWithAskersFill(t *testing.T) {
	pol := Policy{Route: "r", Key: KeySpec{Consumer: userConsumer}}
	cl := newCluster(t, 3, pol, nil)
	cl.setFront(withUser)
	owner := cl.nodes[0]

	r := cl.get(1, "/a", "X-Test-User", "alice")
	if r.status != 200 || r.body != "hello" || r.cacheStatus() != "Portico; fwd=miss; stored; node=node-0" {
		t.Fatalf("first on node 1: %d %q %q", r.status, r.body, r.cacheStatus())
	}
	fills, clientCtx := owner.chain.filled()
	if want := (Fill{Route: "r", Version: 1, Consumer: "alice"}); len(fills) != 1 || fills[0] != want {
		t.Fatalf("owner's ServeFill got %+v, want [%+v]", fills, want)
	}
	if clientCtx != 0 {
		t.Errorf("%d fill requests carried a client's context", clientCtx)
	}
	if n := owner.chain.served.Load(); n != 0 {
		t.Errorf("owner's ServeHTTP ran %d times for a peer's fill, want 0", n)
	}
	if n := owner.entered.Load(); n != 0 {
		t.Errorf("a peer's fill went through the owner's client pipeline (%d requests)", n)
	}
	asker := cl.nodes[1].chain
	if f, _ := asker.filled(); asker.served.Load() != 0 || len(f) != 0 {
		t.Errorf("the asker fetched itself (ServeHTTP %d, ServeFill %v)", asker.served.Load(), f)
	}

	cl.settle()
	req := httptest.NewRequest(http.MethodGet, "https://example.com/a", nil)
	k := KeyOf(req.WithContext(context.WithValue(req.Context(), ctxUser{}, "alice")), pol)
	if !strings.HasSuffix(k, " u:alice") || owner.cache.owner.get(k) == nil {
		t.Fatalf("the owner holds no entry under the asker's key %q", k)
	}
	for _, i := range []int{2, 0} {
		if r := cl.get(i, "/a", "X-Test-User", "alice"); r.cacheStatus() != "Portico; hit; node=node-0" {
			t.Errorf("alice on node %d: %q, want the owner's hit", i, r.cacheStatus())
		}
	}
	cl.wantHits(1)
	if r := cl.get(2, "/a", "X-Test-User", "bob"); r.cacheStatus() != "Portico; fwd=miss; stored; node=node-0" {
		t.Errorf("bob on node 2: %q, want a miss of his own", r.cacheStatus())
	}
	cl.wantHits(2)
	if fills, _ := owner.chain.filled(); len(fills) != 2 || fills[1].Consumer != "bob" {
		t.Errorf("owner's fills %+v, want a second one for bob", fills)
	}
}

// TestOwnerCantFillUnderAskersConfig: an owner that does not serve the
// asker's route under the asker's config version refuses the fill; the
// asker fills the request itself, keeps a near copy and counts a version
// mismatch, not a peer error.
func TestOwnerCantFillUnderAskersConfig(t *testing.T) {
	pol := Policy{Route: "r"}
	tests := []struct {
		name  string
		owner func(t *testing.T, n *node)
	}{
		{"other version", func(t *testing.T, n *node) { n.publish(t, 2, pol) }},
		{"unknown route", func(t *testing.T, n *node) { n.publish(t, 1, Policy{Route: "other"}) }},
		{"none published", func(t *testing.T, n *node) { n.cache.Publish(nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := newCluster(t, 2, pol, nil)
			tt.owner(t, cl.nodes[0])
			r := cl.get(1, "/m")
			if r.status != 200 || r.body != "hello" || r.cacheStatus() != "Portico; fwd=miss; stored; node=node-1" {
				t.Fatalf("answer %d %q %q, want node 1's own fill", r.status, r.body, r.cacheStatus())
			}
			asker, owner := cl.nodes[1], cl.nodes[0]
			if got := counterValue(asker.cache.metrics.peerMismatches); got != 1 {
				t.Errorf("version mismatches = %v, want 1", got)
			}
			if got := counterValue(asker.cache.metrics.peerErrors); got != 0 {
				t.Errorf("peer errors = %v, want 0", got)
			}
			if got := counterValue(owner.cache.metrics.peerFills); got != 0 {
				t.Errorf("owner's fills = %v, want 0", got)
			}
			if f, _ := owner.chain.filled(); len(f) != 0 || owner.chain.served.Load() != 0 {
				t.Errorf("the owner fetched: ServeFill %v, ServeHTTP %d", f, owner.chain.served.Load())
			}
			if n := asker.chain.served.Load(); n != 1 {
				t.Errorf("asker's ServeHTTP ran %d times, want 1", n)
			}
			cl.settle()
			if r := cl.get(1, "/m"); r.cacheStatus() != "Portico; hit; node=node-1" {
				t.Errorf("again on node 1: %q, want a hit of its own copy", r.cacheStatus())
			}
			if got := counterValue(asker.cache.metrics.requests[outcomeNearHit]); got != 1 {
				t.Errorf("near hits on node 1 = %v, want 1 (its copy is a near copy)", got)
			}
			cl.wantHits(1)
		})
	}
}

// TestRefreshServesFill: a stale-while-revalidate refresh runs the
// route's handler directly and fetches through next.ServeFill with the
// stale request's route, version and consumer, on a request that shares
// nothing with the client's: on the node a client asked, and on the owner
// answering a peer's fill.
func TestRefreshServesFill(t *testing.T) {
	tests := []struct {
		name  string
		nodes int
		at    int      // the node clients ask
		fills []string // the owner's ServeFill consumers, in order
	}{
		{"client's request", 1, 0, []string{"alice"}},
		{"peer's fill", 2, 1, []string{"alice", "alice"}}, // the fill, then the refresh
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := Policy{Route: "r", StaleWhileRevalidate: time.Minute, Key: KeySpec{Consumer: userConsumer}}
			var mu sync.Mutex
			version := 0
			var cl *cluster
			cl = newCluster(t, tt.nodes, pol, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				version++
				v := version
				mu.Unlock()
				answer(cl.clk, 200, "max-age=10", fmt.Sprintf("v%d", v))(w, r)
			})
			cl.setFront(withUser)
			owner := cl.nodes[0]
			cl.get(tt.at, "/s", "X-Test-User", "alice")
			cl.clk.Advance(20 * time.Second)
			r := cl.get(tt.at, "/s", "X-Test-User", "alice")
			if r.body != "v1" || !strings.Contains(r.cacheStatus(), "hit; stale; detail=stale-while-revalidate") {
				t.Fatalf("stale answer %q %q", r.body, r.cacheStatus())
			}
			waitFor(t, 5*time.Second, "the refresh to reach ServeFill", func() bool {
				f, _ := owner.chain.filled()
				return len(f) == len(tt.fills)
			})
			fills, clientCtx := owner.chain.filled()
			for i, c := range tt.fills {
				if want := (Fill{Route: "r", Version: 1, Consumer: c}); fills[i] != want {
					t.Errorf("ServeFill %d got %+v, want %+v", i, fills[i], want)
				}
			}
			if clientCtx != 0 {
				t.Errorf("%d fill requests carried a client's context", clientCtx)
			}
			if got, want := owner.chain.served.Load(), int64(tt.nodes%2); got != want {
				t.Errorf("owner's ServeHTTP ran %d times, want %d (the first client's miss only)", got, want)
			}
			waitFor(t, 5*time.Second, "the refreshed entry", func() bool {
				cl.settle()
				return cl.get(tt.at, "/s", "X-Test-User", "alice").body == "v2"
			})
			cl.wantHits(2)
		})
	}
}

// TestOnlyIfCachedProblem: the 504 to only-if-cached on a miss is a
// not-cached problem, with its Cache-Status, on the owner and through a
// peer.
func TestOnlyIfCachedProblem(t *testing.T) {
	for _, tt := range []struct {
		nodes, at int
		status    string
	}{
		{1, 0, "Portico; fwd=miss; detail=only-if-cached; node=node-0"},
		{2, 1, "Portico; fwd=miss; detail=only-if-cached; node=node-0"}, // the owner's answer
	} {
		t.Run(fmt.Sprintf("%d nodes", tt.nodes), func(t *testing.T) {
			cl := newCluster(t, tt.nodes, Policy{}, nil)
			r := cl.get(tt.at, "/o", "Cache-Control", "only-if-cached")
			if r.status != http.StatusGatewayTimeout || r.cacheStatus() != tt.status {
				t.Fatalf("answer %d %q, want 504 %q", r.status, r.cacheStatus(), tt.status)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			var p struct {
				Type   string `json:"type"`
				Status int    `json:"status"`
			}
			if err := json.Unmarshal([]byte(r.body), &p); err != nil {
				t.Fatalf("body %q: %v", r.body, err)
			}
			if !strings.HasSuffix(p.Type, "#not-cached") || p.Status != http.StatusGatewayTimeout {
				t.Errorf("problem %+v, want type …#not-cached, status 504", p)
			}
			cl.wantHits(0)
		})
	}
}
