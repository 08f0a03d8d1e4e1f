package bench

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Poll intervals and bounds of the cluster scenario's measures.
const (
	applyPoll   = time.Millisecond       // /ready of every node after a write
	applyBound  = 5 * time.Second        // a write not applied everywhere by then is an error
	detectPoll  = 20 * time.Millisecond  // /cluster/members of every survivor after the kill
	detectBound = 30 * time.Second       // an observer not seeing "dead" by then is an error
	rssPoll     = time.Second            // VmRSS samples during the idle window
	idleSettle  = 500 * time.Millisecond // quiet between the writes and the idle window
)

// Goals of issue 3, shown beside the figures (never a test verdict).
const (
	goalApplyP99   = 100 * time.Millisecond
	goalDetect     = 3 * time.Second
	goalIdleCPUPct = 1.0
	goalIdleRSSMiB = 40.0
)

// Measures of the cluster scenario's rows (Row.Measure).
const (
	measureStart   = "cluster start"
	measurePut     = "write → PUT answered"
	measureApplied = "write → applied on every node"
	measureIdle    = "idle"
)

func measureDead(victim string) string { return victim + " SIGKILLed → seen dead" }

// targetCluster is the Target of a row about the whole cluster.
const targetCluster = "cluster"

// measureCluster runs the cluster scenario: it starts the cluster, times
// the config writes, samples the idle nodes, then kills one node and times
// its detection, in that order (the idle window needs every node alive).
// Every node is stopped before it returns.
func (ph phase) measureCluster(ctx context.Context, sc Scenario) []Row {
	var rows []Row
	if why := ph.runCluster(ctx, sc, nil, func(r *clusterRun) { rows = r.clusterMeasures(ctx) }); why != "" {
		return []Row{{Target: targetCluster, Measure: measureStart, Skipped: why}}
	}
	return rows
}

// clusterMeasures are the cluster scenario's three measures on r.
func (r *clusterRun) clusterMeasures(ctx context.Context) []Row {
	c, sc := r.c, r.sc
	rows := c.measureWrites(ctx, sc.Writes, r.ph.rng, r.backend)
	r.note("%d config writes done", sc.Writes)
	if !pause(ctx, idleSettle) {
		return rows
	}
	st := c.raftStatus(ctx)
	idle := c.measureIdle(ctx, time.Duration(sc.IdleS*float64(time.Second)), rssPoll)
	for i := range idle {
		// The leader's heartbeats make it the busiest idle node.
		idle[i].RaftRole = raftRole(idle[i].Target, st)
	}
	rows = append(rows, idle...)
	r.note("idle sampled for %gs", sc.IdleS)
	if ctx.Err() != nil {
		return rows
	}
	rows = append(rows, c.measureDetection(ctx, st, detectPoll, detectBound)...)
	r.note("failure detection done")
	return rows
}

// pause waits d, or less if ctx ends first; it reports whether ctx is
// still live.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// measureWrites sends n sequential config writes, alternating the two
// gateway documents, each to a node picked by rng, and times each from
// sending the PUT to its answer, and to every node serving the version it
// returned. Failed writes are counted as errors, not timed.
func (c *benchCluster) measureWrites(ctx context.Context, n int, rng *rand.Rand, backend string) []Row {
	put, applied := newResult(), newResult()
	began := time.Now()
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		node := c.nodes[rng.IntN(len(c.nodes))]
		sent := time.Now()
		version, kind := c.put(ctx, node, gatewayDoc(backend, i%2 == 0))
		answered := time.Since(sent)
		if kind != "" {
			fail(put, kind)
			fail(applied, kind)
			continue
		}
		put.record(answered, 200, "")
		last, err := c.waitVersion(ctx, version, applyPoll, applyBound)
		if err != nil {
			fail(applied, "not applied everywhere in "+applyBound.String())
			continue
		}
		applied.record(last.Sub(sent), 200, "")
	}
	put.Elapsed, applied.Elapsed = time.Since(began), time.Since(began)
	rows := []Row{
		{Target: targetCluster, Measure: measurePut},
		{Target: targetCluster, Measure: measureApplied, Goal: "p99 < " + goalApplyP99.String()},
	}
	for i, res := range []*Result{put, applied} {
		fillResult(&rows[i], res)
		rows[i].MaxUS = float64(res.Latency.Max())
	}
	if ctx.Err() != nil {
		rows[0].Skipped, rows[1].Skipped = "interrupted", "interrupted"
		return rows
	}
	met := applied.OK == applied.Requests && applied.OK > 0 && rows[1].P99US < float64(goalApplyP99.Microseconds())
	rows[1].GoalMet = &met
	rows[1].Notes = []string{fmt.Sprintf("each PUT to a random node; then every node's /ready polled every %v until its config_version ≥ the version the PUT returned", applyPoll)}
	return rows
}

