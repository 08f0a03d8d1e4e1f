// Package nodetest starts whole gateway nodes in the test's process, on
// loopback listeners with free ports, and stops them with t.Cleanup. Only
// tests import it.
package nodetest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"

	"github.com/portico-gw/portico/cluster"
	"github.com/portico-gw/portico/demo"
	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/config"
)

// Node is a started gateway node.
type Node struct {
	*node.Node
	// URL is the cleartext edge's base URL ("" when node.listen is off),
	// TLSURL the HTTPS one ("" without node.tls), AdminURL the admin API's.
	URL, TLSURL, AdminURL string
	// File is the node's config file; rewrite it and call Reload.
	File string
	// DataDir is the node's data directory.
	DataDir string
	// Spec is the node's cluster (nil for a single node); restart a member
	// with Spec.StartNode on its DataDir.
	Spec *ClusterSpec
}

// Start starts n nodes serving gateway, a YAML gateway document (upstreams
// and routes). Each node gets a generated node: section (loopback
// listeners on free ports, its own data dir, access log off); opts adjust
// the node.Config, e.g. its Override to change node settings.
func Start(t testing.TB, n int, gateway string, opts ...func(*node.Config)) []*Node {
	t.Helper()
	nodes := make([]*Node, n)
	for i := range nodes {
		nodes[i] = StartOne(t, fmt.Sprintf("test-%d", i+1), t.TempDir(), gateway, opts...)
	}
	return nodes
}

// StartOne starts one node named name with its data in dir; starting a
// second node on the same dir after the first is shut down is a restart.
func StartOne(t testing.TB, name, dir, gateway string, opts ...func(*node.Config)) *Node {
	t.Helper()
	file := filepath.Join(dir, "portico.yaml")
	WriteConfig(t, file, name, dir, gateway)
	cfg := node.Config{File: file, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	nd, err := node.New(cfg)
	if err != nil {
		t.Fatalf("nodetest: new node: %v", err)
	}
	if err := nd.Start(); err != nil {
		t.Fatalf("nodetest: start node: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := nd.Shutdown(ctx); err != nil {
			t.Errorf("nodetest: shutdown: %v", err)
		}
	})
	out := &Node{Node: nd, File: file, DataDir: dir}
	if a := nd.EdgeAddr(); a != "" {
		out.URL = "http://" + a
	}
	if a := nd.TLSAddr(); a != "" {
		out.TLSURL = "https://" + a
	}
	if a := nd.AdminAddr(); a != "" {
		out.AdminURL = "http://" + a
	}
	return out
}

// WriteConfig writes a config file: a node section for loopback testing
// followed by the gateway document.
func WriteConfig(t testing.TB, file, name, dir, gateway string) {
	t.Helper()
	doc := fmt.Sprintf(`node:
  name: %s
  listen: 127.0.0.1:0
  data_dir: %q
  admin:
    listen: 127.0.0.1:0
  access_log:
    output: "off"
  shutdown_timeout: 10s
%s`, name, filepath.Join(dir, "data"), strings.TrimLeft(gateway, "\n"))
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatalf("nodetest: write config: %v", err)
	}
}

// Demo starts the demo upstream on a loopback port and returns its URL
// and server (for request counts); it stops with the test.
func Demo(t testing.TB) (string, *demo.Server) {
	t.Helper()
	d := demo.New(demo.Options{})
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return srv.URL, d
}

// StartCluster starts n nodes forming one cluster (bootstrap_expect n, a
// random cluster key, free loopback ports, shrunk gossip and Raft timings)
// and waits until every node serves the cluster's config version 1.
func StartCluster(t testing.TB, n int, gateway string, opts ...func(*node.Config)) []*Node {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c := &ClusterSpec{Size: n, Key: base64.StdEncoding.EncodeToString(key)}
	nodes := make([]*Node, n)
	for i := range nodes {
		nodes[i] = c.StartNode(t, fmt.Sprintf("test-%d", i+1), t.TempDir(), gateway, opts...)
	}
	WaitFor(t, 20*time.Second, func() bool {
		for _, nd := range nodes {
			if nd.Snapshot().Version < 1 {
				return false
			}
		}
		return true
	})
	return nodes
}

// ClusterSpec is what the nodes of one test cluster share.
type ClusterSpec struct {
	Size int
	Key  string
	// Seed is the first node's gossip address, set once it runs.
	Seed string
	// KeyFile, if it has an entry for a node's name, makes that node read
	// its keys from that file (gossip_key_file) from its next (re)load on.
	KeyFile map[string]string
	// NonServers names the nodes started with cluster.server: false.
	NonServers map[string]bool
	mu         sync.Mutex
}

// SetKeyFile makes node name read its keys from file from its next load.
func (c *ClusterSpec) SetKeyFile(name, file string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.KeyFile == nil {
		c.KeyFile = map[string]string{}
	}
	c.KeyFile[name] = file
}

// StartNode starts (or, on an existing dir, restarts) one member.
func (c *ClusterSpec) StartNode(t testing.TB, name, dir, gateway string, opts ...func(*node.Config)) *Node {
	t.Helper()
	seed := c.Seed
	clusterOpt := func(cfg *node.Config) {
		prev := cfg.Override
		cfg.Override = func(f *config.File) {
			if prev != nil {
				prev(f)
			}
			cc := &config.Cluster{BootstrapExpect: c.Size, GossipKey: c.Key}
			c.mu.Lock()
			if kf := c.KeyFile[f.Node.Name]; kf != "" {
				cc.GossipKey, cc.GossipKeyFile = "", kf
			}
			if c.NonServers[f.Node.Name] {
				cc.Server, cc.BootstrapExpect = new(bool), 0
			}
			c.mu.Unlock()
			cc.Gossip.Bind, cc.Raft.Bind, cc.Peer.Bind = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
			if seed != "" {
				cc.Join = []string{seed}
			}
			f.Node.Cluster = cc
		}
		cfg.TuneCluster = ShrinkTimings
	}
	nd := StartOne(t, name, dir, gateway, append(opts, clusterOpt)...)
	if c.Seed == "" {
		c.Seed = nd.Cluster().GossipAddr()
	}
	nd.Spec = c
	return nd
}

// ShrinkTimings makes gossip and Raft react in tens of milliseconds, as
// consul's test servers do.
func ShrinkTimings(c *cluster.Config) {
	c.TuneGossip = func(m *memberlist.Config) {
		m.ProbeInterval = 100 * time.Millisecond
		m.ProbeTimeout = 50 * time.Millisecond
		m.GossipInterval = 20 * time.Millisecond
		m.PushPullInterval = 500 * time.Millisecond
		m.SuspicionMult = 2
	}
	c.TuneRaft = func(r *raft.Config) {
		r.HeartbeatTimeout = 200 * time.Millisecond
		r.ElectionTimeout = 200 * time.Millisecond
		r.LeaderLeaseTimeout = 100 * time.Millisecond
		r.CommitTimeout = 5 * time.Millisecond
	}
}

// WaitFor polls cond every 10 ms until it holds, failing the test after d.
func WaitFor(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("nodetest: condition not met within %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
