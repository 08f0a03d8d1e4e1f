package membership

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"
)

func TestJoin_ThreeNodesThroughDifferentSeeds(t *testing.T) {
	a := startNode(t, "a")
	b := startNode(t, "b", seeds(a.GossipAddr()))
	c := startNode(t, "c", seeds(b.GossipAddr()))
	nodes := []*testNode{a, b, c}
	waitAllSee(t, nodes, "a", "b", "c")
	for _, n := range nodes {
		if !isClosed(n.Joined()) {
			t.Errorf("%s: Joined() still open after seeing the cluster", n.Local().Name)
		}
	}
	if got := c.logs.count("gossip: joined the cluster"); got != 1 {
		t.Errorf("c logged %d join lines, want 1", got)
	}
	if got, want := b.Local().Addr, b.GossipAddr(); got != want {
		t.Errorf("b.Local().Addr = %q, want GossipAddr %q", got, want)
	}
}

// TestJoin_MultiAddressSeed checks that a seed name resolving to several
// addresses counts as several seeds: b and c don't know each other, so c
// sees a only if a contacted both.
func TestJoin_MultiAddressSeed(t *testing.T) {
	tests := []struct {
		name     string
		startB   bool // whether 127.0.0.2 has a node
		wantSeen []string
	}{
		{name: "every address answers", startB: true, wantSeen: []string{"a", "b", "c"}},
		{name: "first address is down", startB: false, wantSeen: []string{"a", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := freePort(t, "127.0.0.2")
			if l, err := net.Listen("tcp", hostPort("127.0.0.3", port)); err != nil {
				t.Skipf("127.0.0.3 unusable: %v", err)
			} else {
				l.Close()
			}
			var nodes []*testNode
			if tt.startB {
				nodes = append(nodes, startNode(t, "b", bindTo(hostPort("127.0.0.2", port))))
			}
			nodes = append(nodes, startNode(t, "c", bindTo(hostPort("127.0.0.3", port))))
			var asked []string
			lookup := func(_ context.Context, host string) ([]string, error) {
				asked = append(asked, host) // only the join goroutine calls it
				if host != "seeds.test" {
					return nil, errors.New("no such host")
				}
				return []string{"127.0.0.2", "127.0.0.3"}, nil
			}
			a := startNode(t, "a", seeds(hostPort("seeds.test", port)), func(c *Config) { c.LookupHost = lookup })
			nodes = append(nodes, a)
			waitAllSee(t, nodes, tt.wantSeen...)
			// Joined closing orders the join goroutine's writes to asked before the read.
			waitFor(t, 5*time.Second, "a to join", func() bool { return isClosed(a.Joined()) })
			if !slices.Contains(asked, "seeds.test") {
				t.Errorf("LookupHost asked %q, want seeds.test", asked)
			}
		})
	}
}

func TestJoin_LocalhostSeed(t *testing.T) {
	ips, err := net.DefaultResolver.LookupHost(context.Background(), "localhost")
	if err != nil || !slices.Contains(ips, "127.0.0.1") {
		t.Skipf("localhost doesn't resolve to 127.0.0.1 here (%v, %v)", ips, err)
	}
	b := startNode(t, "b")
	_, port, _ := net.SplitHostPort(b.GossipAddr())
	a := startNode(t, "a", seeds("localhost:"+port))
	waitAllSee(t, []*testNode{a, b}, "a", "b")
}

func TestJoin_RetriedUntilSeedComesUp(t *testing.T) {
	port := freePort(t, "127.0.0.1")
	seed := hostPort("127.0.0.1", port)
	a := startNode(t, "a", seeds(seed))
	waitFor(t, 5*time.Second, "a to fail joining 3 times", func() bool {
		return a.logs.count("join attempt failed") >= 3
	})
	if isClosed(a.Joined()) {
		t.Fatal("Joined() closed while the seed is down")
	}
	b := startNode(t, "b", bindTo(seed))
	waitFor(t, 5*time.Second, "a to join", func() bool { return isClosed(a.Joined()) })
	waitAllSee(t, []*testNode{a, b}, "a", "b")
	if got := a.logs.count("the gossip key differs"); got != 0 {
		t.Errorf("a logged %d wrong-key lines for a seed that was down, want 0", got)
	}
}

// TestJoin_SelfSeed: a seed list naming only this node (the first node of a
// cluster with a shared seed list) counts as joined.
func TestJoin_SelfSeed(t *testing.T) {
	port := freePort(t, "127.0.0.1")
	self := hostPort("127.0.0.1", port)
	a := startNode(t, "a", bindTo(self), seeds(self))
	waitFor(t, 5*time.Second, "a to count as joined", func() bool { return isClosed(a.Joined()) })
	if got := a.logs.count("join attempt failed"); got != 0 {
		t.Errorf("a logged %d failed attempts at joining itself, want 0", got)
	}
}

func TestJoin_WrongKeyRefused(t *testing.T) {
	tests := []struct {
		name string
		keys [][]byte
	}{
		{name: "different key", keys: [][]byte{key2}},
		{name: "no key", keys: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startNode(t, "a")
			b := startNode(t, "b", seeds(a.GossipAddr()))
			waitAllSee(t, []*testNode{a, b}, "a", "b")
			c := startNode(t, "c", seeds(a.GossipAddr(), b.GossipAddr()), withKeys(tt.keys...))
			waitFor(t, 5*time.Second, "c to fail joining 3 times", func() bool {
				return c.logs.count("join attempt failed") >= 3*2
			})
			line := "gossip: cannot join " + a.GossipAddr() + ": the cluster refused our messages — the gossip key differs (check cluster.gossip_key)"
			if got := c.logs.count(line); got != 1 {
				t.Errorf("c logged %q %d times, want once; log:\n%s", line, got, c.logs.String())
			}
			if got := c.logs.count("the gossip key differs"); got != 1 {
				t.Errorf("c logged the wrong-key line %d times in all, want 1", got)
			}
			if isClosed(c.Joined()) {
				t.Error("c: Joined() closed, want open")
			}
			if !sees(c, "c") {
				t.Errorf("c sees %v, want only itself", states(c))
			}
			for _, n := range []*testNode{a, b} {
				if _, ok := states(n)["c"]; ok {
					t.Errorf("%s sees c: %v", n.cfg.Meta.Name, states(n))
				}
			}
			if got := a.logs.count("refusing messages from 127.0.0.1"); got != 1 {
				t.Errorf("a warned about refused messages %d times, want 1", got)
			}
		})
	}
}

func TestNew_Unencrypted(t *testing.T) {
	tests := []struct {
		name     string
		keys     [][]byte
		wantWarn int
	}{
		{name: "no keys warns once", keys: nil, wantWarn: 1},
		{name: "with a key stays quiet", keys: [][]byte{key1}, wantWarn: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := startNode(t, "a", withKeys(tt.keys...))
			if got := n.logs.count("level=WARN msg=\"gossip: unencrypted"); got != tt.wantWarn {
				t.Errorf("unencrypted warnings = %d, want %d; log:\n%s", got, tt.wantWarn, n.logs.String())
			}
		})
	}
}
