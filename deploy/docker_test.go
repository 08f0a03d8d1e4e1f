//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Bounds of one docker or go command. A cold go build can take a while;
// everything else answers in seconds on a healthy engine.
const (
	buildTimeout   = 4 * time.Minute
	commandTimeout = 60 * time.Second
)

// harness owns the Docker objects of one test run: every name starts with
// prefix, everything carries the label portico-e2e=prefix, and t.Cleanup
// removes it all (containers, then networks, then the image) even when the
// test fails. It is used by the test goroutine only.
type harness struct {
	t      *testing.T
	prefix string // portico-e2e-<random>: names of containers and networks
	image  string // prefix's tag of the image built for this run
	edge   string // network of clients and the upstream; ports publish here
	mesh   string // internal network of gossip, Raft and peer traffic
	subnet string // mesh's /24 without the last octet, e.g. "172.30.7"
	token  string // admin token of every node
	env    []string
}

// newHarness skips the test unless a Docker engine answers, then makes
// the secrets of this run. The docker CLI gets them in its environment and
// containers take them by name (-e NAME), so they never show in argv.
func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info").CombinedOutput(); err != nil {
		t.Skipf("docker info failed, no engine to run the e2e test on: %v\n%s", err, lastLines(string(out), 3))
	}
	id := randomHex(t, 4)
	h := &harness{t: t, prefix: "portico-e2e-" + id, token: randomHex(t, 16)}
	h.image = "portico-e2e:" + id
	h.edge, h.mesh = h.prefix+"-edge", h.prefix+"-mesh"
	h.env = append(os.Environ(),
		"PORTICO_GOSSIP_KEY="+base64.StdEncoding.EncodeToString(randomBytes(t, 32)),
		"PORTICO_ADMIN_TOKEN="+h.token)
	if exec.CommandContext(ctx, "docker", "buildx", "version").Run() != nil {
		// No BuildKit plugin: the classic builder still builds FROM scratch.
		h.env = append(h.env, "DOCKER_BUILDKIT=0")
	}
	return h
}

// docker runs the docker CLI and returns its trimmed stdout; the error
// carries stderr.
func (h *harness) docker(args ...string) (string, error) {
	return h.dockerIn(nil, commandTimeout, args...)
}

func (h *harness) dockerIn(stdin []byte, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = h.env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// must is docker for commands the test can't go on without.
func (h *harness) must(args ...string) string {
	h.t.Helper()
	out, err := h.docker(args...)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// cleanup registers a removal command; its error is only logged, so one
// failed removal doesn't hide the others or the test's own failure.
func (h *harness) cleanup(args ...string) {
	h.t.Cleanup(func() {
		if _, err := h.docker(args...); err != nil {
			h.t.Logf("cleanup: %v", err)
		}
	})
}

// buildImage builds the static binary and the image of deploy/Dockerfile
// around it, in a context of its own (the binary and an empty data/).
func (h *harness) buildImage() {
	h.t.Helper()
	dir := h.t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, "portico"), "./cmd/portico")
	build.Dir = ".." // the module root; go test runs in deploy/
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		h.t.Fatalf("go build: %v\n%s", err, out)
	}
	dockerfile, err := filepath.Abs("Dockerfile")
	if err != nil {
		h.t.Fatal(err)
	}
	h.cleanup("rmi", "--force", h.image)
	if _, err := h.dockerIn(nil, buildTimeout, "build", "--quiet", "--force-rm", "--label", "portico-e2e="+h.prefix,
		"--file", dockerfile, "--tag", h.image, dir); err != nil {
		h.t.Fatal(err)
	}
}

// createNetworks makes the edge network (clients, the upstream, published
// ports) and the internal mesh network (gossip, Raft, peers) with a /24 of
// its own, so nodes keep fixed addresses across restarts and reconnects
// (Raft records a server's address). The subnet is picked at random in
// 172.28.0.0/14 and picked again if the engine already uses it.
func (h *harness) createNetworks() {
	h.t.Helper()
	h.must("network", "create", "--label", "portico-e2e="+h.prefix, h.edge)
	h.cleanup("network", "rm", h.edge)
	var err error
	for try := 0; try < 8; try++ {
		b := randomBytes(h.t, 2)
		h.subnet = fmt.Sprintf("172.%d.%d", 28+b[0]%4, b[1])
		_, err = h.docker("network", "create", "--internal", "--label", "portico-e2e="+h.prefix,
			"--subnet", h.subnet+".0/24", h.mesh)
		if err == nil {
			h.cleanup("network", "rm", h.mesh)
			return
		}
	}
	h.t.Fatalf("no free subnet for the mesh network: %v", err)
}

