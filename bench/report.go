package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the result of a run, as written to bench-results.json.
type Report struct {
	Started     time.Time        `json:"started"`
	Finished    time.Time        `json:"finished"`
	Interrupted bool             `json:"interrupted,omitempty"`
	Environment Environment      `json:"environment"`
	Settings    Settings         `json:"settings"`
	Scenarios   []ScenarioReport `json:"scenarios"`
}

// Environment describes the machine and the software measured.
type Environment struct {
	GoVersion   string `json:"go_version"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model,omitempty"`
	Kernel      string `json:"kernel,omitempty"`
	GitDescribe string `json:"git_describe,omitempty"`
	// Versions maps a target to the first line its binary prints for its
	// version flag.
	Versions map[string]string `json:"versions,omitempty"`
	Pinning  Pinning           `json:"pinning"`
}

// Settings are the run's load settings.
type Settings struct {
	DurationS   float64 `json:"duration_s"`
	WarmupS     float64 `json:"warmup_s"`
	Connections int     `json:"connections"`
	Rate        int     `json:"rate"`
	// Order says how targets follow each other.
	Order string `json:"order"`
}

const targetOrder = "fixed order per scenario: direct, portico, nginx, haproxy; each target gets its own warm-up, then its measured phase"

func newSettings(o Options) Settings {
	return Settings{
		DurationS:   o.Duration.Seconds(),
		WarmupS:     max(0, o.Warmup).Seconds(),
		Connections: o.Connections,
		Rate:        o.Rate,
		Order:       targetOrder,
	}
}

// ScenarioReport is one scenario and its rows, one per target (per
// target and protocol in the edge scenarios).
type ScenarioReport struct {
	Scenario
	Rows []Row `json:"rows"`
	// Ratios are figures derived from two rows, each against its goal
	// (edge and cache scenarios).
	Ratios []Ratio `json:"ratios,omitempty"`
	// Notes say how the scenario went, e.g. the size of the cached
	// response or how its keys were found.
	Notes []string `json:"notes,omitempty"`
}

// Ratio is one figure divided by another of the same scenario, e.g.
// portico's CPU per request over HTTP/3 over the same over HTTP/2.
type Ratio struct {
	// Name says what is divided by what.
	Name string `json:"name"`
	// Value is the quotient; nil when a figure is missing (Note says which).
	Value *float64 `json:"value,omitempty"`
	// Goal is the bound the issue sets, e.g. "≤ 1.2", and GoalMet whether
	// Value is within it; both empty when there is none.
	Goal    string `json:"goal,omitempty"`
	GoalMet *bool  `json:"goal_met,omitempty"`
	Note    string `json:"note,omitempty"`
}

// newRatio divides num by den, held against "≤ limit" when limit > 0.
func newRatio(name string, num, den *float64, limit float64) Ratio {
	r := Ratio{Name: name}
	if limit > 0 {
		r.Goal = fmt.Sprintf("≤ %g", limit)
	}
	switch {
	case num == nil || den == nil:
		r.Note = "a figure is missing (target skipped or not measured)"
		return r
	case *den <= 0:
		r.Note = "divisor is zero"
		return r
	}
	v := *num / *den
	r.Value = &v
	if limit > 0 {
		met := v <= limit
		r.GoalMet = &met
	}
	return r
}

// newRatioAtLeast divides num by den, held against "≥ floor".
func newRatioAtLeast(name string, num, den *float64, floor float64) Ratio {
	r := newRatio(name, num, den, 0)
	r.Goal = fmt.Sprintf("≥ %g", floor)
	if r.Value != nil {
		met := *r.Value >= floor
		r.GoalMet = &met
	}
	return r
}

// newFigure is a figure of one row held against "≤ limit" (a per-request
// cost, say), shown with the ratios.
func newFigure(name string, v *float64, limit float64) Ratio {
	one := 1.0
	return newRatio(name, v, &one, limit)
}

