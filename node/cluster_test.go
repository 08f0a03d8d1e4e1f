package node_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/node/nodetest"
)

func clusterDoc(up, extra string) string {
	return gateway(up, extra)
}

// TestClusterConfigWrites: a write on any node (forwarded to the leader)
// is served by every node; compare-and-set works across the cluster; a
// node's SIGHUP changes node-local settings only.
func TestClusterConfigWrites(t *testing.T) {
	up, _ := nodetest.Demo(t)
	ns := nodetest.StartCluster(t, 3, clusterDoc(up, ""))
	for _, n := range ns {
		if s := get(t, n.URL+"/status/201").status; s != 201 {
			t.Fatalf("%s: GET /status/201 = %d, want 201", n.Snapshot().Node.Name, s)
		}
	}
	follower := followerOf(t, ns)
	doc := clusterDoc(up, "  - name: tea\n    match: {paths: [\"/tea\"]}\n    upstream: demo\n    rewrite: /status/418\n")
	r := put(t, follower.AdminURL+"/config", doc, "If-Match", `"1"`)
	if r.status != 200 {
		t.Fatalf("PUT on a follower = %d (%s)", r.status, r.body)
	}
	nodetest.WaitFor(t, 10*time.Second, func() bool {
		for _, n := range ns {
			if n.Snapshot().Version != 2 {
				return false
			}
		}
		return true
	})
	for _, n := range ns {
		if s := get(t, n.URL+"/tea").status; s != 418 {
			t.Errorf("%s: GET /tea = %d, want 418", n.Snapshot().Node.Name, s)
		}
	}
	if r := put(t, ns[0].AdminURL+"/config", clusterDoc(up, ""), "If-Match", `"1"`); r.status != 409 {
		t.Errorf("stale If-Match in the cluster = %d, want 409", r.status)
	}
	if r := put(t, ns[1].AdminURL+"/config", "routes: [{name: r, upstream: nope}]\n"); r.status != 400 {
		t.Errorf("invalid doc = %d, want 400 before reaching Raft", r.status)
	}

	// SIGHUP in cluster mode: the file's routes are not applied.
	nodetest.WriteConfig(t, ns[2].File, "test-3", ns[2].DataDir, clusterDoc(up, ""))
	if err := ns[2].Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if s := get(t, ns[2].URL+"/tea").status; s != 418 || ns[2].Snapshot().Version != 2 {
		t.Errorf("after SIGHUP: /tea = %d version %d, want the cluster's (418, 2)", s, ns[2].Snapshot().Version)
	}
}