// fail counts a write that failed, without a latency.
func fail(r *Result, kind string) {
	r.Requests++
	r.Errors[kind]++
}

// measureIdle samples, with no traffic, each node's CPU time over d and
// its resident memory every rssEvery, and reports CPU as a percentage of
// one core and the largest RSS seen.
func (c *benchCluster) measureIdle(ctx context.Context, d, rssEvery time.Duration) []Row {
	rows := make([]Row, len(c.nodes))
	before := make([]time.Duration, len(c.nodes))
	peak := make([]int64, len(c.nodes))
	for i, n := range c.nodes {
		rows[i] = Row{Target: n.name, Measure: measureIdle,
			Goal: fmt.Sprintf("cpu < %g%%, rss < %g MiB", goalIdleCPUPct, goalIdleRSSMiB)}
		before[i] = c.nodeCPU(&rows[i], n)
	}
	began := time.Now()
	sampleRSS := func() {
		for i, n := range c.nodes {
			if rss, err := readRSS(n.pid); err == nil {
				peak[i] = max(peak[i], rss)
			}
		}
	}
	sampleRSS()
	tick := time.NewTicker(rssEvery)
	defer tick.Stop()
	end := time.NewTimer(d)
	defer end.Stop()
	for waiting := true; waiting; {
		select {
		case <-ctx.Done():
			for i := range rows {
				rows[i].Skipped = "interrupted"
			}
			return rows
		case <-tick.C:
			sampleRSS()
		case <-end.C:
			waiting = false
		}
	}
	sampleRSS()
	elapsed := time.Since(began)
	for i, n := range c.nodes {
		fillIdle(&rows[i], before[i], c.nodeCPU(&rows[i], n), peak[i], elapsed)
	}
	return rows
}

// nodeCPU is n's utime+stime so far, or -1 with a note on row.
func (c *benchCluster) nodeCPU(row *Row, n *clusterNode) time.Duration {
	st, err := readProcStat(n.pid)
	if err != nil {
		row.Notes = append(row.Notes, "cpu: "+err.Error())
		return -1
	}
	return st.cpu
}

// fillIdle puts an idle window's figures into row.
func fillIdle(row *Row, before, after time.Duration, rssBytes int64, elapsed time.Duration) {
	row.ElapsedS = elapsed.Seconds()
	if before >= 0 && after >= 0 && elapsed > 0 {
		pct := 100 * float64(after-before) / float64(elapsed)
		row.CPUPercent = &pct
	}
	if rssBytes > 0 {
		mib := float64(rssBytes) / (1 << 20)
		row.RSSMiB = &mib
	} else {
		row.Notes = append(row.Notes, "rss: VmRSS could not be read")
	}
	if row.CPUPercent != nil && row.RSSMiB != nil {
		met := *row.CPUPercent < goalIdleCPUPct && *row.RSSMiB < goalIdleRSSMiB
		row.GoalMet = &met
	}
}

// readRSS is the resident set size of pid in bytes, from VmRSS in
// /proc/PID/status.
func readRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("reading status of %d: %w", pid, err)
	}
	defer f.Close()
	return parseVmRSS(bufio.NewScanner(f))
}