// ratioLine is "portico h3 ÷ h2, proxy cpu µs/req: 1.07 (goal ≤ 1.2: met)".
func ratioLine(r Ratio) string {
	v := "-"
	if r.Value != nil {
		v = fmt.Sprintf("%.2f", *r.Value)
	}
	s := r.Name + ": " + v
	switch {
	case r.GoalMet != nil && *r.GoalMet:
		s += " (goal " + r.Goal + ": met)"
	case r.GoalMet != nil:
		s += " (goal " + r.Goal + ": MISSED)"
	case r.Goal != "":
		s += " (goal " + r.Goal + ")"
	}
	if r.Note != "" {
		s += " — " + r.Note
	}
	return s
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("writing json report: %w", err)
	}
	return nil
}

// column is one column of the tables, the same in the terminal and in
// Markdown.
type column struct {
	title string
	value func(Row) string
}

// columns are a scenario's table columns: a closed loop is about
// throughput and cost, an open loop about latency.
func columns(loop Loop) []column {
	errs := column{"errors", func(r Row) string { return errorSummary(r.Errors) }}
	proxyCPU := column{"proxy cpu µs/req", func(r Row) string { return fmtOpt(r.ProxyCPUUSPerReq, 1) }}
	clusterCPU := column{"cluster cpu µs/req", func(r Row) string { return fmtOpt(r.ClusterCPUUSPerReq, 1) }}
	toOwners := column{"to owners", func(r Row) string { return fmtCount(r.ToOwners) }}
	tooMany := column{"429s", func(r Row) string { return groupDigits(r.Errors[limitStatus]) }}
	// Columns several loops show.
	rps := column{"rps", func(r Row) string { return groupDigits(int64(r.RPS + 0.5)) }}
	backendCPU := column{"backend cpu µs/req", func(r Row) string { return fmtOpt(r.BackendCPUUSPerReq, 1) }}
	allocs := column{"allocs/req", func(r Row) string { return fmtOpt(r.AllocsPerReq, 1) }}
	requests := column{"requests", func(r Row) string { return groupDigits(r.Requests) }}
	p50 := column{"p50", func(r Row) string { return fmtUS(r.P50US) }}
	p90 := column{"p90", func(r Row) string { return fmtUS(r.P90US) }}
	p99 := column{"p99", func(r Row) string { return fmtUS(r.P99US) }}
	p999 := column{"p99.9", func(r Row) string { return fmtUS(r.P999US) }}
	switch loop {
	case LoopCluster:
		return append(clusterColumns(), errs)
	case LoopCache:
		return []column{
			rps,
			{"× direct", func(r Row) string { return fmtOpt(r.RatioToDirect, 2) }},
			proxyCPU,
			backendCPU,
			{"backend reqs", func(r Row) string { return fmtRound(r.BackendRequests) }},
			{"hits", func(r Row) string { return fmtCount(r.CacheHits) }},
			allocs,
			p50,
			p99,
			errs,
		}
	case LoopCacheCluster:
		return []column{
			{"node", func(r Row) string { return r.Target }},
			requests,
			{"hits", func(r Row) string { return fmtCount(r.CacheHits) }},
			p50,
			p90,
			p99,
			p999,
			{"+p50 vs local", func(r Row) string { return fmtAdded(r.AddedP50US) }},
			{"+p99 vs local", func(r Row) string { return fmtAdded(r.AddedP99US) }},
			{"goal", fmtGoal},
			errs,
		}
	case LoopRateLimit:
		return []column{
			rps,
			proxyCPU,
			clusterCPU,
			backendCPU,
			allocs,
			toOwners,
			p50,
			p99,
			tooMany,
			errs,
		}
	case LoopRateLimitLatency:
		return []column{
			requests,
			p50,
			p90,
			p99,
			p999,
			proxyCPU,
			clusterCPU,
			toOwners,
			tooMany,
			errs,
		}
	case LoopProtocols:
		return []column{
			{"protocol", func(r Row) string { return r.Protocol }},
			rps,
			proxyCPU,
			backendCPU,
			allocs,
			p50,
			p99,
			errs,
		}
	case LoopWAN:
		return []column{
			{"target", func(r Row) string { return r.Target }},
			{"protocol", func(r Row) string { return r.Protocol }},
			{"samples", func(r Row) string { return groupDigits(r.Requests) }},
			p50,
			p90,
			p99,
			{"resumed", func(r Row) string { return fmtCount(r.Resumed) }},
			{"0-RTT", func(r Row) string { return fmtCount(r.Used0RTT) }},
			errs,
			{"emulation", func(r Row) string { return r.Emulation }},
		}
	}
	if loop == LoopOpen {
		return []column{
			requests,
			p50,
			p99,
			p999,
			{"+p50 vs direct", func(r Row) string { return fmtAdded(r.AddedP50US) }},
			{"+p99 vs direct", func(r Row) string { return fmtAdded(r.AddedP99US) }},
			proxyCPU, errs,
		}
	}
	return []column{
		rps,
		{"× direct", func(r Row) string { return fmtOpt(r.RatioToDirect, 2) }},
		proxyCPU,
		backendCPU,
		allocs,
		p50,
		p99,
		errs,
	}
}

