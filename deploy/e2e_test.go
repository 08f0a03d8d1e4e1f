//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// waitLimit bounds every wait for the cluster to reach a state.
const waitLimit = 60 * time.Second

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestClusterInDocker runs compose/node{1,2,3}.yaml as three containers of
// the image deploy/Dockerfile builds, beside the demo upstream, and checks
// README "Clustering" against them: formation, leader loss, a partition
// and its healing. Nodes talk over an internal "mesh" network; clients,
// the upstream and the published ports use an "edge" network, so cutting
// a node off the mesh isolates its control plane and nothing else.
func TestClusterInDocker(t *testing.T) {
	h := newHarness(t)
	began := time.Now()
	h.buildImage()
	t.Logf("binary and image %s built in %v", h.image, time.Since(began).Round(time.Millisecond))
	h.createNetworks()
	h.startUpstream()
	var nodes []*node
	for i := 1; i <= 3; i++ {
		nodes = append(nodes, h.startNode(i))
	}
	c := newClient(h.token)

	leader := phase(h, "formed: a leader, version 1 everywhere", func() string {
		leader := h.waitAgreed(nodes, nodes, 1)
		expectServes(t, c, nodes, "/anything/hello", http.StatusOK) // v1's route takes every path
		return leader
	})
	killed := byName(t, nodes, leader)
	survivors := without(nodes, killed)
	v2 := phase(h, "leader "+leader+" killed: another leads, survivors serve and take a write", func() int64 {
		h.must("kill", killed.container)
		h.waitNewLeader(survivors, killed.name)
		expectServes(t, c, survivors, "/anything/hello", http.StatusOK)
		v2 := h.write(c, survivors[0], gatewayDoc("v2"))
		h.waitAgreed(survivors, survivors, v2)
		expectServes(t, c, survivors, "/anything/v2/x", http.StatusOK)
		expectServes(t, c, survivors, "/anything/hello", http.StatusNotFound) // v1's route is gone
		return v2
	})
	// Bring the killed node back, so a majority remains once one is cut off.
	leader = phase(h, killed.name+" restarted: it catches up with version 2", func() string {
		h.must("start", killed.container)
		h.refreshPorts(killed)
		leader := h.waitAgreed(nodes, nodes, v2)
		expectServes(t, c, nodes, "/anything/v2/x", http.StatusOK)
		return leader
	})
	// Cut off the leader of the moment: the hardest case, as it must notice
	// it lost its followers and step down before refusing the write.
	cut := byName(t, nodes, leader)
	rest := without(nodes, cut)
	v3 := phase(h, cut.name+" cut off the mesh: serves version 2, refuses writes; the rest moves on", func() int64 {
		h.must("network", "disconnect", h.mesh, cut.container)
		expectServes(t, c, []*node{cut}, "/anything/v2/x", http.StatusOK)
		expectWriteRefused(t, c, cut, gatewayDoc("v3"))
		v3 := h.write(c, rest[0], gatewayDoc("v3"))
		h.waitAgreed(rest, rest, v3)
		expectServes(t, c, rest, "/anything/v3/x", http.StatusOK)
		expectServes(t, c, []*node{cut}, "/anything/v2/x", http.StatusOK)
		expectReady(t, c, cut, v2)
		return v3
	})
	phase(h, cut.name+" reconnected: Raft brings it to version 3", func() string {
		h.connectMesh(cut)
		h.waitServing(c, cut, v3)
		expectServes(t, c, []*node{cut}, "/anything/v3/x", http.StatusOK)
		expectServes(t, c, []*node{cut}, "/anything/v2/x", http.StatusNotFound)
		return ""
	})
	// Gossip heals through membership's reconnect loop (members seen dead
	// are dialled again every ~10 s); without it the others learned the
	// node was back only at a push/pull exchange (17–42 s here), and never
	// after a partition longer than memberlist's 30 s GossipToTheDeadTime.
	phase(h, "gossip healed: every node's status shows all three on version 3", func() string {
		h.waitAgreed(nodes, nodes, v3)
		expectServes(t, c, nodes, "/anything/v3/x", http.StatusOK)
		return ""
	})
	phase(h, "shared state across containers: cache hits from the owner, purge everywhere, one limit", func() string {
		v4 := h.write(c, nodes[0], sharedDoc)
		h.waitAgreed(nodes, nodes, v4)
		expectSharedCache(t, c, nodes)
		expectClusterLimit(t, c, nodes)
		return ""
	})
	t.Logf("whole run: %v", time.Since(began).Round(time.Millisecond))
}