// parseVmRSS finds "VmRSS:   21308 kB" among the lines of sc.
func parseVmRSS(sc *bufio.Scanner) (int64, error) {
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("parsing VmRSS %q: want a number of kB", rest)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing VmRSS: %w", err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading status: %w", err)
	}
	return 0, fmt.Errorf("no VmRSS line (a kernel thread or a zombie)")
}

// measureDetection kills one node that is not the Raft leader of st and
// times, per surviving node, how long until its /cluster/members shows
// the node "dead": one row per observer, then one for all of them.
func (c *benchCluster) measureDetection(ctx context.Context, st raftStatus, poll, bound time.Duration) []Row {
	vi := victim(c.nodes, st.Leader)
	victim := c.nodes[vi]
	measure := measureDead(victim.name)
	goal := "< " + goalDetect.String()
	var observers []*clusterNode
	for i, n := range c.nodes {
		if i != vi {
			observers = append(observers, n)
		}
	}
	killed := time.Now()
	if err := victim.kill(); err != nil {
		return []Row{{Target: targetCluster, Measure: measure, Skipped: fmt.Sprintf("killing %s: %v", victim.name, err)}}
	}
	took := make([]time.Duration, len(observers))
	ctxBound, cancel := context.WithDeadline(ctx, killed.Add(bound))
	defer cancel()
	var wg sync.WaitGroup
	for i, obs := range observers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			took[i] = c.pollDead(ctxBound, obs, victim.name, killed, poll)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return []Row{{Target: targetCluster, Measure: measure, Skipped: "interrupted"}}
	}
	all := newResult()
	var rows []Row
	for i, obs := range observers {
		one := newResult()
		for _, r := range []*Result{one, all} {
			if took[i] > 0 {
				r.record(took[i], 200, "")
			} else {
				fail(r, "not dead after "+bound.String())
			}
		}
		rows = append(rows, detectionRow(obs.name, measure, goal, one))
	}
	agg := detectionRow(targetCluster, measure, goal, all)
	agg.Notes = []string{fmt.Sprintf("killed %s (%s); raft leader %s; each survivor's /cluster/members polled every %v, bounded at %v",
		victim.name, orUnknown(raftRole(victim.name, st)), orUnknown(st.Leader), poll, bound)}
	return append(rows, agg)
}

// detectionRow is a detection row from its samples.
func detectionRow(target, measure, goal string, res *Result) Row {
	row := Row{Target: target, Measure: measure, Goal: goal}
	fillResult(&row, res)
	row.MaxUS = float64(res.Latency.Max())
	met := res.OK == res.Requests && res.OK > 0 && row.MaxUS < float64(goalDetect.Microseconds())
	row.GoalMet = &met
	return row
}

// victim picks the node to kill: the last one that is not the Raft
// leader (a non-voter when there is one), so config writes stay possible
// and detection is gossip's alone.
func victim(nodes []*clusterNode, leader string) int {
	for i := len(nodes) - 1; i > 0; i-- {
		if nodes[i].name != leader {
			return i
		}
	}
	return 0
}

// raftStatus is the Raft status as the first node that answers sees it,
// or an empty one.
func (c *benchCluster) raftStatus(ctx context.Context) raftStatus {
	for _, n := range c.nodes {
		var st raftStatus
		if err := c.getJSON(ctx, n, "/cluster/status", &st); err == nil {
			return st
		}
	}
	return raftStatus{}
}

// raftRole is name's role in st: "leader", "voter", "non-voter", or ""
// when st does not list it.
func raftRole(name string, st raftStatus) string {
	switch {
	case name == st.Leader:
		return "leader"
	case slices.Contains(st.Voters, name):
		return "voter"
	case slices.Contains(st.NonVoters, name):
		return "non-voter"
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// pollDead returns how long after killed obs first listed victim as
// "dead", or 0 if ctx ended first.
func (c *benchCluster) pollDead(ctx context.Context, obs *clusterNode, victim string, killed time.Time, poll time.Duration) time.Duration {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		if state, err := c.memberState(ctx, obs, victim); err == nil && state == "dead" {
			return time.Since(killed)
		}
		select {
		case <-ctx.Done():
			return 0
		case <-tick.C:
		}
	}
}
