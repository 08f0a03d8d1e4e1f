package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The global targets of the ratelimit scenarios: a 3-node cluster (all
// voters) whose one route has a global limit by X-Bench-Key, loaded
// through its first node. It starts in async mode; a config write then
// switches it to strict, so both targets run on the same nodes and keys.

// limitModeBound bounds how long the mode switch may take to reach every
// node.
const limitModeBound = 10 * time.Second

// tuneLimitCluster makes a cluster spec the ratelimit scenarios': the
// route with the global limit, in async mode.
func tuneLimitCluster(s *clusterSpec) {
	s.gateway = limitGatewayDoc(s.backend, "async")
}

// measureLimitCluster starts the cluster, measures global-async, writes
// the strict document through the first node, waits until every node
// serves it and measures global-strict; in the closed-loop scenario it
// then measures the overshoot (ratelimitaccuracy.go). Every node is
// stopped before it returns.
func (ph phase) measureLimitCluster(ctx context.Context, sc Scenario) ([]Row, []string, []Ratio) {
	rows := []Row{{Target: TargetGlobalAsync}, {Target: TargetGlobalStrict}}
	skip := func(from int, reason string) ([]Row, []string, []Ratio) {
		for i := from; i < len(rows); i++ {
			rows[i].Skipped = reason
		}
		return rows, nil, nil
	}
	began := time.Now()
	c, err := ph.tb.startCluster(ctx, sc, tuneLimitCluster)
	if c != nil {
		defer func() {
			// A fresh context: the nodes must be stopped even after Ctrl-C.
			stopCtx, cancel := context.WithTimeout(context.Background(), 2*stopGrace)
			defer cancel()
			c.close(stopCtx)
		}()
	}
	if err != nil {
		return skip(0, skipReason(ctx, "starting the cluster", err))
	}
	ph.progress.note("%s: %d nodes serving config version 1 after %v", sc.Name, len(c.nodes), time.Since(began).Round(time.Millisecond))
	var notes []string
	for i, mode := range []string{"async", "strict"} {
		if ctx.Err() != nil {
			break
		}
		if mode != "async" {
			if err := c.switchLimitMode(ctx, mode, strings.TrimPrefix(ph.tb.backendURL, "http://")); err != nil {
				rows, _, _ = skip(i, skipReason(ctx, "switching to "+mode, err))
				return rows, notes, nil
			}
		}
		var note string
		rows[i], note = ph.measureGlobal(ctx, sc, c, rows[i])
		if note != "" {
			notes = append(notes, note)
		}
	}
	if sc.Loop != LoopRateLimit || ctx.Err() != nil {
		return rows, notes, nil
	}
	over, more := ph.measureOvershoot(ctx, c, strings.TrimPrefix(ph.tb.backendURL, "http://"))
	return rows, append(notes, more...), over
}

// switchLimitMode writes the document with the global limit in mode
// through the first node and waits until every node serves it.
func (c *benchCluster) switchLimitMode(ctx context.Context, mode, backend string) error {
	v, kind := c.put(ctx, c.nodes[0], limitGatewayDoc(backend, mode))
	if kind != "" {
		return fmt.Errorf("writing the %s document: %s", mode, kind)
	}
	_, err := c.waitVersion(ctx, v, 20*time.Millisecond, limitModeBound)
	return err
}

// clusterCounters are what a global target reads of the whole cluster
// around its measured phase: every node's CPU and the loaded node's
// limiter and allocation counters (behind the admin token). A counter
// that could not be read is -1.
type clusterCounters struct {
	cpu                         time.Duration
	strict, hits, fallback, mal float64
}

// snapshot reads the counters; notes says which could not be read.
func (c *benchCluster) snapshot(ctx context.Context) (clusterCounters, []string) {
	s := clusterCounters{}
	var notes []string
	for _, n := range c.nodes {
		d, err := treeCPU(n.pid)
		if err != nil {
			notes = append(notes, "cluster cpu: "+err.Error())
			s.cpu = -1
			break
		}
		s.cpu += d
	}
	for _, m := range []struct {
		name string
		into *float64
	}{{strictItemsMetric, &s.strict}, {hitsItemsMetric, &s.hits}, {fallbackMetric, &s.fallback}, {mallocsMetric, &s.mal}} {
		v, err := c.scrape(ctx, c.nodes[0], m.name)
		if err != nil {
			// A histogram has no sample until its first observation.
			if m.name != mallocsMetric && strings.Contains(err.Error(), "not found") {
				continue
			}
			notes = append(notes, err.Error())
			v = -1
		}
		*m.into = v
	}
	return s, notes
}

// scrape reads one sample of n's admin /metrics, named exactly as name
// (labels included, as Prometheus writes them).
func (c *benchCluster) scrape(ctx context.Context, n *clusterNode, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.admin+"/metrics", nil)
	if err != nil {
		return 0, fmt.Errorf("scraping %s: %w", n.name, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scraping %s: %w", n.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return 0, fmt.Errorf("scraping %s: status %d", n.name, resp.StatusCode)
	}
	v, err := findSample(resp.Body, name)
	if err != nil {
		return 0, fmt.Errorf("scraping %s: %w", n.name, err)
	}
	return v, nil
}

// measureGlobal checks the first node's RateLimit-Policy, then runs the
// warm-up and the measured phase on it, and adds the cluster's figures:
// CPU of all nodes, what went to the owners, allocations of the loaded
// node. The note says how many requests went to another node.
func (ph phase) measureGlobal(ctx context.Context, sc Scenario, c *benchCluster, row Row) (Row, string) {
	n := c.nodes[0]
	url := n.url + sc.Path
	tr := sc.transport()
	defer tr.CloseIdleConnections()
	policy, err := checkLimited(ctx, &http.Client{Transport: tr, Timeout: 5 * time.Second}, url, true)
	if err != nil {
		row.Skipped = skipReason(ctx, "RateLimit headers", err)
		return row, ""
	}
	label := sc.Name + "/" + row.Target
	load := limitLoad(sc, url, tr)
	if err := ph.warmUp(ctx, label, load); err != nil {
		row.Skipped = skipReason(ctx, "warm-up", err)
		return row, ""
	}
	// The loaded node's own figures come from measureLoad (its metrics
	// need the token, so allocations are taken here).
	t := &target{name: row.Target, url: n.url, proc: c.procs[0]}
	before, notes := c.snapshot(ctx)
	noWarmUp := ph
	noWarmUp.warmup = 0
	row = noWarmUp.measureLoad(ctx, label, t, row, load)
	if row.Skipped != "" {
		return row, ""
	}
	after, more := c.snapshot(ctx)
	row.Notes = append(row.Notes, append(notes, more...)...)
	note := fillCluster(&row, before, after)
	return row, fmt.Sprintf("%s answers RateLimit-Policy: %s; %s", row.Target, policy, note)
}

// fillCluster fills a global row's cluster figures from the counters
// around its phase, and says what went to the owners.
func fillCluster(row *Row, before, after clusterCounters) string {
	if row.Requests == 0 {
		return "no requests"
	}
	n := float64(row.Requests)
	if before.cpu >= 0 && after.cpu >= 0 {
		v := float64(after.cpu-before.cpu) / float64(time.Microsecond) / n
		row.ClusterCPUUSPerReq = &v
	}
	if before.mal >= 0 && after.mal >= 0 {
		v := (after.mal - before.mal) / n
		row.AllocsPerReq = &v
	}
	var note string
	strict, hits := after.strict-before.strict, after.hits-before.hits
	if before.strict >= 0 && after.strict >= 0 && before.hits >= 0 && after.hits >= 0 {
		v := int64(strict + hits)
		row.ToOwners = &v
		if row.Target == TargetGlobalStrict {
			note = fmt.Sprintf("%.0f of %d decisions (%.0f%%) asked the key's owner on another node", strict, row.Requests, 100*strict/n)
		} else {
			note = fmt.Sprintf("%.0f hit counts sent to the keys' owners on other nodes for %d requests", hits, row.Requests)
		}
	}
	if f := after.fallback - before.fallback; before.fallback >= 0 && after.fallback >= 0 && f > 0 {
		note += fmt.Sprintf("; %.0f decisions fell back to this node (owner out of reach)", f)
	}
	return note
}