// TestClusterSurvivesLeaderLoss: the leader stops; a new one is elected,
// no acknowledged write is lost, and writes go on.
func TestClusterSurvivesLeaderLoss(t *testing.T) {
	up, _ := nodetest.Demo(t)
	ns := nodetest.StartCluster(t, 3, clusterDoc(up, ""))
	leader := leaderOf(t, ns)
	if r := put(t, leader.AdminURL+"/config", clusterDoc(up, "  - {name: a, match: {paths: [\"/a\"]}, upstream: demo, rewrite: /status/202}\n")); r.status != 200 {
		t.Fatalf("PUT = %d (%s)", r.status, r.body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := leader.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var rest []*nodetest.Node
	for _, n := range ns {
		if n != leader {
			rest = append(rest, n)
		}
	}
	for _, n := range rest {
		if s := get(t, n.URL+"/a").status; s != 202 {
			t.Errorf("acknowledged route lost on %s: /a = %d", n.Snapshot().Node.Name, s)
		}
	}
	nodetest.WaitFor(t, 20*time.Second, func() bool {
		r := put(t, rest[0].AdminURL+"/config", clusterDoc(up, "  - {name: a, match: {paths: [\"/a\"]}, upstream: demo, rewrite: /status/202}\n  - {name: b, match: {paths: [\"/b\"]}, upstream: demo, rewrite: /status/203}\n"))
		return r.status == 200
	})
	for _, n := range rest {
		nodetest.WaitFor(t, 10*time.Second, func() bool { return get(t, n.URL+"/b").status == 203 })
		if s := get(t, n.URL+"/a").status; s != 202 {
			t.Errorf("%s lost route a after the new write: %d", n.Snapshot().Node.Name, s)
		}
	}
}

// TestClusterWithoutQuorum: with 2 of 3 nodes gone, the last one keeps
// serving traffic, refuses writes within seconds with 503, and after a
// restart with its data dir still serves its last config.
func TestClusterWithoutQuorum(t *testing.T) {
	up, _ := nodetest.Demo(t)
	ns := nodetest.StartCluster(t, 3, clusterDoc(up, ""))
	last := ns[2]
	for _, n := range ns[:2] {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := n.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	if s := get(t, last.URL+"/status/200").status; s != 200 {
		t.Fatalf("lone node stopped serving: %d", s)
	}
	start := time.Now()
	r := put(t, last.AdminURL+"/config", clusterDoc(up, "  - {name: x, match: {paths: [\"/x\"]}, upstream: demo}\n"))
	if r.status != 503 {
		t.Fatalf("PUT without quorum = %d (%s), want 503", r.status, r.body)
	}
	if p := problemOf(t, r); !strings.Contains(p.Detail, "quorum") {
		t.Errorf("detail %q does not say quorum is lost", p.Detail)
	}
	t.Logf("write without quorum refused after %v", time.Since(start))
	if s := get(t, last.URL+"/status/200").status; s != 200 {
		t.Errorf("lone node stopped serving after the refused write: %d", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := last.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Restarted while the rest of the cluster is gone: it serves the last
	// config it applied.
	again := last.Spec.StartNode(t, "test-3", last.DataDir, clusterDoc(up, "  - {name: other, match: {paths: [\"/other\"]}, upstream: demo}\n"))
	if v := again.Snapshot().Version; v != 1 {
		t.Errorf("restarted lone node serves version %d, want its last applied 1", v)
	}
	if s := get(t, again.URL+"/status/200").status; s != 200 {
		t.Errorf("restarted lone node: GET = %d, want 200", s)
	}
}

func leaderOf(t *testing.T, ns []*nodetest.Node) *nodetest.Node {
	t.Helper()
	var leader *nodetest.Node
	nodetest.WaitFor(t, 10*time.Second, func() bool {
		for _, n := range ns {
			if st := n.Cluster().Status(context.Background()); st.Leader == n.Snapshot().Node.Name {
				leader = n
				return true
			}
		}
		return false
	})
	return leader
}

func followerOf(t *testing.T, ns []*nodetest.Node) *nodetest.Node {
	l := leaderOf(t, ns)
	for _, n := range ns {
		if n != l {
			return n
		}
	}
	t.Fatal("no follower")
	return nil
}

var _ = errors.New
var _ = fmt.Sprint

// TestClusterKeyRotation: install, use, remove through the key file and
// Reload (SIGHUP) on every node; the cluster keeps talking throughout.
func TestClusterKeyRotation(t *testing.T) {
	up, _ := nodetest.Demo(t)
	ns := nodetest.StartCluster(t, 3, clusterDoc(up, ""))
	oldKey := ns[0].Spec.Key
	newKey := "bmV3IGtleSBmb3Igcm90YXRpb24gdGVzdCAzMiBieXQ=" // 32 bytes
	steps := [][]string{{oldKey, newKey}, {newKey, oldKey}, {newKey}}
	for i, keys := range steps {
		for _, n := range ns {
			kf := n.DataDir + "/keys"
			if err := os.WriteFile(kf, []byte(strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			n.Spec.SetKeyFile(n.Snapshot().Node.Name, kf)
			if err := n.Reload(); err != nil {
				t.Fatalf("step %d: Reload on %s: %v", i, n.Snapshot().Node.Name, err)
			}
		}
		// A write through a follower crosses the peer transport and Raft.
		doc := clusterDoc(up, fmt.Sprintf("  - {name: s%d, match: {paths: [\"/s%d\"]}, upstream: demo, rewrite: /status/20%d}\n", i, i, i))
		if r := put(t, followerOf(t, ns).AdminURL+"/config", doc); r.status != 200 {
			t.Fatalf("step %d: PUT = %d (%s)", i, r.status, r.body)
		}
		for _, n := range ns {
			if got := len(n.Cluster().Members()); got != 3 {
				t.Errorf("step %d: %s sees %d members, want 3", i, n.Snapshot().Node.Name, got)
			}
		}
	}
}

// TestClusterNonServerNode: a node with cluster.server: false gets the
// cluster's config at start and every later version, and a PUT /config
// on it returns promptly and is then served by it. It used to get no
// document at all, and its writes committed and then waited 10 s to see
// their version served, and failed.
func TestClusterNonServerNode(t *testing.T) {
	up, _ := nodetest.Demo(t)
	server := nodetest.StartCluster(t, 1, clusterDoc(up, ""))[0]
	server.Spec.NonServers = map[string]bool{"client": true}
	client := server.Spec.StartNode(t, "client", t.TempDir(), clusterDoc(up, ""))
	nodetest.WaitFor(t, 10*time.Second, func() bool { return client.Snapshot().Version == 1 })

	tea := clusterDoc(up, "  - name: tea\n    match: {paths: [\"/tea\"]}\n    upstream: demo\n    rewrite: /status/418\n")
	if r := put(t, server.AdminURL+"/config", tea, "If-Match", `"1"`); r.status != 200 {
		t.Fatalf("PUT on the server = %d (%s)", r.status, r.body)
	}
	nodetest.WaitFor(t, 10*time.Second, func() bool { return client.Snapshot().Version == 2 })
	if s := get(t, client.URL+"/tea").status; s != 418 {
		t.Errorf("client: GET /tea = %d, want 418 from version 2", s)
	}

	coffee := clusterDoc(up, "  - name: coffee\n    match: {paths: [\"/coffee\"]}\n    upstream: demo\n    rewrite: /status/202\n")
	start := time.Now()
	r := put(t, client.AdminURL+"/config", coffee, "If-Match", `"2"`)
	t.Logf("PUT /config on the non-server answered %d in %v", r.status, time.Since(start))
	if r.status != 200 {
		t.Fatalf("PUT on the non-server = %d (%s)", r.status, r.body)
	}
	if v := client.Snapshot().Version; v != 3 {
		t.Errorf("client serves version %d once its write returned, want 3", v)
	}
	if s := get(t, client.URL+"/coffee").status; s != 202 {
		t.Errorf("client: GET /coffee = %d, want 202", s)
	}
	nodetest.WaitFor(t, 10*time.Second, func() bool { return server.Snapshot().Version == 3 })
}
