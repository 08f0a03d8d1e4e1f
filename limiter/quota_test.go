package limiter

import (
	"context"
	"runtime"
	"testing"
	"time"
)

var gold = Quota{Name: "gold", Count: 1000, Period: "month"}

// use spends n units of key's gold quota, spread over nodes.
func use(t *testing.T, cl *cluster, key string, n int, nodes ...int) {
	t.Helper()
	for i := range n {
		d, err := cl.nodes[nodes[i%len(nodes)]].lim.Allow(context.Background(), []Request{{Key: key, Quota: gold}})
		if err != nil || !d.Allowed {
			t.Fatalf("unit %d: %+v %v", i, d, err)
		}
	}
}

func usage(t *testing.T, cl *cluster, from int, key string) int64 {
	t.Helper()
	u, err := cl.nodes[from].lim.Usage(context.Background(), key, gold)
	if err != nil {
		t.Fatalf("Usage from node %d: %v", from, err)
	}
	return u.Used
}

func TestQuota_SurvivesRestartOfAllNodes(t *testing.T) {
	cl := newCluster(t, 3)
	use(t, cl, "acme", 50, 0, 1, 2)
	cl.flush()
	if got := usage(t, cl, 1, "acme"); got != 50 {
		t.Fatalf("used = %d, want 50", got)
	}
	for i := range cl.nodes {
		cl.stop(i)
	}
	for i := range cl.nodes {
		cl.start(i)
	}
	for i := range cl.nodes {
		if got := usage(t, cl, i, "acme"); got != 50 {
			t.Errorf("after restart, from node %d: used = %d, want 50", i, got)
		}
	}
}

func TestQuota_SurvivesOwnerChange(t *testing.T) {
	cl := newCluster(t, 3, func(c *Config) { c.DataDir = "" }) // memory only: the replica must carry it
	o, rp := cl.ring.owners(ownerKey("gold", "acme"))
	use(t, cl, "acme", 30, 0, 1, 2)
	cl.flush() // hits reach the owner
	cl.flush() // the owner pushes to its replica
	cl.nodes[o].srv.CloseClientConnections()
	cl.stop(o)
	cl.ring.setLive(o, false)
	if no, _ := cl.ring.owners(ownerKey("gold", "acme")); no != rp {
		t.Fatalf("new owner %d, want the replica %d", no, rp)
	}
	for i := range cl.nodes {
		if i != o {
			if got := usage(t, cl, i, "acme"); got != 30 {
				t.Errorf("after the owner left, from node %d: used = %d, want 30", i, got)
			}
		}
	}
}

func TestQuota_ExactAndReset(t *testing.T) {
	cl := newCluster(t, 3)
	q := Quota{Name: "tiny", Count: 10, Period: "day", Mode: ModeStrict}
	admitted := 0
	for i := range 30 {
		d, err := cl.nodes[i%3].lim.Allow(context.Background(), []Request{{Key: "k", Quota: q}})
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			admitted++
		}
	}
	if admitted != 10 {
		t.Errorf("strict quota of 10 admitted %d", admitted)
	}
	if err := cl.nodes[1].lim.Reset(context.Background(), "k", q); err != nil {
		t.Fatal(err)
	}
	u, err := cl.nodes[2].lim.Usage(context.Background(), "k", q)
	if err != nil || u.Used != 0 || u.Remaining != 10 {
		t.Errorf("after Reset: %+v %v, want 0 used", u, err)
	}
}

// TestBackgroundSync: with the background loops on, async hits reach
// the owner without Flush.
func TestBackgroundSync(t *testing.T) {
	cl := newCluster(t, 2, func(c *Config) { c.SyncInterval = 5 * time.Millisecond; c.FlushInterval = 5 * time.Millisecond })
	o, _ := cl.ring.owners(ownerKey("gold", "acme"))
	use(t, cl, "acme", 5, 1-o)
	deadline := time.Now().Add(10 * time.Second)
	for usage(t, cl, o, "acme") != 5 {
		if time.Now().After(deadline) {
			t.Fatalf("owner used = %d after 10s, want 5", usage(t, cl, o, "acme"))
		}
		runtime.Gosched()
	}
}
