package cluster_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gw/portico/cluster"
	"github.com/portico-gw/portico/cluster/clustertest"
)

// TestStopFiveTogether stops a 5-node cluster all at once, the way a
// deploy or `docker compose down` does, with production gossip and Raft
// timings and the node's 30 s shutdown budget, and logs how long it took
// (go test -v -run TestStopFiveTogether ./cluster). Before the leave wait
// was bounded, one or two nodes often waited the whole budget for a leave
// broadcast nobody was left to receive; the bound asserted here is
// generous (the figure is logged, not judged).
func TestStopFiveTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 5 nodes with production timings")
	}
	key := clustertest.Key()
	cs := make([]*cluster.Cluster, 5)
	for i := range cs {
		cfg := clustertest.Config(t, clustertest.Name(i), key, 3)
		cfg.Voters = 5
		cfg.TuneGossip, cfg.TuneRaft = nil, nil // as shipped
		if i > 0 {
			cfg.Join = []string{cs[0].GossipAddr()}
		}
		cs[i] = clustertest.Start(t, cfg)
	}
	clustertest.WaitFor(t, 30*time.Second, func() bool {
		for _, c := range cs {
			if len(c.Members()) != len(cs) {
				return false
			}
		}
		return true
	})
	clustertest.WaitLeader(t, cs...)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	took := make([]time.Duration, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			if err := c.Shutdown(ctx); err != nil {
				t.Errorf("%s: Shutdown: %v", clustertest.Name(i), err)
			}
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	total := time.Since(start)
	t.Logf("5 nodes stopped together in %v (each: %v)", total.Round(time.Millisecond), took)
	if total > 20*time.Second {
		t.Errorf("stopping 5 nodes together took %v, want well under the 30 s budget", total)
	}
}

// TestWriteWithoutQuorumFailsFast: once the other voters have left, a
// write fails at once with an error that says why, instead of waiting out
// the write timeout.
func TestWriteWithoutQuorumFailsFast(t *testing.T) {
	key := clustertest.Key()
	var cs []*cluster.Cluster
	for i := range 3 {
		var join []string
		if i > 0 {
			join = []string{cs[0].GossipAddr()}
		}
		cs = append(cs, clustertest.Start(t, clustertest.Config(t, clustertest.Name(i), key, 3, join...)))
	}
	clustertest.WaitLeader(t, cs...)
	if _, err := cs[0].Propose(context.Background(), []byte("a: 1\n"), -1); err != nil {
		t.Fatal(err)
	}
	clustertest.Stop(t, cs[1])
	clustertest.Stop(t, cs[2])
	clustertest.WaitFor(t, 10*time.Second, func() bool {
		n := 0
		for _, m := range cs[0].Members() {
			if m.State == cluster.Alive || m.State == cluster.Suspect {
				n++
			}
		}
		return n == 1
	})
	start := time.Now()
	_, err := cs[0].Propose(context.Background(), []byte("a: 2\n"), 0)
	took := time.Since(start)
	t.Logf("write without quorum failed in %v: %v", took.Round(time.Millisecond), err)
	if !errors.Is(err, cluster.ErrNoWriteQuorum) {
		t.Fatalf("Propose without quorum = %v, want ErrNoWriteQuorum", err)
	}
	if !strings.Contains(err.Error(), "1 of 3 voters") {
		t.Errorf("error %q doesn't say how many voters are reachable", err)
	}
}
