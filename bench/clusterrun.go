package bench

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The skeleton every cluster scenario is written against. A scenario's
// measure calls runCluster with its Scenario (Nodes, Voters), an optional
// tune of the nodes' config and its body; runCluster starts the nodes,
// each a `portico serve` process, waits until they form a cluster, notes
// it, runs the body with a clusterRun and stops every node before it
// returns, even after Ctrl-C. The body measures through the clusterRun:
// apply (a new gateway document, served by every node), loadNode (a
// warm-up then a measured load of one node) and note (progress under the
// scenario's name). A scenario needs nothing else of this file.

// versionPoll is how often every node's /ready is asked while the cluster
// forms and while a document applied reaches the nodes; applyDocBound
// bounds the latter.
const (
	versionPoll   = 20 * time.Millisecond
	applyDocBound = 10 * time.Second
)

// clusterRun is one cluster scenario's running cluster, as runCluster
// hands it to the scenario's body. Its methods may be called from the
// body's goroutine only.
type clusterRun struct {
	ph phase
	sc Scenario
	c  *benchCluster
	// backend is host:port of the testbed's backend, which the gateway
	// documents route to.
	backend string
}

// runCluster starts sc's cluster (sc.Nodes nodes, the first sc.Voters
// voting; tune, if not nil, adjusts the nodes' config before it is
// written), runs body on it once every node serves config version 1, and
// stops every node before it returns. When the cluster cannot be started,
// body does not run and runCluster returns why, for the rows' Skipped
// ("interrupted" once ctx has ended); otherwise it returns "".
func (ph phase) runCluster(ctx context.Context, sc Scenario, tune func(*clusterSpec), body func(*clusterRun)) (skipped string) {
	began := time.Now()
	c, err := ph.tb.startCluster(ctx, sc, tune)
	if c != nil {
		defer func() {
			// A fresh context: the nodes must be stopped even after Ctrl-C.
			stopCtx, cancel := context.WithTimeout(context.Background(), 2*stopGrace)
			defer cancel()
			c.close(stopCtx)
		}()
	}
	if err != nil {
		return skipReason(ctx, "starting the cluster", err)
	}
	r := &clusterRun{ph: ph, sc: sc, c: c, backend: strings.TrimPrefix(ph.tb.backendURL, "http://")}
	r.note("%d nodes serving config version 1 after %v", len(c.nodes), time.Since(began).Round(time.Millisecond))
	body(r)
	return ""
}

// skipRows marks every row skipped for reason.
func skipRows(rows []Row, reason string) {
	for i := range rows {
		rows[i].Skipped = reason
	}
}

// note shows a progress line prefixed with the scenario's name.
func (r *clusterRun) note(format string, args ...any) {
	r.ph.progress.note("%s: "+format, append([]any{r.sc.Name}, args...)...)
}

// apply writes doc, the gateway document, through the first node and
// waits until every node serves the version it committed. what names the
// document in the error, e.g. "the strict document".
func (r *clusterRun) apply(ctx context.Context, what, doc string) error {
	v, kind := r.c.put(ctx, r.c.nodes[0], doc)
	if kind != "" {
		return fmt.Errorf("writing %s: %s", what, kind)
	}
	_, err := r.c.waitVersion(ctx, v, versionPoll, applyDocBound)
	return err
}

// loadNode fills row from the scenario's warm-up, then its measured phase,
// of the loads newLoad makes, on t (a node of the cluster, with or
// without its process for its CPU), labelled label in the progress.
// around, if not nil, is called between the warm-up and the measured
// phase, and the function it returns (if not nil) once that phase has
// been measured: the cluster-wide counters go there.
func (r *clusterRun) loadNode(ctx context.Context, label string, t *target, row Row,
	newLoad func(time.Duration, *atomic.Int64) loader, around func() (after func())) Row {
	if err := r.ph.warmUp(ctx, label, newLoad); err != nil {
		row.Skipped = skipReason(ctx, "warm-up", err)
		return row
	}
	var after func()
	if around != nil {
		after = around()
	}
	measured := r.ph
	measured.warmup = 0 // done above
	row = measured.measureLoad(ctx, label, t, row, newLoad)
	if row.Skipped == "" && after != nil {
		after()
	}
	return row
}

// clusterStartBound bounds how long the cluster may take to form: every
// node serving config version 1.
const clusterStartBound = 30 * time.Second

// clusterNode is one portico node of the bench cluster, seen through its
// admin API.
type clusterNode struct {
	name  string
	url   string // base URL of its data listener, "http://127.0.0.1:PORT"
	admin string // base URL of its admin API, "http://127.0.0.1:PORT"
	pid   int    // whose CPU and memory are sampled
	// kill ends the node at once (SIGKILL to its process group).
	kill func() error
}