// clusterColumns are the cluster scenario's: latencies for the writes and
// the failure detection, cost for the idle nodes, each against its goal.
// A row shows the figures it has and "-" for the others.
func clusterColumns() []column {
	latency := func(min int64, us func(Row) float64) func(Row) string {
		return func(r Row) string {
			if r.OK < min {
				return "-"
			}
			return fmtUS(us(r))
		}
	}
	return []column{
		{"node", func(r Row) string {
			if r.RaftRole != "" {
				return r.Target + " (" + r.RaftRole + ")"
			}
			return r.Target
		}},
		{"samples", func(r Row) string {
			if r.Requests == 0 {
				return "-"
			}
			return groupDigits(r.Requests)
		}},
		// Percentiles of one sample say nothing max does not.
		{"p50", latency(2, func(r Row) float64 { return r.P50US })},
		{"p99", latency(2, func(r Row) float64 { return r.P99US })},
		{"max", latency(1, func(r Row) float64 { return r.MaxUS })},
		{"cpu % of a core", func(r Row) string { return fmtOpt(r.CPUPercent, 2) }},
		{"rss MiB", func(r Row) string { return fmtOpt(r.RSSMiB, 1) }},
		{"goal", fmtGoal},
	}
}

// fmtGoal is "p99 < 100ms: met", "…: MISSED", or "-".
func fmtGoal(r Row) string {
	switch {
	case r.Goal == "":
		return "-"
	case r.GoalMet == nil:
		return r.Goal
	case *r.GoalMet:
		return r.Goal + ": met"
	}
	return r.Goal + ": MISSED"
}

func fmtOpt(v *float64, decimals int) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.*f", decimals, *v)
}

// fmtRound is an estimated count, rounded and grouped, or "-".
func fmtRound(v *float64) string {
	if v == nil {
		return "-"
	}
	return groupDigits(int64(math.Round(*v)))
}

func fmtCount(v *int64) string {
	if v == nil {
		return "-"
	}
	return groupDigits(*v)
}

func fmtAdded(v *float64) string {
	if v == nil {
		return "-"
	}
	if *v < 0 {
		return "-" + fmtUS(-*v)
	}
	return "+" + fmtUS(*v)
}

// fmtUS prints microseconds with a unit that keeps three digits or so.
func fmtUS(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2fs", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.2fms", us/1e3)
	default:
		return fmt.Sprintf("%.0fµs", us)
	}
}

