package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"
)

// mallocsMetric is the Go runtime's cumulative allocation counter, which
// portico exposes on its admin /metrics.
const mallocsMetric = "go_memstats_mallocs_total"

// Row is one scenario × target: what was measured. Fields that do not
// apply are absent from the JSON (nil or zero).
type Row struct {
	// Target is the system measured; in a cluster scenario, the node the
	// row is about, or "cluster".
	Target string `json:"target"`
	// Measure says what a cluster scenario's row measures, e.g.
	// "write → applied on every node" or "idle", or a wan scenario's
	// ("ttfb, new connection" or "20 requests, one connection"); empty
	// elsewhere.
	Measure string `json:"measure,omitempty"`
	// Protocol is the client's protocol in the edge scenarios: "h1" (over
	// TLS), "h2", "h3", or "h3-0rtt" (HTTP/3 with the request in 0-RTT).
	Protocol string `json:"protocol,omitempty"`
	// Skipped says why the target has no figures.
	Skipped string `json:"skipped,omitempty"`
	// Requests is the number of completed requests in the measured phase.
	Requests int64 `json:"requests"`
	// OK is the number of 2xx answers among them.
	OK int64 `json:"ok"`
	// Errors counts the others by kind (see Result.Errors).
	Errors map[string]int64 `json:"errors,omitempty"`
	// ElapsedS is the length of the measured phase in seconds.
	ElapsedS float64 `json:"elapsed_s"`
	// RPS is 2xx answers per second.
	RPS float64 `json:"rps"`
	// RatioToDirect is RPS over direct's RPS in the same scenario.
	RatioToDirect *float64 `json:"ratio_to_direct,omitempty"`
	// Latency percentiles in microseconds.
	P50US  float64 `json:"p50_us"`
	P90US  float64 `json:"p90_us"`
	P99US  float64 `json:"p99_us"`
	P999US float64 `json:"p999_us"`
	// AddedP50US and AddedP99US are the percentile minus direct's in the
	// same scenario: the latency the proxy adds.
	AddedP50US *float64 `json:"added_p50_us,omitempty"`
	AddedP99US *float64 `json:"added_p99_us,omitempty"`
	// ProxyCPUUSPerReq is the CPU time (user+system, the proxy's process
	// tree) per request in microseconds; absent for direct.
	ProxyCPUUSPerReq *float64 `json:"proxy_cpu_us_per_req,omitempty"`
	// BackendCPUUSPerReq is the backend's CPU time per request.
	BackendCPUUSPerReq *float64 `json:"backend_cpu_us_per_req,omitempty"`
	// BackendReadBytes is what the backend process read over the phase
	// (rchar of /proc/PID/io): zero when no request reached it.
	BackendReadBytes *int64 `json:"backend_read_bytes,omitempty"`
	// BackendRequests is how many requests reached the backend during the
	// phase, estimated as BackendReadBytes over the bytes it read for the
	// target's first request (cache scenario).
	BackendRequests *float64 `json:"backend_requests,omitempty"`
	// CacheHits counts the 2xx answers whose headers said they came from
	// the cache (Cache-Status for portico, X-Cache-Status for the peers).
	CacheHits *int64 `json:"cache_hits,omitempty"`
	// ClusterCPUUSPerReq is the CPU time of every node of a cluster
	// target (the loaded one and the others, e.g. the owners of rate-limit
	// keys) per request, in microseconds (ratelimit scenarios).
	ClusterCPUUSPerReq *float64 `json:"cluster_cpu_us_per_req,omitempty"`
	// ToOwners counts what the loaded node of a cluster target sent the
	// other nodes, the owners of the keys, over the phase: the items of
	// its limiter peer batches (a decision each in strict mode, a key's
	// hits per batch in async mode; ratelimit scenarios).
	ToOwners *int64 `json:"to_owners,omitempty"`
	// LoadCPUUSPerReq is the load generator's CPU time per request.
	LoadCPUUSPerReq *float64 `json:"loadgen_cpu_us_per_req,omitempty"`
	// AllocsPerReq is portico's heap allocations per request (the delta of
	// go_memstats_mallocs_total over the phase, divided by Requests).
	AllocsPerReq *float64 `json:"allocs_per_req,omitempty"`
	// RaftRole is the node's role when the row was taken: "leader",
	// "voter" or "non-voter" (cluster scenario, idle rows).
	RaftRole string `json:"raft_role,omitempty"`
	// MaxUS is the largest latency in microseconds (cluster scenario).
	MaxUS float64 `json:"max_us,omitempty"`
	// CPUPercent is the CPU time (user+system) a node used over an idle
	// window, in percent of one core (cluster scenario).
	CPUPercent *float64 `json:"cpu_percent,omitempty"`
	// RSSMiB is the largest resident set size of a node seen during an
	// idle window, in MiB (cluster scenario).
	RSSMiB *float64 `json:"rss_mib,omitempty"`
	// Goal is the target the figure is held against, e.g. "p99 < 100ms",
	// and GoalMet whether it was met (cluster scenario).
	Goal    string `json:"goal,omitempty"`
	GoalMet *bool  `json:"goal_met,omitempty"`
	// Resumed counts the connections that resumed a TLS session, and
	// Used0RTT those whose request was sent and accepted in 0-RTT, out of
	// Requests (wan scenario, new connections).
	Resumed  *int64 `json:"resumed,omitempty"`
	Used0RTT *int64 `json:"used_0rtt,omitempty"`
	// Emulation says how the wan scenario emulated its network: "tun"
	// (kernel stacks through a user-space netem) or "user-space" (delays
	// and losses modelled in the client's sockets).
	Emulation string `json:"emulation,omitempty"`
	// Notes lists figures that could not be taken, and why, and how a
	// cluster figure was taken.
	Notes []string `json:"notes,omitempty"`
}

