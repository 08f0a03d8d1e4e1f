// Package clustertest starts real cluster members in the test's process:
// gossip, Raft and the peer transport on 127.0.0.1 with free ports and
// consul-style shrunk timings, stopped with t.Cleanup. Only tests import
// it.
package clustertest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"

	"github.com/portico-gw/portico/cluster"
	"github.com/portico-gw/portico/cluster/peer"
)

// Key returns a fresh random cluster key.
func Key() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// Config returns a member's config: loopback free ports, shrunk timings,
// its own data dir.
func Config(t testing.TB, name string, key []byte, expect int, join ...string) cluster.Config {
	return cluster.Config{
		Name: name, Region: "test", Server: true,
		GossipBind: "127.0.0.1:0", RaftBind: "127.0.0.1:0", PeerBind: "127.0.0.1:0",
		Join: join, Keys: [][]byte{key}, BootstrapExpect: expect, Voters: 3,
		DeadServerTimeout: time.Hour, DataDir: t.TempDir(),
		TuneGossip: Shrink, TuneRaft: ShrinkRaft,
	}
}

// Shrink makes gossip react in tens of milliseconds.
func Shrink(m *memberlist.Config) {
	m.ProbeInterval = 100 * time.Millisecond
	m.ProbeTimeout = 50 * time.Millisecond
	m.GossipInterval = 20 * time.Millisecond
	m.PushPullInterval = 500 * time.Millisecond
	m.SuspicionMult = 2
}

// ShrinkRaft makes Raft elect and commit in tens of milliseconds.
func ShrinkRaft(r *raft.Config) {
	r.HeartbeatTimeout = 200 * time.Millisecond
	r.ElectionTimeout = 200 * time.Millisecond
	r.LeaderLeaseTimeout = 100 * time.Millisecond
	r.CommitTimeout = 5 * time.Millisecond
}

// Start starts a member from cfg and stops it at the end of the test.
func Start(t testing.TB, cfg cluster.Config) *cluster.Cluster {
	t.Helper()
	c, err := cluster.Start(cfg)
	if err != nil {
		t.Fatalf("clustertest: start %s: %v", cfg.Name, err)
	}
	t.Cleanup(func() { Stop(t, c) })
	return c
}

// Stop shuts c down (idempotent).
func Stop(t testing.TB, c *cluster.Cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Errorf("clustertest: shutdown: %v", err)
	}
}

// WaitLeader waits until every member agrees on one leader and returns
// its name.
func WaitLeader(t testing.TB, cs ...*cluster.Cluster) string {
	t.Helper()
	var leader string
	WaitFor(t, 20*time.Second, func() bool {
		leader = ""
		for _, c := range cs {
			l := c.Status(context.Background()).Leader
			if l == "" || leader != "" && l != leader {
				return false
			}
			leader = l
		}
		return true
	})
	return leader
}

// WaitFor polls cond every 10 ms, failing the test after d.
func WaitFor(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("clustertest: condition not met within %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Name returns the conventional name of member i.
func Name(i int) string { return fmt.Sprintf("n%d", i+1) }

// RaftTransport is a Raft client speaking mutual TLS with key's
// credentials as node name, the way a member dials the Raft port: tests
// point it at a member's Raft address to check who gets an answer. It is
// closed at the end of the test.
func RaftTransport(t testing.TB, name string, key []byte) *raft.NetworkTransport {
	t.Helper()
	creds, err := peer.NewCredentials(name, [][]byte{key})
	if err != nil {
		t.Fatalf("clustertest: credentials: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("clustertest: listen: %v", err)
	}
	sl, err := peer.NewStreamListener(creds, ln, peer.StreamConfig{Proto: "portico-raft"})
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	tr := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  &tlsStream{StreamListener: sl, creds: creds},
		MaxPool: 1, Timeout: 2 * time.Second,
		Logger: hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
	})
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

type tlsStream struct {
	*peer.StreamListener
	creds *peer.Credentials
}

func (s *tlsStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.creds.DialStream(ctx, string(addr), "portico-raft")
}
