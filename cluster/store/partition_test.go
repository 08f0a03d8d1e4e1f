package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// inmemNet is a set of InmemTransports that tests can cut and heal, in the
// vocabulary of raft's own test cluster.
type inmemNet struct {
	trans map[string]*raft.InmemTransport
}

func (n *inmemNet) connect(a, b string) {
	n.trans[a].Connect(n.trans[b].LocalAddr(), n.trans[b])
	n.trans[b].Connect(n.trans[a].LocalAddr(), n.trans[a])
}

// partition isolates id from every other server, both ways.
func (n *inmemNet) partition(id string) {
	for other, t := range n.trans {
		if other != id {
			n.trans[id].Disconnect(t.LocalAddr())
			t.Disconnect(n.trans[id].LocalAddr())
		}
	}
}

func (n *inmemNet) heal(id string) {
	for other := range n.trans {
		if other != id {
			n.connect(id, other)
		}
	}
}

func startInmemCluster(t *testing.T, ids []string) (*testCluster, *inmemNet) {
	t.Helper()
	net := &inmemNet{trans: map[string]*raft.InmemTransport{}}
	c := &testCluster{t: t, nodes: map[string]*Store{}}
	for _, id := range ids {
		_, tr := raft.NewInmemTransport("")
		net.trans[id] = tr
		c.all = append(c.all, Server{ID: id, Addr: string(tr.LocalAddr())})
	}
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			net.connect(a, b)
		}
	}
	for _, id := range ids {
		tr := net.trans[id]
		c.nodes[id] = openStore(t, testConfig(id, func(cfg *Config) { cfg.Transport = tr }))
		c.nodes[id].Reconcile(c.all, nil)
	}
	return c, net
}

func TestMinorityPartition(t *testing.T) {
	c, net := startInmemCluster(t, []string{"s1", "s2", "s3"})
	old := c.leader(10 * time.Second)
	propose(t, old, "before")
	c.waitVersion(1)

	net.partition(old.cfg.ID)
	// The caller's deadline is far off: ErrNoQuorum must come from the
	// store's own bound (ProposeTimeout, 2s here).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err := old.Propose(ctx, []byte("lost"), 0)
	if !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("Propose in the minority = %v, want ErrNoQuorum", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("Propose waited for the caller's deadline: %v", err)
	}
	t.Logf("minority Propose failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if got := old.Current(); got.Version != 1 || string(got.Data) != "before" {
		t.Errorf("Current in the minority = %d %q, want 1 %q", got.Version, got.Data, "before")
	}

	// The majority elects a leader and keeps taking writes.
	var m *Store
	waitFor(t, 10*time.Second, "a leader in the majority", func() bool {
		for id, s := range c.nodes {
			if id != old.cfg.ID && s.IsLeader() {
				m = s
				return true
			}
		}
		return false
	})
	after := propose(t, m, "after")

	net.heal(old.cfg.ID)
	l := c.leader(10 * time.Second)
	c.waitVersion(after.Version)
	if got := old.Current(); string(got.Data) != "after" {
		t.Errorf("healed node has %q, want %q", got.Data, "after")
	}
	if _, err := l.Propose(context.Background(), []byte("healed"), after.Version); err != nil {
		t.Errorf("Propose after healing: %v", err)
	}
}
