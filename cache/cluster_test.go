package cache

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestCoalescing sends 300 concurrent requests for one cold key, spread
// over three nodes, and holds the origin's answer until every request has
// reached a node: exactly one reaches the origin. The client's
// connections are opened first: with none open, each of the concurrent
// requests dials and handshakes TLS on its own (about 1,400 handshakes
// for 1,000 requests), which under -race on two busy cores took longer
// than the wait, while coalescing itself never stalled. 300 requests
// (100 per node, within one HTTP/2 connection's 250 streams) still have
// every node coalesce both as asker and as owner.
func TestCoalescing(t *testing.T) {
	const clients = 300
	release := make(chan struct{})
	var cl *cluster
	cl = newCluster(t, 3, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cold" {
			<-release
		}
		answer(cl.clk, 200, "max-age=60", "shared")(w, r)
	}, func(c *Config) { c.PeerTimeout = time.Minute })
	open := releaseOnCleanup(t, release)
	for i := range cl.nodes {
		cl.get(i, "/warm") // one connection to each node
	}
	warm := cl.hits()
	for _, nd := range cl.nodes {
		nd.entered.Store(0)
	}
	var wg sync.WaitGroup
	bodies := make(chan string, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies <- cl.get(i%3, "/cold").body
		}()
	}
	waitFor(t, 30*time.Second, "every request to reach a node", func() bool {
		n := int64(0)
		for _, nd := range cl.nodes {
			n += nd.entered.Load()
		}
		return n == clients
	})
	open()
	wg.Wait()
	close(bodies)
	for b := range bodies {
		if b != "shared" {
			t.Fatalf("a client got %q, want shared", b)
		}
	}
	cl.wantHits(warm + 1)
}

func TestCrossNodeHit(t *testing.T) {
	cl := newCluster(t, 3, Policy{}, nil)
	r := cl.get(1, "/x")
	if got, want := r.cacheStatus(), "Portico; fwd=miss; stored; node=node-0"; got != want || r.body != "hello" {
		t.Fatalf("first on node 1: %q %q, want %q", r.body, got, want)
	}
	cl.clk.Advance(3 * time.Second)
	r = cl.get(2, "/x")
	if got, want := r.cacheStatus(), "Portico; hit; node=node-0"; got != want || r.body != "hello" {
		t.Errorf("node 2 = %q %q, want %q", r.body, got, want)
	}
	if r.header.Get("Age") != "3" {
		t.Errorf("node 2 Age = %q, want 3 (the owner's)", r.header.Get("Age"))
	}
	cl.settle()
	r = cl.get(1, "/x")
	if got, want := r.cacheStatus(), "Portico; hit; node=node-0; detail=near"; got != want {
		t.Errorf("node 1 again = %q, want %q", got, want)
	}
	fills := counterValue(cl.nodes[0].cache.metrics.peerFills)
	cl.clk.Advance(DefaultNearTTL) // near copies expire; the owner's entry does not
	if r = cl.get(1, "/x"); r.cacheStatus() != "Portico; hit; node=node-0" {
		t.Errorf("node 1 after NearTTL = %q, want the owner's hit", r.cacheStatus())
	}
	if got := counterValue(cl.nodes[0].cache.metrics.peerFills); got != fills+1 {
		t.Errorf("owner fills = %v, want %v", got, fills+1)
	}
	cl.wantHits(1)
}

func TestOwnerDown(t *testing.T) {
	cl := newCluster(t, 3, Policy{}, nil)
	cl.nodes[0].peer.Close()
	for i := 1; i <= 2; i++ {
		r := cl.get(i, "/down")
		if r.status != 200 || r.body != "hello" {
			t.Fatalf("node %d with its owner down: %d %q", i, r.status, r.body)
		}
		if want := "Portico; fwd=miss; stored; node=node-" + string(rune('0'+i)); r.cacheStatus() != want {
			t.Errorf("node %d Cache-Status = %q, want %q", i, r.cacheStatus(), want)
		}
	}
	cl.settle()
	// Each kept a near copy.
	cl.get(1, "/down")
	cl.wantHits(2)
	if got := counterValue(cl.nodes[1].cache.metrics.peerErrors); got != 1 {
		t.Errorf("node 1 peer errors = %v, want 1", got)
	}
}

func TestOwnerSlow(t *testing.T) {
	cl := newCluster(t, 2, Policy{}, nil, func(c *Config) { c.PeerTimeout = 50 * time.Millisecond })
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	cl.nodes[0].peer.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stuck:
		}
	})
	r := cl.get(1, "/slow")
	if r.status != 200 || r.body != "hello" {
		t.Fatalf("with a silent owner: %d %q", r.status, r.body)
	}
	cl.wantHits(1)
}

func TestOwnerErrors(t *testing.T) {
	cl := newCluster(t, 2, Policy{}, nil)
	cl.nodes[0].peer.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	})
	if r := cl.get(1, "/err"); r.status != 200 || r.body != "hello" {
		t.Fatalf("with an erroring owner: %d %q", r.status, r.body)
	}
}

// TestNoForwardLoop: while rings disagree (each node thinks the other owns
// the key) a request is forwarded once and filled by the node it reached.
func TestNoForwardLoop(t *testing.T) {
	cl := newCluster(t, 2, Policy{}, nil)
	cl.setOwner(func(self int, _ string) int { return 1 - self })
	r := cl.get(0, "/loop")
	if r.status != 200 || r.cacheStatus() != "Portico; fwd=miss; stored; node=node-1" {
		t.Fatalf("answer %d %q", r.status, r.cacheStatus())
	}
	cl.wantHits(1)
}

