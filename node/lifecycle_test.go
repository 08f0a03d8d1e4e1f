package node_test

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/nodetest"
)

func withLog(buf io.Writer) func(*node.Config) {
	return func(c *node.Config) { c.Logger = slog.New(slog.NewTextHandler(buf, nil)) }
}

// teapot is a gateway document whose route /tea answers status.
func teapot(up string, status int) string {
	return fmt.Sprintf("upstreams: [{name: demo, targets: [{url: %q}]}]\nroutes: [{name: tea, match: {paths: [\"/tea\"]}, upstream: demo, rewrite: /status/%d}]\n", up, status)
}

// TestFileDiffersWarnedOncePerFile: in a cluster, the warning that the
// node's file differs from the cluster's document comes once per file
// content, not with every version the cluster applies.
func TestFileDiffersWarnedOncePerFile(t *testing.T) {
	up, _ := nodetest.Demo(t)
	var log syncBuffer
	n := nodetest.StartCluster(t, 1, gateway(up, ""), withLog(&log))[0]
	for i, status := range []int{418, 202, 204} {
		if r := put(t, n.AdminURL+"/config", teapot(up, status)); r.status != 200 {
			t.Fatalf("PUT %d = %d (%s)", i, r.status, r.body)
		}
	}
	const warning = "differ from the cluster's version"
	if got := strings.Count(log.String(), warning); got != 1 {
		t.Errorf("the file-differs warning was logged %d times over 3 cluster versions, want once:\n%s", got, log.String())
	}
	// A new file content is warned about again, once.
	nodetest.WriteConfig(t, n.File, "test-1", n.DataDir, teapot(up, 200))
	for range 2 {
		if err := n.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	if r := put(t, n.AdminURL+"/config", teapot(up, 203)); r.status != 200 {
		t.Fatalf("PUT = %d (%s)", r.status, r.body)
	}
	if got := strings.Count(log.String(), warning); got != 2 {
		t.Errorf("after editing the file: the warning was logged %d times, want 2:\n%s", got, log.String())
	}
}

// TestReloadFollowsLatestWrite: SIGHUP applies the start rule (the latest
// write wins) and logs which document won: a document PUT after the file
// was last applied survives a reload of the unchanged file; an edited
// file is the newer write and replaces it.
func TestReloadFollowsLatestWrite(t *testing.T) {
	up, _ := nodetest.Demo(t)
	var log syncBuffer
	n := nodetest.Start(t, 1, gateway(up, ""), withLog(&log))[0]
	if r := put(t, n.AdminURL+"/config", teapot(up, 418)); r.status != 200 {
		t.Fatalf("PUT = %d (%s)", r.status, r.body)
	}
	// The file unchanged but for a node-local setting.
	doc := strings.Replace(readFile(t, n.File), "shutdown_timeout: 10s", "shutdown_timeout: 11s", 1)
	writeFile(t, n.File, doc)
	if err := n.Reload(); err != nil {
		t.Fatal(err)
	}
	if s := get(t, n.URL+"/tea").status; s != 418 {
		t.Fatalf("after SIGHUP with the file unchanged: /tea = %d, want 418 (the PUT document)", s)
	}
	if !strings.Contains(log.String(), "keeping the config written through the admin API") {
		t.Errorf("the reload did not log that the PUT document was kept:\n%s", log.String())
	}
	nodetest.WriteConfig(t, n.File, "test-1", n.DataDir, teapot(up, 202))
	if err := n.Reload(); err != nil {
		t.Fatal(err)
	}
	if s := get(t, n.URL+"/tea").status; s != 202 {
		t.Fatalf("after SIGHUP with an edited file: /tea = %d, want 202 (the file)", s)
	}
	if !strings.Contains(log.String(), "the file is the latest write: it replaces the config written through the admin API") {
		t.Errorf("the reload did not log that the file replaced the PUT document:\n%s", log.String())
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
