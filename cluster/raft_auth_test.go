package cluster_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/portico-gw/portico/cluster"
	"github.com/portico-gw/portico/cluster/clustertest"
)

// raftAddr is the Raft address c gossips for itself.
func raftAddr(t *testing.T, c *cluster.Cluster, name string) string {
	t.Helper()
	for _, m := range c.Members() {
		if m.Name == name && m.RaftAddr != "" {
			return m.RaftAddr
		}
	}
	t.Fatalf("no raft address gossiped for %s", name)
	return ""
}

// forgedSetDocument is a log entry in the store's wire format (type 0x01,
// if-version 0, data): what a forger who read the source would send.
func forgedSetDocument(data string) []byte {
	b := make([]byte, 9, 9+len(data))
	b[0] = 0x01
	binary.BigEndian.PutUint64(b[1:9], 0)
	return append(b, data...)
}

// TestRaftPortRefusesPlainRaftClients: a process without the cluster key
// speaking raft's own wire protocol to the Raft port (hashicorp/raft's TCP
// transport, as anyone can build) gets no answer and changes nothing: no
// term bump, no forged document applied. The refusals are logged once for
// the address, not once per connection.
func TestRaftPortRefusesPlainRaftClients(t *testing.T) {
	var log logBuffer
	cfg := clustertest.Config(t, "a", clustertest.Key(), 1)
	cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	a := clustertest.Start(t, cfg)
	clustertest.WaitLeader(t, a)
	v1, err := a.Propose(context.Background(), []byte("routes: []\n"), -1)
	if err != nil {
		t.Fatalf("Propose: %v", err)
	}
	addr := raft.ServerAddress(raftAddr(t, a, "a"))
	term := a.Status(context.Background()).Term

	mallory, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 2*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mallory.Close() })
	hdr := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("mallory"), Addr: []byte(mallory.LocalAddr())}

	// A heartbeat from a "leader" of a later term, to learn the last index.
	var hb raft.AppendEntriesResponse
	err = mallory.AppendEntries("a", addr, &raft.AppendEntriesRequest{RPCHeader: hdr, Term: term + 5}, &hb)
	if err == nil {
		t.Errorf("a plain raft heartbeat was answered (term %d, last index %d)", hb.Term, hb.LastLog)
	}
	last := max(hb.LastLog, 3)
	var ae raft.AppendEntriesResponse
	err = mallory.AppendEntries("a", addr, &raft.AppendEntriesRequest{
		RPCHeader: hdr, Term: term + 5, LeaderCommitIndex: last + 1,
		Entries: []*raft.Log{{Index: last + 1, Term: term + 5, Type: raft.LogCommand, Data: forgedSetDocument("forged: true\n")}},
	}, &ae)
	if err == nil {
		t.Errorf("a forged AppendEntries was answered (success %v)", ae.Success)
	}
	var rv raft.RequestVoteResponse
	err = mallory.RequestVote("a", addr, &raft.RequestVoteRequest{RPCHeader: hdr, Term: term + 10, LastLogIndex: 1 << 40, LastLogTerm: term + 10}, &rv)
	if err == nil {
		t.Errorf("a forged RequestVote was answered (granted %v)", rv.Granted)
	}
	if got := a.Status(context.Background()).Term; got != term {
		t.Errorf("raft term went from %d to %d: the forged RPCs reached Raft", term, got)
	}
	// The next real write is compare-and-set on v1: it fails if the forged
	// entry was applied in between.
	clustertest.WaitLeader(t, a)
	v2, err := a.Propose(context.Background(), []byte("routes: [] # v2\n"), v1.Version)
	if err != nil {
		t.Fatalf("Propose after the forgery: %v (current %q)", err, a.Current().Data)
	}
	if err := a.WaitApplied(context.Background(), v2.Version); err != nil {
		t.Fatal(err)
	}
	if got := string(a.Current().Data); got != "routes: [] # v2\n" {
		t.Errorf("document = %q, want the real v2", got)
	}
	if n := strings.Count(log.String(), "refused a raft connection"); n != 1 {
		t.Errorf("refused raft connections were logged %d times, want once for the address:\n%s", n, log.String())
	}
}

// TestRaftPortRefusesOtherClusters: a node holding another cluster's key
// completes no handshake with the Raft port, while one with the key does.
func TestRaftPortRefusesOtherClusters(t *testing.T) {
	key := clustertest.Key()
	a := clustertest.Start(t, clustertest.Config(t, "a", key, 1))
	clustertest.WaitLeader(t, a)
	addr := raftAddr(t, a, "a")
	for _, tt := range []struct {
		name    string
		key     []byte
		wantErr bool
	}{
		{"same key", key, false},
		{"other key", clustertest.Key(), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := clustertest.RaftTransport(t, "x", tt.key)
			term := a.Status(context.Background()).Term
			var rv raft.RequestVoteResponse
			req := &raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("x"), Addr: []byte(tr.LocalAddr())},
				Term: term + 10}
			err := tr.RequestVote("a", raft.ServerAddress(addr), req, &rv)
			if tt.wantErr && err == nil {
				t.Errorf("RequestVote with another cluster's key was answered (granted %v)", rv.Granted)
			}
			if got := a.Status(context.Background()).Term; tt.wantErr && got != term {
				t.Errorf("raft term went from %d to %d", term, got)
			}
			if !tt.wantErr && err != nil && !errors.Is(err, io.EOF) {
				t.Errorf("RequestVote with the cluster key: %v, want an answer", err)
			}
		})
	}
}
