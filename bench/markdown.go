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
	if hasLoad(rep) || hasLoop(rep, LoopProtocols) || hasLoop(rep, LoopCache) || hasLoop(rep, LoopCacheCluster) ||
		hasLoop(rep, LoopRateLimit) || hasLoop(rep, LoopRateLimitLatency) {
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
	if len(sr.Notes) > 0 && len(notes) == 0 && len(skips) == 0 {
		fmt.Fprintln(w)
	}
	for _, n := range sr.Notes {
		fmt.Fprintf(w, "- note: %s\n", mdEscape(oneLine(n)))
	}
	for _, n := range notes {
		fmt.Fprintf(w, "- note: %s\n", mdEscape(oneLine(n)))
	}
	if len(sr.Ratios) > 0 {
		fmt.Fprintf(w, "\nRatios:\n\n")
	}
	for _, r := range sr.Ratios {
		fmt.Fprintf(w, "- %s\n", mdEscape(ratioLine(r)))
	}
}

func writeMarkdownMethod(w io.Writer, rep *Report) {
	s := rep.Settings
	fmt.Fprintf(w, "\n## Method\n\n")
	if hasLoad(rep) {
		writeMarkdownLoadMethod(w, s)
	}
	for _, sr := range rep.Scenarios {
		switch sr.Loop {
		case LoopCluster:
			writeMarkdownClusterMethod(w, sr.Scenario)
		case LoopProtocols:
			writeMarkdownProtocolsMethod(w, sr.Scenario, s)
		case LoopWAN:
			writeMarkdownWANMethod(w, sr.Scenario)
		case LoopCache:
			writeMarkdownCacheMethod(w, sr.Scenario, s)
		case LoopCacheCluster:
			writeMarkdownCacheClusterMethod(w, sr.Scenario, s)
		case LoopRateLimit, LoopRateLimitLatency:
			writeMarkdownRateLimitMethod(w, sr.Scenario, s)
		}
	}
	fmt.Fprintf(w, "- Pinning: %s.\n", rep.Environment.Pinning.Note)
}

// hasLoad reports whether the report has a scenario that loads the
// testbed's plain HTTP targets (closed or open loop).
func hasLoad(rep *Report) bool {
	return hasLoop(rep, LoopClosed) || hasLoop(rep, LoopOpen)
}