// TestRingsDisagreeConcurrently: each node thinks the other owns the key
// and both ask at once; neither waits on the other's request to it.
func TestRingsDisagreeConcurrently(t *testing.T) {
	release := make(chan struct{})
	var cl *cluster
	cl = newCluster(t, 2, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		<-release
		answer(cl.clk, 200, "max-age=60", "hello")(w, r)
	}, func(c *Config) { c.PeerTimeout = time.Minute })
	open := releaseOnCleanup(t, release)
	cl.setOwner(func(self int, _ string) int { return 1 - self })
	bodies := make(chan string, 2)
	for i := range 2 {
		go func() { bodies <- cl.get(i, "/both").body }()
	}
	waitFor(t, 10*time.Second, "both fills at the origin", func() bool { return cl.hits() == 2 })
	open()
	for range 2 {
		if b := <-bodies; b != "hello" {
			t.Errorf("body %q", b)
		}
	}
}

func TestUncacheableFromOwnerStreams(t *testing.T) {
	cl := newCluster(t, 2, Policy{}, nil)
	cl.origin.set(answer(cl.clk, 200, "private", "mine", "Surrogate-Key", "t"))
	for range 2 {
		r := cl.get(1, "/priv")
		if r.body != "mine" || r.cacheStatus() != "Portico; fwd=miss; detail=private; node=node-0" {
			t.Errorf("answer %q %q", r.body, r.cacheStatus())
		}
		if r.header.Get("Surrogate-Key") != "" {
			t.Errorf("tag header reached the client")
		}
	}
	cl.wantHits(2)
}

func TestPurge(t *testing.T) {
	cl := newCluster(t, 3, Policy{}, nil)
	cl.origin.set(func(w http.ResponseWriter, r *http.Request) {
		tags := map[string]string{"/t/1": "red blue", "/t/2": "blue", "/p/1": "", "/p/2": "", "/k": ""}[r.URL.Path]
		answer(cl.clk, 200, "max-age=600", r.URL.Path, "Surrogate-Key", tags)(w, r)
	})
	paths := []string{"/t/1", "/t/2", "/p/1", "/p/2", "/k"}
	fill := func() {
		for _, p := range paths {
			for i := range 3 {
				cl.get(i, p) // the owner's entry, and near copies on nodes 1 and 2
			}
		}
		cl.settle()
	}
	fill()
	cl.wantHits(int64(len(paths)))
	peers := []string{cl.nodes[0].peerAddr(), cl.nodes[2].peerAddr()}
	tests := []struct {
		sel     Selector
		removed []string // paths whose entries go
		perNode int      // entries each node removes
	}{
		{Selector{Tag: "blue"}, []string{"/t/1", "/t/2"}, 2},
		{Selector{Tag: "red"}, []string{"/t/1"}, 1},
		{Selector{Prefix: "https://example.com/p/"}, []string{"/p/1", "/p/2"}, 2},
		{Selector{Key: key(Policy{}, "/k")}, []string{"/k"}, 1},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.removed, ","), func(t *testing.T) {
			rep := cl.nodes[1].cache.PurgeCluster(context.Background(), tt.sel, peers)
			if len(rep.Failed) != 0 || rep.Removed != tt.perNode || rep.Acked[peers[0]] != tt.perNode || rep.Acked[peers[1]] != tt.perNode {
				t.Fatalf("report %+v, want %d removed everywhere", rep, tt.perNode)
			}
			cl.settle()
			before := cl.hits()
			for _, p := range paths {
				for i := range 3 {
					cl.get(i, p)
				}
			}
			if got, want := cl.hits()-before, int64(len(tt.removed)); got != want {
				t.Errorf("origin requests after the purge = %d, want %d", got, want)
			}
			cl.settle()
		})
	}
	t.Run("dead peer", func(t *testing.T) {
		cl.nodes[2].peer.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rep := cl.nodes[1].cache.PurgeCluster(ctx, Selector{Prefix: "https://example.com/"}, peers)
		if _, ok := rep.Acked[peers[0]]; !ok || rep.Failed[peers[1]] == nil || len(rep.Acked) != 1 {
			t.Errorf("report %+v, want %s acked and %s failed", rep, peers[0], peers[1])
		}
		if rep.Removed != len(paths) {
			t.Errorf("removed here = %d, want %d", rep.Removed, len(paths))
		}
	})
	if err := (Selector{Key: "a", Tag: "b"}).Validate(); err == nil {
		t.Error("a selector with two fields is valid")
	}
}

// TestPurgeDuringFill: a fill that started before a purge is served but
// not stored.
func TestPurgeDuringFill(t *testing.T) {
	release := make(chan struct{})
	var cl *cluster
	cl = newCluster(t, 1, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		if cl.hits() == 1 {
			<-release
		}
		answer(cl.clk, 200, "max-age=60", "old")(w, r)
	})
	open := releaseOnCleanup(t, release)
	done := make(chan response, 1)
	go func() { done <- cl.get(0, "/pf") }()
	waitFor(t, 5*time.Second, "the fill to reach the origin", func() bool { return cl.hits() == 1 })
	cl.nodes[0].cache.Purge(Selector{Prefix: "https://example.com/pf"})
	open()
	if r := <-done; r.body != "old" || strings.Contains(r.cacheStatus(), "stored") {
		t.Errorf("fill across a purge: %q %q, want old, not stored", r.body, r.cacheStatus())
	}
	cl.settle()
	cl.get(0, "/pf")
	cl.wantHits(2)
}

// counterValue reads a counter.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