// expectSharedCache: the first node's miss fills the entry at its owner;
// the other nodes answer from it (Cache-Status says hit); a purge on one
// node is confirmed by all three, and the next request misses again.
func expectSharedCache(t *testing.T, c *client, nodes []*node) {
	t.Helper()
	status := func(n *node) string {
		t.Helper()
		code, cs, err := c.getHeader(n.edge, "/cache/600", "Cache-Status")
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET /cache/600 through %s: %d %v", n.name, code, err)
		}
		return cs
	}
	if cs := status(nodes[0]); !strings.Contains(cs, "fwd=miss") {
		t.Fatalf("first GET /cache/600: Cache-Status %q, want a miss", cs)
	}
	for _, n := range nodes[1:] {
		if cs := status(n); !strings.Contains(cs, "hit") {
			t.Errorf("GET /cache/600 through %s: Cache-Status %q, want a hit from the owner", n.name, cs)
		}
	}
	code, body, err := c.purge(nodes[2].admin, `{"prefix": "http://127.0.0.1/cache/"}`)
	if err != nil || code != http.StatusOK || !strings.Contains(body, `"complete":true`) {
		t.Fatalf("purge through %s: %d %s %v, want 200 and all nodes confirming", nodes[2].name, code, body, err)
	}
	if cs := status(nodes[1]); !strings.Contains(cs, "fwd=miss") {
		t.Errorf("GET /cache/600 after the purge: Cache-Status %q, want a miss", cs)
	}
}

// expectClusterLimit: 9 requests spread over the three nodes against a
// strict limit of 3 for the whole cluster. Strict decisions are exact;
// only an owner that misses the 10 ms decision deadline (a cold peer
// connection) makes a node decide alone with a third of the limit, so a
// few more may pass — never all.
func expectClusterLimit(t *testing.T, c *client, nodes []*node) {
	t.Helper()
	admitted := 0
	for i := range 9 {
		n := nodes[i%len(nodes)]
		code, _, err := c.getHeader(n.edge, "/anything/limited/x", "RateLimit")
		if err != nil {
			t.Fatal(err)
		}
		switch code {
		case http.StatusOK:
			admitted++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("GET /anything/limited/x through %s: %d, want 200 or 429", n.name, code)
		}
	}
	t.Logf("strict limit of 3 across 3 containers: %d of 9 admitted", admitted)
	if admitted < 3 || admitted > 6 {
		t.Errorf("%d of 9 requests admitted by a cluster-wide limit of 3, want 3 (at most 6 with fallbacks)", admitted)
	}
}

// phase runs one step of the scenario and logs how long it took.
func phase[T any](h *harness, name string, step func() T) T {
	h.t.Helper()
	began := time.Now()
	v := step()
	h.t.Logf("%s: %v", name, time.Since(began).Round(time.Millisecond))
	return v
}

// waitAgreed waits until each node of askers reports, through `portico
// cluster status` in its container, the same leader and every node of
// names serving version want. It returns that leader.
func (h *harness) waitAgreed(askers, names []*node, want int64) string {
	h.t.Helper()
	var leader string
	waitFor(h.t, waitLimit, fmt.Sprintf("a leader and version %d on %v", want, nameList(names)), func() (bool, string) {
		leader = ""
		for _, n := range askers {
			v, err := h.status(n)
			if err != nil {
				return false, err.Error()
			}
			if !v.agrees(nameList(names), want) || (leader != "" && v.leader != leader) {
				return false, v.raw
			}
			leader = v.leader
		}
		return true, ""
	})
	return leader
}