// hasLoop reports whether the report has a scenario of that loop.
func hasLoop(rep *Report, loop Loop) bool {
	return slices.ContainsFunc(rep.Scenarios, func(sr ScenarioReport) bool { return sr.Loop == loop })
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

// writeMarkdownProtocolsMethod says how the protocols scenario's figures
// were taken.
func writeMarkdownProtocolsMethod(w io.Writer, sc Scenario, s Settings) {
	h1, _ := edgeShape(ProtoH1, sc.Connections)
	conns, streams := edgeShape(ProtoH2, sc.Connections)
	fmt.Fprintf(w, "- Protocols (`%s`): a `portico serve` with no cleartext listener and one TLS listener on "+
		"127.0.0.1 (TCP for HTTP/1.1 and HTTP/2 by ALPN, UDP for HTTP/3, same port), and Caddy %s "+
		"(JSON config: admin off, logs at ERROR, automatic HTTPS off, protocols h1 h2 h3, one `reverse_proxy` "+
		"route with `keep_alive` pools of %d), both loading the same throwaway certificate (ECDSA P-256 leaf "+
		"for localhost, 127.0.0.1 and ::1, signed by a CA made for the run) and proxying over HTTP/1.1 "+
		"keep-alive to the same backend. Both get HTTP/3 from quic-go.\n",
		sc.Name, caddyVersion, peerPoolSize)
	fmt.Fprintf(w, "- Load: a closed loop in this process, %d requests in flight for every protocol: HTTP/1.1 "+
		"over TLS on %d connections (one request each), HTTP/2 and HTTP/3 on %d connections × %d concurrent "+
		"streams (Go's net/http client connections and quic-go's http3 client, one UDP socket per connection). "+
		"A connection that fails is dialled again. Each target and protocol gets %s of warm-up on the "+
		"connections the measured %s then uses; CPU per request as above (the proxy's process tree).\n",
		sc.Connections, h1, conns, streams, seconds(s.WarmupS), seconds(s.DurationS))
	fmt.Fprintf(w, "- Goals (issue 4): portico's CPU per request over h3 ≤ %g × over h2; portico's ≤ %g × "+
		"Caddy's for each protocol.\n", goalH3OverH2CPU, goalPorticoOverCaddy)
}

// writeMarkdownWANMethod says how the wan scenario's figures were taken.
func writeMarkdownWANMethod(w io.Writer, sc Scenario) {
	wn := sc.WAN
	fmt.Fprintf(w, "- WAN (`%s`): %gms round trip (%gms each way) and %g%% of packets dropped in each direction, "+
		"drawn per packet from PCG seeded with %#x (per direction). Emulation `%s`: the clients run in a "+
		"network namespace of their own whose route to the gateway is a TUN device read by this process, "+
		"which holds each packet half the RTT (or drops it) and writes it to a second TUN device in the "+
		"gateway's namespace, and back; so the kernel's real TCP and QUIC's recovery see the loss. "+
		"Emulation `%s` (without root or /dev/net/tun): the same delays and losses applied in the client's "+
		"UDP socket, and for TCP the handshake RTT charged at dial (plus 1s per lost SYN or SYN-ACK) and every "+
		"chunk held RTT/2, with a lost segment stalling its chunk and all behind it by %v.\n",
		sc.Name, wn.RTTMS, wn.RTTMS/2, wn.LossPct, wanSeed, emulationTUN, emulationUser, tcpMinRTO)
	fmt.Fprintf(w, "- TTFB: %d new connections per protocol one after the other (bounded at %gs), each timed "+
		"from the start of its dial to its response headers, after one unmeasured connection that gets a "+
		"session ticket. `h2`: HTTP/2 over TLS 1.3, the session resumed (which saves no round trip without "+
		"early data). `h3`: HTTP/3, resumed, the request sent once the handshake is done. `h3-0rtt`: HTTP/3, "+
		"resumed, the GET sent in 0-RTT (`http3.MethodGet0RTT`); the `0-RTT` column counts the connections "+
		"whose server accepted it (quic-go's `Used0RTT`); a refused 0-RTT is retried at once on the completed "+
		"connection and timed as such.\n", wn.NewConns, wn.BoundS)
	fmt.Fprintf(w, "- Series: %d connection(s), each sending %d GETs one after the other, each timed from "+
		"sending to its last body byte (the dial is not timed).\n", wn.SeriesConns, wn.SeriesRequests)
	fmt.Fprintf(w, "- Goals (issue 4): TTFB p50 of h3 ≤ %g × h2's, of h3-0rtt ≤ %g × h2's; the p99 ratios "+
		"are for information.\n", goalWANH3, goalWANEarly)
}

// writeMarkdownCacheMethod says how the cache scenario's figures were
// taken.
func writeMarkdownCacheMethod(w io.Writer, sc Scenario, s Settings) {
	fmt.Fprintf(w, "- Cache (`%s`): targets of its own, each proxying to the same backend: a `portico serve` "+
		"whose one route has `cache: {}` (responses stored by their Cache-Control, no TTL of its own); nginx "+
		"with `proxy_cache` (`proxy_cache_path` in its work dir, `proxy_cache_key $request_uri`, `proxy_cache_valid "+
		"200 1m` only for answers without Cache-Control or Expires, 1 worker); HAProxy with a `cache` section "+
		"(`http-request cache-use`, `http-response cache-store`, objects up to 1 MiB, `max-age 3600`, `nbthread 1`). "+
		"Pools and access logs as in the other scenarios.\n", sc.Name)
	fmt.Fprintf(w, "- Each target: one `GET %s` fills its cache; then the same request is repeated every %v until "+
		"the answer says hit (portico: `Cache-Status` has `hit`; nginx: `X-Cache-Status: HIT` from "+
		"`$upstream_cache_status`; HAProxy: `X-Cache-Status: HIT` when no server answered), bounded at %v; then "+
		"%s of warm-up and %s measured, a closed loop of %d connections as in passthrough. `hits` counts the "+
		"measured 2xx answers whose header said hit.\n", sc.Path, hitPoll, hitBound, seconds(s.WarmupS), seconds(s.DurationS), sc.Connections)
	fmt.Fprintf(w, "- `backend reqs`: requests that reached the backend during the measured phase, estimated as "+
		"the bytes the backend process read then (rchar of /proc/PID/io) over the bytes it read for the target's "+
		"first request; 0 means it read nothing. On `direct` it should equal the request count.\n")
	fmt.Fprintf(w, "- Goals (issue 5): portico's hits ≥ %g × direct's rps and ≤ %g µs of proxy CPU per hit "+
		"(its CPU per request: every request is a hit).\n", goalCacheOverDirect, goalCacheCPUPerHit)
}

// writeMarkdownCacheClusterMethod says how the cache-cluster scenario's
// figures were taken.
func writeMarkdownCacheClusterMethod(w io.Writer, sc Scenario, s Settings) {
	fmt.Fprintf(w, "- Cache cluster (`%s`): %d `portico serve` processes on loopback as in the cluster "+
		"scenario (`bootstrap_expect: %d`, all voters), one route with `cache: {}` to the backend, and "+
		"`node.cache.near_ttl: %v` so that a node never serves its near copy of another node's entry (the "+
		"near tier can't be turned off in the config).\n", sc.Name, sc.Nodes, sc.Voters, cacheClusterNearTTL)
	fmt.Fprintf(w, "- Keys: `%s?k=0`, `?k=1`, … each requested once on %s (which stores it at its owner), then "+
		"on %s, whose `Cache-Status` names the node that stored the entry; those stored by %s are kept, up to "+
		"%d (at most %d tried).\n", sc.Path, nodeName(0), nodeName(1), nodeName(0), sc.Keys, sc.Keys*keySearchFactor)
	fmt.Fprintf(w, "- Load: an open loop of %d req/s (vegeta) over the keys in turn, %s of warm-up and %s measured, "+
		"first on %s (`local hit`: its owner tier), then on %s (`remote hit`: it asks %s over the peer listener "+
		"and serves its entry). `hits` counts answers whose `Cache-Status` says hit on an entry %s stored, not a "+
		"near copy. `+p50`/`+p99`: remote minus local.\n",
		sc.Rate, seconds(s.WarmupS), seconds(s.DurationS), nodeName(0), nodeName(1), nodeName(0), nodeName(0))
	fmt.Fprintf(w, "- Goal (issue 5): a remote hit adds < %v at p99 on loopback.\n", goalRemoteAddedP99)
}
