package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portico-gw/portico/cluster"
	"github.com/portico-gw/portico/cluster/clustertest"
)

// docLog records the versions OnDocument delivered, in order.
type docLog struct {
	mu   sync.Mutex
	docs []cluster.Document
}

func (l *docLog) add(d cluster.Document) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.docs = append(l.docs, d)
}

func (l *docLog) versions() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var vs []int64
	for _, d := range l.docs {
		vs = append(vs, d.Version)
	}
	return vs
}

// startClient starts a non-server member that joins through seed and
// records what it is handed.
func startClient(t *testing.T, key []byte, seed string) (*cluster.Cluster, *docLog) {
	t.Helper()
	cfg := clustertest.Config(t, "client", key, 0, seed)
	cfg.Server = false
	log := &docLog{}
	cfg.OnDocument = log.add
	return clustertest.Start(t, cfg), log
}

// waitServing awaits version v on c within a few seconds.
func waitServing(t *testing.T, c *cluster.Cluster, v int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitApplied(ctx, v); err != nil {
		t.Fatalf("%v (serving %d)", err, c.Current().Version)
	}
}

// TestNonServerGetsEveryVersion: a member with server: false receives the
// cluster's document at start and every later version, and a write
// through it returns promptly and is then served by it.
func TestNonServerGetsEveryVersion(t *testing.T) {
	key := clustertest.Key()
	a := clustertest.Start(t, clustertest.Config(t, "a", key, 1))
	clustertest.WaitLeader(t, a)
	v1, err := a.Propose(context.Background(), []byte("v: 1\n"), -1)
	if err != nil {
		t.Fatal(err)
	}
	client, log := startClient(t, key, a.GossipAddr())
	waitServing(t, client, v1.Version) // the document it finds at start
	if got := string(client.Current().Data); got != "v: 1\n" {
		t.Errorf("client serves %q, want v1", got)
	}

	v2, err := a.Propose(context.Background(), []byte("v: 2\n"), v1.Version)
	if err != nil {
		t.Fatal(err)
	}
	waitServing(t, client, v2.Version) // a later version, pushed by the watch

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	v3, err := client.Propose(ctx, []byte("v: 3\n"), v2.Version)
	if err != nil {
		t.Fatalf("Propose through the client: %v", err)
	}
	waitServing(t, client, v3.Version)
	t.Logf("write through the client committed and served there in %v", time.Since(start))
	if got := string(client.Current().Data); got != "v: 3\n" {
		t.Errorf("client serves %q, want v3", got)
	}
	if got, want := fmt.Sprint(log.versions()), fmt.Sprint([]int64{1, 2, 3}); got != want {
		t.Errorf("client was handed versions %s, want %s", got, want)
	}
}

// TestNonServerWritesReachTheLeader: with three servers, a client's write
// goes to whichever server it picks, and a follower passes it on to the
// leader instead of answering "not the leader" until the write times out.
func TestNonServerWritesReachTheLeader(t *testing.T) {
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
	client, _ := startClient(t, key, cs[1].GossipAddr())
	clustertest.WaitFor(t, 10*time.Second, func() bool { return len(client.Members()) == 4 })
	var last int64
	for i := range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		d, err := client.Propose(ctx, fmt.Appendf(nil, "w: %d\n", i), 0)
		cancel()
		if err != nil {
			t.Fatalf("write %d through the client: %v", i, err)
		}
		last = d.Version
	}
	waitServing(t, client, last)
}