// benchCluster is the cluster scenario's nodes and the client that talks
// to their admin APIs. Its methods may be called from one goroutine at a
// time; each starts and waits for its own pollers.
type benchCluster struct {
	nodes  []*clusterNode
	token  string // admin bearer token, the same on every node
	client *http.Client
	procs  []*process // the node processes, stopped by close
}

// startCluster starts the scenario's nodes on the testbed's CPU: the
// voters first, until they have elected a leader and serve config version
// 1, then the others, which join as non-voters. tune, if not nil, adjusts
// the nodes' config (the gateway document, node settings) before they are
// written. The nodes' files and data live in the work dir's subdirectory
// named after the scenario. The returned cluster (non-nil whenever a node
// was started, even with an error) must be closed.
func (tb *testbed) startCluster(ctx context.Context, sc Scenario, tune func(*clusterSpec)) (*benchCluster, error) {
	dir := filepath.Join(tb.dir, sc.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating cluster dir: %w", err)
	}
	key, err := randomText(32, base64.StdEncoding.EncodeToString)
	if err != nil {
		return nil, err
	}
	token, err := randomText(16, hex.EncodeToString)
	if err != nil {
		return nil, err
	}
	flat, err := freePorts(5 * sc.Nodes)
	if err != nil {
		return nil, err
	}
	spec := clusterSpec{voters: sc.Voters, key: key, token: token, backend: strings.TrimPrefix(tb.backendURL, "http://"), dir: dir}
	for i := range sc.Nodes {
		f := flat[5*i:]
		spec.ports = append(spec.ports, nodePorts{edge: f[0], admin: f[1], gossip: f[2], raft: f[3], peer: f[4]})
	}
	if tune != nil {
		tune(&spec)
	}
	c := &benchCluster{token: token, client: &http.Client{Transport: newTransport(4), Timeout: 10 * time.Second}}
	for _, group := range [][2]int{{0, sc.Voters}, {sc.Voters, sc.Nodes}} {
		for i := group[0]; i < group[1]; i++ {
			if err := tb.startNode(ctx, c, spec, i); err != nil {
				return c, err
			}
		}
		if _, err := c.waitVersion(ctx, 1, versionPoll, clusterStartBound); err != nil {
			return c, fmt.Errorf("forming the cluster: %w", err)
		}
	}
	return c, nil
}

// startNode writes node i's config, starts it and waits for its /ready.
func (tb *testbed) startNode(ctx context.Context, c *benchCluster, spec clusterSpec, i int) error {
	name := nodeName(i)
	path := filepath.Join(spec.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(spec.nodeConfig(i)), 0o600); err != nil {
		return fmt.Errorf("writing config of %s: %w", name, err)
	}
	p, err := tb.start(procSpec{
		name: name, dir: spec.dir, cpu: tb.cfg.cpu, taskset: tb.cfg.taskset,
		argv: []string{tb.cfg.binary, "serve", "--config", path},
	})
	if err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	n := &clusterNode{name: name, url: "http://" + loopback(spec.ports[i].edge), admin: "http://" + loopback(spec.ports[i].admin), pid: p.pid(), kill: func() error {
		// The child leads its own group (Setpgid): taskset, if any, has
		// exec'd portico, so the group is the node.
		return syscall.Kill(-p.pid(), syscall.SIGKILL)
	}}
	c.nodes = append(c.nodes, n)
	if err := p.waitReady(ctx, c.client, n.admin+"/ready"); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	return nil
}

// close stops every node, all at once (a node leaving the cluster may
// take its time), and returns when all have been reaped.
func (c *benchCluster) close(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range c.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.stop(ctx) // stop ends with SIGKILL: nothing is left behind
		}()
	}
	wg.Wait()
	c.client.CloseIdleConnections()
}

// waitVersion polls every node's /ready each poll until each serves config
// version want or later, and returns when the last one was seen there. It
// gives up after bound, naming the nodes that lag.
func (c *benchCluster) waitVersion(ctx context.Context, want int64, poll, bound time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	seen := make([]time.Time, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen[i] = c.pollVersion(ctx, n, want, poll)
		}()
	}
	wg.Wait()
	var last time.Time
	var lag []string
	for i, t := range seen {
		if t.IsZero() {
			lag = append(lag, c.nodes[i].name)
		} else if t.After(last) {
			last = t
		}
	}
	if len(lag) > 0 {
		return last, fmt.Errorf("waiting for config version %d: %s not there after %v", want, strings.Join(lag, ", "), bound)
	}
	return last, nil
}

// pollVersion returns when n was first seen serving version want or
// later, or the zero time if ctx ended first.
func (c *benchCluster) pollVersion(ctx context.Context, n *clusterNode, want int64, poll time.Duration) time.Time {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		var ready struct {
			Version int64 `json:"config_version"`
		}
		if err := c.getJSON(ctx, n, "/ready", &ready); err == nil && ready.Version >= want {
			return time.Now()
		}
		select {
		case <-ctx.Done():
			return time.Time{}
		case <-tick.C:
		}
	}
}