// phase holds what a measured phase needs besides the scenario.
type phase struct {
	tb       *testbed
	rng      *rand.Rand // picks the node each cluster config write goes to
	duration time.Duration
	warmup   time.Duration
	progress *progress
}

// counters is one snapshot of the cumulative counters around a phase. A
// counter that could not be read is -1, and notes says why.
type counters struct {
	proxyCPU, backendCPU, loadCPU time.Duration
	mallocs                       float64
	backendRead                   int64
	notes                         []string
}

func (ph phase) snapshot(ctx context.Context, t *target) counters {
	c := counters{proxyCPU: -1, backendCPU: -1, loadCPU: -1, mallocs: -1, backendRead: -1}
	cpu := func(what string, pid int, into *time.Duration) {
		d, err := treeCPU(pid)
		if err != nil {
			c.notes = append(c.notes, what+": "+err.Error())
			return
		}
		*into = d
	}
	if t.proc != nil {
		cpu("proxy cpu", t.proc.pid(), &c.proxyCPU)
	}
	cpu("backend cpu", ph.tb.backend.pid(), &c.backendCPU)
	cpu("load generator cpu", os.Getpid(), &c.loadCPU)
	if n, err := readChars(ph.tb.backend.pid()); err == nil {
		c.backendRead = n
	} else {
		c.notes = append(c.notes, "backend bytes read: "+err.Error())
	}
	if t.metricsURL != "" {
		v, err := scrapeCounter(ctx, ph.tb.client, t.metricsURL, mallocsMetric)
		if err != nil {
			c.notes = append(c.notes, "allocations: "+err.Error())
		} else {
			c.mallocs = v
		}
	}
	return c
}

// measure runs the warm-up, then the measured phase between two counter
// snapshots.
func (ph phase) measure(ctx context.Context, sc Scenario, t *target) Row {
	row := Row{Target: t.name, Skipped: t.skip}
	if t.skip != "" {
		return row
	}
	url := t.url + sc.Path
	// One pool for the warm-up and the phase: the phase starts on the
	// connections the warm-up opened, and closes them when done.
	tr := sc.transport()
	defer tr.CloseIdleConnections()
	return ph.measureLoad(ctx, sc.Name+"/"+t.name, t, row, func(d time.Duration, done *atomic.Int64) loader {
		return sc.load(url, d, done, tr)
	})
}