// errorSummary is "0" or "12 (status 502: 10, reset: 2)".
func errorSummary(errs map[string]int64) string {
	var total int64
	kinds := make([]string, 0, len(errs))
	for k, v := range errs {
		total += v
		kinds = append(kinds, k)
	}
	if total == 0 {
		return "0"
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s: %d", k, errs[k])
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// scenarioTitle is "passthrough: GET /bytes/1024, closed loop, 64 connections",
// or for a cluster "cluster: 5 nodes (3 voters), 200 config writes, …".
func scenarioTitle(sc Scenario) string {
	if sc.Loop == LoopCluster {
		return fmt.Sprintf("%s: %d nodes on loopback (%d voters), %d config writes, %gs idle, one node SIGKILLed",
			sc.Name, sc.Nodes, sc.Voters, sc.Writes, sc.IdleS)
	}
	load := fmt.Sprintf("closed loop, %d connections", sc.Connections)
	switch sc.Loop {
	case LoopOpen:
		load = fmt.Sprintf("open loop, %d req/s", sc.Rate)
	case LoopProtocols:
		h1, _ := edgeShape(ProtoH1, sc.Connections)
		conns, streams := edgeShape(ProtoH2, sc.Connections)
		load = fmt.Sprintf("over TLS, closed loop, %d requests in flight (h1: %d connections; h2, h3: %d connections × %d streams)",
			sc.Connections, h1, conns, streams)
	case LoopCache:
		load += ", the cache filled by one request first"
	case LoopCacheCluster:
		return fmt.Sprintf("%s: %d nodes on loopback, GET %s?k=N over up to %d keys owned by %s, open loop, %d req/s, near tiers off (near_ttl %v)",
			sc.Name, sc.Nodes, sc.Path, sc.Keys, nodeName(0), sc.Rate, cacheClusterNearTTL)
	case LoopRateLimit, LoopRateLimitLatency:
		if sc.Loop == LoopRateLimitLatency {
			load = fmt.Sprintf("open loop, %d req/s", sc.Rate)
		}
		load += fmt.Sprintf(", %s over %d values; global limits on a %d-node portico cluster, loaded through %s",
			limitKeyHeader, sc.Keys, sc.Nodes, nodeName(0))
	case LoopWAN:
		w := sc.WAN
		load = fmt.Sprintf("over TLS, %gms RTT and %g%% loss each way; %d new connections per protocol, %d × %d requests in series",
			w.RTTMS, w.LossPct, w.NewConns, w.SeriesConns, w.SeriesRequests)
	}
	return fmt.Sprintf("%s: GET %s, %s", sc.Name, sc.Path, load)
}

// tableRows renders a scenario's rows as cells, the target (a cluster's
// measure) first. A skipped target has "skipped" in its cells; skips lists
// why, one line per skipped target, to print under the table.
func tableRows(sr ScenarioReport) (header []string, rows [][]string, skips []string) {
	cols := columns(sr.Loop)
	header = []string{"target"}
	if sr.Loop == LoopCluster || sr.Loop == LoopWAN || sr.Loop == LoopCacheCluster {
		header = []string{"measure"}
	}
	for _, c := range cols {
		header = append(header, c.title)
	}
	// A skipped row still names what it is about: a cluster row its node,
	// an edge row its protocol (and a wan row its target).
	firstFigure := 0
	switch sr.Loop {
	case LoopCluster, LoopProtocols, LoopCacheCluster:
		firstFigure = 1
	case LoopWAN:
		firstFigure = 2
	}
	for _, r := range sr.Rows {
		cells := []string{rowName(r)}
		for i, c := range cols {
			switch {
			case r.Skipped == "" || i < firstFigure:
				cells = append(cells, c.value(r))
			case i == firstFigure:
				cells = append(cells, "skipped")
			default:
				cells = append(cells, "-")
			}
		}
		rows = append(rows, cells)
		if r.Skipped != "" {
			skips = append(skips, rowLabel(r)+" skipped: "+oneLine(r.Skipped))
		}
	}
	return header, rows, skips
}

// rowName is the first cell of a row: its target, or a cluster row's
// measure (the node has its own column there).
func rowName(r Row) string {
	if r.Measure != "" {
		return r.Measure
	}
	return r.Target
}

// rowLabel names a row in a line of text: its target, or a cluster row's
// measure and the node it is about.
func rowLabel(r Row) string {
	target := r.Target
	if r.Protocol != "" {
		target += " " + r.Protocol
	}
	switch {
	case r.Measure == "":
		return target
	case r.Target == targetCluster:
		return r.Measure
	}
	return r.Measure + " (" + target + ")"
}

// oneLine flattens a multi-line reason (a child's log tail) for a table
// cell, and keeps it short.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const max = 160
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}

// WriteTable writes one aligned table per scenario, for a terminal.
func WriteTable(w io.Writer, rep *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, sr := range rep.Scenarios {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintln(tw, scenarioTitle(sr.Scenario))
		header, rows, skips := tableRows(sr)
		// Every cell ends with a tab so that all of them align.
		fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
		for _, cells := range rows {
			fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
		}
		for _, s := range skips {
			fmt.Fprintln(tw, "  "+s)
		}
		for _, n := range sr.Notes {
			fmt.Fprintln(tw, "  note: "+oneLine(n))
		}
		for _, r := range sr.Ratios {
			fmt.Fprintln(tw, "  ratio: "+ratioLine(r))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	return nil
}
