package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testLogger discards logs unless STORE_TEST_LOG is set (to a slog level
// such as "debug" or "warn"), which sends them to stderr.
func testLogger() *slog.Logger {
	lvl := os.Getenv("STORE_TEST_LOG")
	if lvl == "" {
		return slog.New(slog.DiscardHandler)
	}
	var l slog.Level
	_ = l.UnmarshalText([]byte(lvl))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// fastRaft shrinks Raft's timings the way Consul's tests do.
func fastRaft(c *raft.Config) {
	c.HeartbeatTimeout = 200 * time.Millisecond
	c.ElectionTimeout = 200 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
}

// newTCPTransport is a real raft TCP transport on a free loopback port,
// created before its Store so every address is known up front.
func newTCPTransport(t testing.TB) *raft.NetworkTransport {
	t.Helper()
	tr, err := raft.NewTCPTransport("127.0.0.1:0", nil, 3, 10*time.Second, io.Discard)
	if err != nil {
		t.Fatalf("NewTCPTransport: %v", err)
	}
	return tr
}

// onTCP hands the store a plain TCP listener on addr and a plain dialer
// (the store's own stream transport; cluster passes mutual TLS ones).
func onTCP(t testing.TB, addr string) func(*Config) {
	return func(c *Config) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen for raft on %s: %v", addr, err)
		}
		c.Listener = ln
		c.Dial = func(a string, timeout time.Duration) (net.Conn, error) { return net.DialTimeout("tcp", a, timeout) }
	}
}

// testConfig is a fast in-memory config for server id; opts adjust it.
func testConfig(id string, opts ...func(*Config)) Config {
	c := Config{
		ID:              id,
		InMemory:        true,
		BootstrapExpect: 3,
		ProposeTimeout:  2 * time.Second,
		Tune:            fastRaft,
		Logger:          testLogger(),
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// openStore opens cfg and shuts it down at cleanup.
func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.ID, err)
	}
	t.Cleanup(func() { shutdown(t, s) })
	return s
}

func shutdown(t testing.TB, s *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown(%s): %v", s.cfg.ID, err)
	}
}

// waitFor polls cond every 10ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}

// testCluster is a set of Stores that reconcile with the same view.
type testCluster struct {
	t     testing.TB
	nodes map[string]*Store // running nodes by ID
	all   []Server          // every server ever started
}

// startTCPCluster opens one store per id on real TCP transports and feeds
// each the full server list.
func startTCPCluster(t testing.TB, ids []string, opts ...func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, nodes: map[string]*Store{}}
	trans := make(map[string]*raft.NetworkTransport, len(ids))
	for _, id := range ids {
		trans[id] = newTCPTransport(t)
		c.all = append(c.all, Server{ID: id, Addr: string(trans[id].LocalAddr())})
	}
	for _, id := range ids {
		tr := trans[id]
		cfg := testConfig(id, append([]func(*Config){func(c *Config) { c.Transport = tr }}, opts...)...)
		c.nodes[id] = openStore(t, cfg)
		c.nodes[id].Reconcile(c.all, nil)
	}
	return c
}

// reconcileAll feeds every running node the running servers as live and
// the others as gone.
func (c *testCluster) reconcileAll(gone map[string]Departure) {
	var live []Server
	for _, srv := range c.all {
		if _, ok := c.nodes[srv.ID]; ok {
			live = append(live, srv)
		}
	}
	for _, s := range c.nodes {
		s.Reconcile(live, gone)
	}
}

// leader waits until exactly one running node leads and every running
// node names it, and returns it.
func (c *testCluster) leader(timeout time.Duration) *Store {
	c.t.Helper()
	var l *Store
	waitFor(c.t, timeout, "one leader every node agrees on", func() bool {
		l = nil
		for _, s := range c.nodes {
			if s.IsLeader() {
				if l != nil {
					return false
				}
				l = s
			}
		}
		if l == nil {
			return false
		}
		for _, s := range c.nodes {
			if id, _ := s.Leader(); id != l.cfg.ID {
				return false
			}
		}
		return true
	})
	return l
}

// follower returns a running node other than l.
func (c *testCluster) follower(l *Store) *Store {
	for _, s := range c.nodes {
		if s != l {
			return s
		}
	}
	c.t.Fatal("no follower")
	return nil
}

// stop shuts a node down and forgets it.
func (c *testCluster) stop(id string) {
	c.t.Helper()
	shutdown(c.t, c.nodes[id])
	delete(c.nodes, id)
}

// waitVersion waits until every running node has applied version v.
func (c *testCluster) waitVersion(v int64) {
	c.t.Helper()
	waitFor(c.t, 10*time.Second, fmt.Sprintf("version %d on every node", v), func() bool {
		for _, s := range c.nodes {
			if s.Current().Version != v {
				return false
			}
		}
		return true
	})
}

// propose writes data unconditionally on s and fails the test on error.
func propose(t testing.TB, s *Store, data string) Document {
	t.Helper()
	doc, err := s.Propose(context.Background(), []byte(data), 0)
	if err != nil {
		t.Fatalf("Propose(%q) on %s: %v", data, s.cfg.ID, err)
	}
	return doc
}

// appliedLog records the documents a node's OnApply saw.
type appliedLog struct {
	mu   sync.Mutex
	docs []Document
}

func (a *appliedLog) onApply(d Document) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.docs = append(a.docs, d)
}

func (a *appliedLog) versions() []int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	v := make([]int64, len(a.docs))
	for i, d := range a.docs {
		v[i] = d.Version
	}
	return v
}