// measureLoad fills row from a warm-up and a measured phase of the loads
// newLoad makes, the measured one between two counter snapshots of t.
func (ph phase) measureLoad(ctx context.Context, label string, t *target, row Row, newLoad func(time.Duration, *atomic.Int64) loader) Row {
	if err := ph.warmUp(ctx, label, newLoad); err != nil {
		row.Skipped = skipReason(ctx, "warm-up", err)
		return row
	}
	before := ph.snapshot(ctx, t)
	done := ph.progress.start(label, ph.duration)
	res, err := newLoad(ph.duration, done).Run(ctx)
	ph.progress.stop()
	if err != nil {
		row.Skipped = skipReason(ctx, "measured phase", err)
		return row
	}
	after := ph.snapshot(ctx, t)
	fillResult(&row, res)
	fillCounters(&row, t, before, after)
	return row
}

// warmUp runs the unmeasured warm-up load newLoad makes, if there is one.
func (ph phase) warmUp(ctx context.Context, label string, newLoad func(time.Duration, *atomic.Int64) loader) error {
	if ph.warmup <= 0 {
		return nil
	}
	done := ph.progress.start(label+" warm-up", ph.warmup)
	_, err := newLoad(ph.warmup, done).Run(ctx)
	ph.progress.stop()
	return err
}

// skipReason says why a phase has no figures: the run was interrupted, or
// the phase failed.
func skipReason(ctx context.Context, phase string, err error) string {
	if ctx.Err() != nil {
		return "interrupted"
	}
	return fmt.Sprintf("%s: %v", phase, err)
}

func fillResult(row *Row, res *Result) {
	row.Requests, row.OK = res.Requests, res.OK
	if len(res.Errors) > 0 {
		row.Errors = res.Errors
	}
	row.ElapsedS = res.Elapsed.Seconds()
	row.RPS = res.RPS()
	if res.Hits > 0 {
		hits := res.Hits
		row.CacheHits = &hits
	}
	us := func(p float64) float64 { return float64(res.Percentile(p)) / float64(time.Microsecond) }
	row.P50US, row.P90US, row.P99US, row.P999US = us(50), us(90), us(99), us(99.9)
}

func fillCounters(row *Row, t *target, before, after counters) {
	row.Notes = append(before.notes, after.notes...)
	if row.Requests == 0 {
		return
	}
	n := float64(row.Requests)
	perReq := func(b, a time.Duration) *float64 {
		if b < 0 || a < 0 {
			return nil
		}
		v := float64(a-b) / float64(time.Microsecond) / n
		return &v
	}
	if t.proc != nil {
		row.ProxyCPUUSPerReq = perReq(before.proxyCPU, after.proxyCPU)
	}
	row.BackendCPUUSPerReq = perReq(before.backendCPU, after.backendCPU)
	row.LoadCPUUSPerReq = perReq(before.loadCPU, after.loadCPU)
	if before.backendRead >= 0 && after.backendRead >= 0 {
		v := after.backendRead - before.backendRead
		row.BackendReadBytes = &v
	}
	if t.metricsURL != "" && before.mallocs >= 0 && after.mallocs >= 0 {
		v := (after.mallocs - before.mallocs) / n
		row.AllocsPerReq = &v
	}
}

// compare fills the columns relative to direct: throughput ratio for a
// closed loop, added latency for an open loop.
func compare(sc Scenario, rows []Row) {
	var direct *Row
	for i := range rows {
		if rows[i].Target == TargetDirect && rows[i].Skipped == "" {
			direct = &rows[i]
		}
	}
	if direct == nil {
		return
	}
	for i := range rows {
		r := &rows[i]
		if r.Skipped != "" {
			continue
		}
		switch sc.Loop {
		case LoopClosed, LoopCache:
			if direct.RPS > 0 {
				v := r.RPS / direct.RPS
				r.RatioToDirect = &v
			}
		case LoopOpen:
			if r.Target == TargetDirect {
				continue
			}
			p50, p99 := r.P50US-direct.P50US, r.P99US-direct.P99US
			r.AddedP50US, r.AddedP99US = &p50, &p99
		}
	}
}
