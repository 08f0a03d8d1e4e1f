// Package nodetest starts whole gateway nodes in the test's process, on
// loopback listeners with free ports, and stops them with t.Cleanup. Only
// tests import it.
package nodetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/demo"
	"github.com/portico-gw/portico/node"
)

// Node is a started gateway node.
type Node struct {
	*node.Node
	// URL is the edge's base URL, AdminURL the admin API's.
	URL, AdminURL string
	// File is the node's config file; rewrite it and call Reload.
	File string
	// DataDir is the node's data directory.
	DataDir string
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
	out := &Node{Node: nd, URL: "http://" + nd.EdgeAddr(), File: file, DataDir: dir}
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
