package bench

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// WriteMarkdown writes bench-report.md: the tables, then how they were
// measured and on what.
func WriteMarkdown(w io.Writer, rep *Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# Portico benchmark\n\n")
	fmt.Fprintf(bw, "Run %s", rep.Started.Format("2006-01-02 15:04 MST"))
	if hasLoad(rep) {
		fmt.Fprintf(bw, ", %s measured per target", seconds(rep.Settings.DurationS))
	}
	fmt.Fprint(bw, ".")
	if rep.Environment.GitDescribe != "" {
		fmt.Fprintf(bw, " Source: `%s`.", rep.Environment.GitDescribe)
	}
	if rep.Interrupted {
		fmt.Fprint(bw, " **Interrupted: the tables are partial.**")
	}
	fmt.Fprint(bw, "\n")
	for _, sr := range rep.Scenarios {
		writeMarkdownScenario(bw, sr)
	}
	writeMarkdownMethod(bw, rep)
	writeMarkdownEnvironment(bw, rep.Environment)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing markdown report: %w", err)
	}
	return nil
}

func writeMarkdownScenario(w io.Writer, sr ScenarioReport) {
	fmt.Fprintf(w, "\n## %s\n\n%s.\n\n", scenarioTitle(sr.Scenario), capitalize(sr.About))
	header, rows, skips := tableRows(sr)
	fmt.Fprintf(w, "| %s |\n", strings.Join(header, " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(header)))
	for _, cells := range rows {
		for i := range cells {
			cells[i] = mdEscape(cells[i])
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	if len(skips) > 0 {
		fmt.Fprintln(w)
		for _, s := range skips {
			fmt.Fprintf(w, "- %s\n", mdEscape(s))
		}
	}
	var notes []string
	for _, r := range sr.Rows {
		for _, n := range r.Notes {
			notes = append(notes, rowLabel(r)+": "+n)
		}
	}
	if len(notes) > 0 && len(skips) == 0 {
		fmt.Fprintln(w)
	}
	for _, n := range notes {
		fmt.Fprintf(w, "- note: %s\n", mdEscape(oneLine(n)))
	}
}

func writeMarkdownMethod(w io.Writer, rep *Report) {
	s := rep.Settings
	fmt.Fprintf(w, "\n## Method\n\n")
	if hasLoad(rep) {
		writeMarkdownLoadMethod(w, s)
	}
	for _, sr := range rep.Scenarios {
		if sr.Loop == LoopCluster {
			writeMarkdownClusterMethod(w, sr.Scenario)
		}
	}
	fmt.Fprintf(w, "- Pinning: %s.\n", rep.Environment.Pinning.Note)
}

// hasLoad reports whether the report has a scenario that loads targets
// (not only cluster scenarios).
func hasLoad(rep *Report) bool {
	return slices.ContainsFunc(rep.Scenarios, func(sr ScenarioReport) bool { return sr.Loop != LoopCluster })
}

// writeMarkdownLoadMethod says how the load scenarios' figures were taken.
func writeMarkdownLoadMethod(w io.Writer, s Settings) {
	fmt.Fprintf(w, "- Targets: `direct` is the backend (`portico demo-upstream`) without a proxy; "+
		"`portico`, `nginx` and `haproxy` proxy to that same backend over HTTP/1.1 keep-alive "+
		"(pools of %d idle connections; nginx: 1 worker, `keepalive %d`; HAProxy: `nbthread 1`, "+
		"`http-reuse always`). Access logs are off everywhere.\n", peerPoolSize, peerPoolSize)
	fmt.Fprintf(w, "- Order: %s.\n", s.Order)
	fmt.Fprintf(w, "- Phases: %s warm-up (not measured), then %s measured, per target.\n",
		seconds(s.WarmupS), seconds(s.DurationS))
	fmt.Fprintf(w, "- Closed loop: %d keep-alive connections, each sending its next request when "+
		"the previous answer is read. `rps` counts 2xx answers per second; `× direct` divides by "+
		"direct's rps.\n", s.Connections)
	fmt.Fprintf(w, "- Open loop: %d req/s at a constant pace (vegeta); `+p50`/`+p99` subtract "+
		"direct's percentile measured in the same run.\n", s.Rate)
	fmt.Fprintf(w, "- Latency: HdrHistogram, 1µs to 60s, 3 significant digits, every completed request.\n")
	fmt.Fprintf(w, "- CPU: utime+stime from /proc/PID/stat of the proxy's process tree "+
		"(nginx master and worker), sampled before and after the measured phase, per request. "+
		"Resolution 10ms per sample.\n")
	fmt.Fprintf(w, "- Allocations: the delta of portico's `%s` (its admin /metrics) over the "+
		"phase, per request.\n", mallocsMetric)
}

// writeMarkdownClusterMethod says how the cluster scenario's figures were
// taken.
func writeMarkdownClusterMethod(w io.Writer, sc Scenario) {
	fmt.Fprintf(w, "- Cluster (`%s`): %d `portico serve` processes on loopback, on the CPU of the other "+
		"children; the first %d started vote in Raft (`bootstrap_expect: %d`), the others then join as "+
		"non-voters. It is formed when every node's `/ready` shows `config_version` ≥ 1.\n",
		sc.Name, sc.Nodes, sc.Voters, sc.Voters)
	fmt.Fprintf(w, "- Config writes: %d sequential `PUT /config` (alternately adding and removing a route `w`), "+
		"each to a random node. `PUT answered`: until its 200. `applied on every node`: from sending until "+
		"every node's `/ready` `config_version` is at least the version the PUT returned (all nodes polled "+
		"in parallel every %v, bounded at %v). Failed writes are counted as errors, not timed.\n",
		sc.Writes, applyPoll, applyBound)
	fmt.Fprintf(w, "- Idle: after the writes and %v of quiet, no traffic for %gs: utime+stime of each node "+
		"from /proc/PID/stat over the window, in %% of one core (resolution 10ms per sample), and the largest "+
		"VmRSS of /proc/PID/status sampled every %v.\n", idleSettle, sc.IdleS, rssPoll)
	fmt.Fprintf(w, "- Failure detection (last, as the idle window needs every node): the last node that is "+
		"not the Raft leader gets SIGKILL; each survivor's `/cluster/members` is polled every %v until it "+
		"shows that node `dead` (bounded at %v); the `cluster` row is all survivors together.\n",
		detectPoll, detectBound)
	fmt.Fprintf(w, "- Goals (issue 3): write applied everywhere p99 < %v, dead seen < %v, idle node "+
		"< %g%% of a core and < %g MiB RSS.\n", goalApplyP99, goalDetect, goalIdleCPUPct, goalIdleRSSMiB)
}

func writeMarkdownEnvironment(w io.Writer, env Environment) {
	fmt.Fprintf(w, "\n## Environment\n\n")
	fmt.Fprintf(w, "- %s/%s, %d CPUs", env.OS, env.Arch, env.CPUs)
	if env.CPUModel != "" {
		fmt.Fprintf(w, " (%s)", env.CPUModel)
	}
	if env.Kernel != "" {
		fmt.Fprintf(w, ", Linux %s", env.Kernel)
	}
	fmt.Fprintf(w, "\n- load generator built with %s\n", env.GoVersion)
	names := make([]string, 0, len(env.Versions))
	for n := range env.Versions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := env.Versions[n]
		if v == "" {
			v = "unknown version"
		}
		fmt.Fprintf(w, "- %s: %s\n", n, mdEscape(v))
	}
}

func seconds(s float64) string { return fmt.Sprintf("%gs", s) }

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// mdEscape keeps a cell's text from breaking the table.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