// waitServing waits until n serves version want (its admin /ready says so)
// and its own `portico cluster status` knows a leader and shows n at want.
func (h *harness) waitServing(c *client, n *node, want int64) {
	h.t.Helper()
	waitFor(h.t, waitLimit, fmt.Sprintf("%s to serve version %d", n.name, want), func() (bool, string) {
		got, err := c.readyVersion(n.admin)
		if err != nil {
			return false, err.Error()
		}
		if got != want {
			return false, fmt.Sprintf("%s/ready: config_version %d", n.name, got)
		}
		v, err := h.status(n)
		if err != nil {
			return false, err.Error()
		}
		return v.agrees([]string{n.name}, want), v.raw
	})
}

// waitNewLeader waits until every node of askers agrees on a leader other
// than old.
func (h *harness) waitNewLeader(askers []*node, old string) {
	h.t.Helper()
	waitFor(h.t, waitLimit, "a leader other than "+old, func() (bool, string) {
		var leader string
		for _, n := range askers {
			v, err := h.status(n)
			if err != nil {
				return false, err.Error()
			}
			if v.leader == "" || v.leader == old || (leader != "" && v.leader != leader) {
				return false, v.raw
			}
			leader = v.leader
		}
		return true, ""
	})
}

// write puts doc through n's admin API, trying again while the cluster
// answers 503 (an election in progress), and returns the new version.
func (h *harness) write(c *client, n *node, doc string) int64 {
	h.t.Helper()
	var version int64
	waitFor(h.t, waitLimit, "a config write through "+n.name, func() (bool, string) {
		status, v, body, err := c.putConfig(n.admin, doc)
		switch {
		case err != nil:
			return false, err.Error()
		case status == http.StatusServiceUnavailable:
			return false, body
		case status != http.StatusOK:
			h.t.Fatalf("PUT /config on %s: got %d, want 200: %s", n.name, status, body)
		}
		version = v
		return true, ""
	})
	return version
}

// expectServes requests path through each node's edge a few times; every
// answer must have status want.
func expectServes(t *testing.T, c *client, nodes []*node, path string, want int) {
	t.Helper()
	for _, n := range nodes {
		for range 3 {
			got, err := c.get(n.edge, path)
			if err != nil {
				t.Fatalf("%s edge: %v", n.name, err)
			}
			if got != want {
				t.Fatalf("GET %s through %s: got %d, want %d", path, n.name, got, want)
			}
		}
	}
}

// expectWriteRefused checks that a write to n fails with 503 within
// writeBound (the client's timeout).
func expectWriteRefused(t *testing.T, c *client, n *node, doc string) {
	t.Helper()
	began := time.Now()
	status, _, body, err := c.putConfig(n.admin, doc)
	if err != nil {
		t.Fatalf("write to %s: %v (want 503 within %v)", n.name, err, writeBound)
	}
	if status != http.StatusServiceUnavailable {
		t.Fatalf("write to %s: got %d, want 503: %s", n.name, status, body)
	}
	t.Logf("write to %s refused with 503 after %v", n.name, time.Since(began).Round(time.Millisecond))
}

// expectReady checks the config version n's admin /ready reports.
func expectReady(t *testing.T, c *client, n *node, want int64) {
	t.Helper()
	got, err := c.readyVersion(n.admin)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("%s serves config version %d, want %d", n.name, got, want)
	}
}

// waitFor polls cond until it holds or limit passes; then it fails the
// test with cond's last explanation.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last seen:\n%s", limit, what, last)
		}
		<-tick.C
	}
}

func byName(t *testing.T, nodes []*node, name string) *node {
	t.Helper()
	i := slices.IndexFunc(nodes, func(n *node) bool { return n.name == name })
	if i < 0 {
		t.Fatalf("the leader is %q, not one of %v", name, nameList(nodes))
	}
	return nodes[i]
}

func without(nodes []*node, drop *node) []*node {
	return slices.DeleteFunc(slices.Clone(nodes), func(n *node) bool { return n == drop })
}

func nameList(nodes []*node) []string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.name
	}
	return names
}