// startUpstream runs the demo upstream on the edge network, reachable by
// the nodes as upstream:9000 (the name compose/node*.yaml use).
func (h *harness) startUpstream() {
	h.t.Helper()
	name := h.prefix + "-upstream"
	h.cleanup("rm", "--force", "--volumes", name)
	h.must("run", "--detach", "--name", name, "--label", "portico-e2e="+h.prefix,
		"--network", h.edge, "--network-alias", "upstream",
		h.image, "demo-upstream", "--listen", "0.0.0.0:9000")
}

// node is one gateway container of the test cluster.
type node struct {
	name      string // in the cluster and in compose/: node1
	container string // prefix-node1
	meshIP    string // fixed address on the mesh network
	edge      string // host:port of its published edge port on loopback
	admin     string // host:port of its published admin port on loopback
}

// startNode starts compose/node<i>.yaml in a container: created on the
// edge network (so its loopback-published ports live there and survive a
// mesh disconnect), given its file, then joined to the mesh network under
// the name its file advertises, and started.
func (h *harness) startNode(i int) *node {
	h.t.Helper()
	n := &node{name: fmt.Sprintf("node%d", i), container: fmt.Sprintf("%s-node%d", h.prefix, i),
		meshIP: fmt.Sprintf("%s.%d", h.subnet, 10+i)}
	file, err := os.ReadFile(filepath.Join("compose", n.name+".yaml"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.cleanup("rm", "--force", "--volumes", n.container)
	h.t.Cleanup(func() { h.dumpLogs(n.container) }) // runs before the removal
	h.must("create", "--name", n.container, "--label", "portico-e2e="+h.prefix,
		"--network", h.edge, "--publish", "127.0.0.1::8080", "--publish", "127.0.0.1::9901",
		"--env", "PORTICO_GOSSIP_KEY", "--env", "PORTICO_ADMIN_TOKEN",
		h.image, "serve", "--config", "/etc/portico/portico.yaml")
	if _, err := h.dockerIn(tarFile(h.t, "etc/portico/portico.yaml", file), commandTimeout,
		"cp", "-", n.container+":/"); err != nil {
		h.t.Fatal(err)
	}
	h.connectMesh(n)
	h.must("start", n.container)
	h.refreshPorts(n)
	return n
}

// connectMesh attaches n to the mesh network under its cluster name at its
// fixed address (again after a disconnect: Docker forgets both).
func (h *harness) connectMesh(n *node) {
	h.t.Helper()
	h.must("network", "connect", "--alias", n.name, "--ip", n.meshIP, h.mesh, n.container)
}

// refreshPorts reads the host ports Docker published n on; they change
// when a container starts again.
func (h *harness) refreshPorts(n *node) {
	h.t.Helper()
	n.edge = firstLine(h.must("port", n.container, "8080/tcp"))
	n.admin = firstLine(h.must("port", n.container, "9901/tcp"))
}

// status runs `portico cluster status` inside n's container, against its
// own admin API on loopback with the run's token.
func (h *harness) status(n *node) (clusterView, error) {
	out, err := h.docker("exec", "--env", "PORTICO_ADMIN_TOKEN", n.container,
		"/portico", "cluster", "status", "--admin", "127.0.0.1:9901")
	if err != nil {
		return clusterView{}, err
	}
	return parseStatus(out)
}

// dumpLogs logs the end of a container's process log (its stderr; the
// access log on stdout is left out) when the test failed, or always when
// $PORTICO_E2E_LOGS is set.
func (h *harness) dumpLogs(container string) {
	if !h.t.Failed() && os.Getenv("PORTICO_E2E_LOGS") == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "logs", "--tail", "300", container)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		h.t.Logf("logs of %s: %v", container, err)
		return
	}
	h.t.Logf("process log of %s (last lines):\n%s", container, lastLines(stderr.String(), 40))
}

// tarFile is a tar stream holding one file (and its directories), for
// `docker cp -`, which needs no bind mount and so works with a remote
// engine too.
func tarFile(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		dir := strings.Join(parts[:i], "/") + "/"
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func randomHex(t *testing.T, n int) string { return hex.EncodeToString(randomBytes(t, n)) }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
