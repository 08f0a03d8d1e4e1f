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
	var notes []string
	var over []Ratio
	if why := ph.runCluster(ctx, sc, tuneLimitCluster, func(r *clusterRun) { notes, over = r.limitMeasures(ctx, rows) }); why != "" {
		skipRows(rows, why)
		return rows, nil, nil
	}
	return rows, notes, over
}

// limitMeasures fills rows (global-async, global-strict) on r, switching
// the mode between them, then measures the overshoot in the closed-loop
// scenario. A failed switch skips the rows left and the overshoot.
func (r *clusterRun) limitMeasures(ctx context.Context, rows []Row) ([]string, []Ratio) {
	var notes []string
	for i, mode := range []string{"async", "strict"} {
		if ctx.Err() != nil {
			break
		}
		if mode != "async" {
			if err := r.apply(ctx, "the "+mode+" document", limitGatewayDoc(r.backend, mode)); err != nil {
				skipRows(rows[i:], skipReason(ctx, "switching to "+mode, err))
				return notes, nil
			}
		}
		var note string
		rows[i], note = r.measureGlobal(ctx, rows[i])
		if note != "" {
			notes = append(notes, note)
		}
	}
	if r.sc.Loop != LoopRateLimit || ctx.Err() != nil {
		return notes, nil
	}
	over, more := r.measureOvershoot(ctx)
	return append(notes, more...), over
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
func (r *clusterRun) measureGlobal(ctx context.Context, row Row) (Row, string) {
	sc, c := r.sc, r.c
	n := c.nodes[0]
	url := n.url + sc.Path
	tr := sc.transport()
	defer tr.CloseIdleConnections()
	policy, err := checkLimited(ctx, &http.Client{Transport: tr, Timeout: 5 * time.Second}, url, true)
	if err != nil {
		row.Skipped = skipReason(ctx, "RateLimit headers", err)
		return row, ""
	}
	// The loaded node's own figures come from measureLoad (its metrics
	// need the token, so allocations are taken here).
	t := &target{name: row.Target, url: n.url, proc: c.procs[0]}
	var before, after clusterCounters
	var notes []string
	row = r.loadNode(ctx, sc.Name+"/"+row.Target, t, row, limitLoad(sc, url, tr), func() func() {
		before, notes = c.snapshot(ctx)
		return func() {
			var more []string
			after, more = c.snapshot(ctx)
			notes = append(notes, more...)
		}
	})
	if row.Skipped != "" {
		return row, ""
	}
	row.Notes = append(row.Notes, notes...)
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
