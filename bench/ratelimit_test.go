package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gw/portico/node/config"
)

// TestLimitConfigs_ParseWithTheSchema checks the single-node targets'
// configs and the cluster's, in both modes, against the real schema.
func TestLimitConfigs_ParseWithTheSchema(t *testing.T) {
	tests := []struct {
		name      string
		limits    string
		wantLimit bool
	}{
		{TargetNoLimit, "", false},
		{TargetLocalLimit, rateLimitYAML("client_ip", "local", ""), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := porticoLimitConfig("127.0.0.1:1000", "127.0.0.1:1001", "127.0.0.1:2000", tt.limits)
			f, err := config.Parse(tt.name+".yaml", []byte(conf), nil)
			if err != nil {
				t.Fatalf("config.Parse: %v\n%s", err, conf)
			}
			if n := f.Node; n.Listen != "127.0.0.1:1000" || n.Admin.Listen != "127.0.0.1:1001" || n.AccessLog.Output != "off" {
				t.Errorf("node = %+v, want the listeners and no access log", n)
			}
			if len(f.Gateway.Routes) != 1 {
				t.Fatalf("routes = %+v, want one", f.Gateway.Routes)
			}
			ls := f.Gateway.Routes[0].RateLimits
			if !tt.wantLimit {
				if len(ls) != 0 {
					t.Errorf("rate limits = %+v, want none", ls)
				}
				return
			}
			if len(ls) != 1 {
				t.Fatalf("rate limits = %+v, want one", ls)
			}
			if l := ls[0]; l.Name != limitPolicy || l.Rate.Count != 1000000 || l.Rate.Period != time.Second ||
				strings.Join(l.By, ",") != "client_ip" || l.Scope != "local" {
				t.Errorf("limit = %+v, want %s %s by client_ip, local", l, limitPolicy, limitRate)
			}
		})
	}
	spec := testSpec(t.TempDir())
	spec.ports = spec.ports[:rateLimitNodes]
	tuneLimitCluster(&spec)
	for i := range rateLimitNodes {
		f, err := config.Parse(nodeName(i)+".yaml", []byte(spec.nodeConfig(i)), nil)
		if err != nil {
			t.Fatalf("config.Parse(%s): %v\n%s", nodeName(i), err, spec.nodeConfig(i))
		}
		if f.Node.Cluster == nil || f.Node.Cluster.BootstrapExpect != rateLimitNodes {
			t.Errorf("%s cluster = %+v, want bootstrap_expect %d", nodeName(i), f.Node.Cluster, rateLimitNodes)
		}
		checkGlobal(t, nodeName(i), f.Gateway, "async")
	}
	// The mode switch's document, as PUT /config takes it.
	f, err := config.Parse("strict.yaml", []byte(limitGatewayDoc("127.0.0.1:2000", "strict")), nil)
	if err != nil {
		t.Fatalf("config.Parse(strict document): %v", err)
	}
	checkGlobal(t, "strict document", f.Gateway, "strict")
	// The overshoot measures' documents.
	for _, mode := range []string{"async", "strict"} {
		f, err := config.Parse(mode+".yaml", []byte(accuracyDoc("127.0.0.1:2000", mode)), nil)
		if err != nil {
			t.Fatalf("config.Parse(overshoot %s document): %v", mode, err)
		}
		if l := f.Gateway.Routes[0].RateLimits; len(l) != 1 || l[0].Rate.Count != accuracyRate || l[0].Burst != accuracyBurst || l[0].Mode != mode {
			t.Errorf("overshoot %s limits = %+v", mode, l)
		}
	}
}

func checkGlobal(t *testing.T, what string, g config.Gateway, mode string) {
	t.Helper()
	if len(g.Routes) != 1 || len(g.Routes[0].RateLimits) != 1 {
		t.Fatalf("%s routes = %+v, want one with one limit", what, g.Routes)
	}
	l := g.Routes[0].RateLimits[0]
	if l.Rate.Count != 1000000 || strings.Join(l.By, ",") != "header:"+limitKeyHeader || l.Scope != "global" || l.Mode != mode {
		t.Errorf("%s limit = %+v, want %s by header:%s, global, %s", what, l, limitRate, limitKeyHeader, mode)
	}
}

// keyServer answers 200 on loopback and counts the X-Bench-Key values
// it sees.
func keyServer(t *testing.T) (*httptest.Server, func() map[string]int) {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get(limitKeyHeader)]++
		mu.Unlock()
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

func checkEachKey(t *testing.T, loop string, seen map[string]int, times int) {
	t.Helper()
	if len(seen) != rateLimitKeys {
		t.Errorf("%s sent %d distinct keys, want %d: %v", loop, len(seen), rateLimitKeys, seen)
	}
	for i := range rateLimitKeys {
		if k := fmt.Sprintf("k%d", i); seen[k] != times {
			t.Errorf("%s sent %s %d times, want %d", loop, k, seen[k], times)
		}
	}
}

func TestClosedLoop_SendsHeadersInTurn(t *testing.T) {
	srv, seen := keyServer(t)
	res, err := ClosedLoop{URL: srv.URL, Connections: 8, MaxRequests: 3 * rateLimitKeys, Duration: time.Minute,
		Headers: limitHeaders()}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 3*rateLimitKeys || res.OK != res.Requests {
		t.Errorf("requests, ok = %d, %d, want %d, all", res.Requests, res.OK, 3*rateLimitKeys)
	}
	checkEachKey(t, "ClosedLoop", seen(), 3)
}

func TestOpenLoop_SendsHeadersInTurn(t *testing.T) {
	srv, seen := keyServer(t)
	res, err := OpenLoop{URL: srv.URL, Rate: 2000, MaxRequests: 2 * rateLimitKeys, Duration: time.Minute,
		Headers: limitHeaders()}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 2*rateLimitKeys || res.OK != res.Requests {
		t.Errorf("requests, ok = %d, %d, want %d, all", res.Requests, res.OK, 2*rateLimitKeys)
	}
	checkEachKey(t, "OpenLoop", seen(), 2)
}

func TestCheckLimited(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(limitKeyHeader) != "k0" {
			http.Error(w, "no key", http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/limited":
			w.Header().Set("RateLimit-Policy", `"bench";q=1000000;w=1`)
		case "/denied":
			w.Header().Set("RateLimit-Policy", `"bench";q=1;w=1`)
			w.WriteHeader(http.StatusTooManyRequests)
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name, path string
		limited    bool
		wantErr    string // "" for success
	}{
		{"limited", "/limited", true, ""},
		{"plain", "/plain", false, ""},
		{"limited route without the header", "/plain", true, "no RateLimit-Policy"},
		{"plain route with the header", "/limited", false, "on the plain route"},
		{"denied", "/denied", true, "status 429"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy, err := checkLimited(context.Background(), srv.Client(), srv.URL+tt.path, tt.limited)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("checkLimited = %v, want success", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("checkLimited = %v, want an error with %q", err, tt.wantErr)
			case tt.wantErr == "" && tt.limited && policy != `"bench";q=1000000;w=1`:
				t.Errorf("policy = %q, want the header's value", policy)
			}
		})
	}
}

func TestRateLimitRatios(t *testing.T) {
	all := Scenarios(Options{})
	closed, open := scenarioNamed(all, "ratelimit"), scenarioNamed(all, "ratelimit-latency")
	rows := []Row{
		{Target: TargetNoLimit, RPS: 1000, ProxyCPUUSPerReq: ptr(40), P99US: 1000},
		{Target: TargetLocalLimit, RPS: 960, ProxyCPUUSPerReq: ptr(42), P99US: 1050},
		{Target: TargetGlobalAsync, RPS: 768, P99US: 1100, Errors: map[string]int64{limitStatus: 3, "reset": 1}},
		{Target: TargetGlobalStrict, Skipped: "starting the cluster: timeout"},
	}
	tests := []struct {
		sc    Scenario
		name  string
		value float64 // 0: no value
		met   string  // "met", "missed" or "" (no goal)
	}{
		{closed, "local ÷ no-limit, rps", 0.96, "met"},
		{closed, "global-async ÷ local, rps", 0.8, "missed"},
		{closed, "global-strict ÷ local, rps", 0, ""},
		{closed, "local ÷ no-limit, proxy cpu µs/req", 1.05, ""},
		{closed, "429 answers, all targets", 3, "missed"},
		{open, "local p99 − no-limit p99, µs", 50, "met"},
		{open, "global-async p99 − local p99, µs", 50, ""},
		{open, "global-strict p99 − local p99, µs", 0, ""},
		{open, "429 answers, all targets", 3, "missed"},
	}
	got := map[string]map[string]Ratio{}
	for _, sc := range []Scenario{closed, open} {
		got[sc.Name] = map[string]Ratio{}
		for _, r := range rateLimitRatios(sc, rows) {
			got[sc.Name][r.Name] = r
		}
	}
	if len(got[closed.Name]) != 5 || len(got[open.Name]) != 4 {
		t.Errorf("ratios = %v, want 5 (closed) and 4 (open)", got)
	}
	for _, tt := range tests {
		r, ok := got[tt.sc.Name][tt.name]
		switch {
		case !ok:
			t.Errorf("%s: no ratio %q", tt.sc.Name, tt.name)
		case tt.value == 0 && r.Value != nil:
			t.Errorf("%s: %s = %v, want none (a row is skipped)", tt.sc.Name, tt.name, *r.Value)
		case tt.value != 0 && (r.Value == nil || fmt.Sprintf("%.4f", *r.Value) != fmt.Sprintf("%.4f", tt.value)):
			t.Errorf("%s: %s = %v, want %g", tt.sc.Name, tt.name, r.Value, tt.value)
		case tt.met == "" && r.GoalMet != nil, tt.met != "" && (r.GoalMet == nil || *r.GoalMet != (tt.met == "met")):
			t.Errorf("%s: %s goal met = %v, want %s", tt.sc.Name, tt.name, r.GoalMet, tt.met)
		}
	}
	rows[2].Errors = nil
	if r := tooManyRequests(rows); r.Value == nil || *r.Value != 0 || r.GoalMet == nil || !*r.GoalMet {
		t.Errorf("429s without any = %s, want 0, met", ratioLine(r))
	}
	if r := tooManyRequests([]Row{{Target: TargetNoLimit, Skipped: "x"}}); r.Value != nil || r.GoalMet != nil {
		t.Errorf("429s with nothing measured = %s, want no value", ratioLine(r))
	}
}

func TestFillCluster(t *testing.T) {
	before := clusterCounters{cpu: time.Second, strict: 100, hits: 10, fallback: 0, mal: 1000}
	after := clusterCounters{cpu: time.Second + 50*time.Millisecond, strict: 700, hits: 10, fallback: 2, mal: 101000}
	row := Row{Target: TargetGlobalStrict, Requests: 1000}
	note := fillCluster(&row, before, after)
	if row.ClusterCPUUSPerReq == nil || *row.ClusterCPUUSPerReq != 50 || row.AllocsPerReq == nil || *row.AllocsPerReq != 100 ||
		row.ToOwners == nil || *row.ToOwners != 600 {
		t.Errorf("row = %+v, want 50 µs cluster cpu, 100 allocs, 600 to owners per the counters", row)
	}
	if want := "600 of 1000 decisions (60%) asked the key's owner on another node; 2 decisions fell back"; !strings.HasPrefix(note, want) {
		t.Errorf("note = %q, want it to start with %q", note, want)
	}
	unread := clusterCounters{cpu: -1, strict: -1, hits: -1, fallback: -1, mal: -1}
	row = Row{Target: TargetGlobalAsync, Requests: 1000}
	if note := fillCluster(&row, unread, after); note != "" || row.ClusterCPUUSPerReq != nil || row.ToOwners != nil || row.AllocsPerReq != nil {
		t.Errorf("with unread counters: row %+v, note %q, want no figures", row, note)
	}
}

func rateLimitReport() *Report {
	all := Scenarios(Options{})
	return &Report{
		Settings: Settings{DurationS: 5, WarmupS: 1, Connections: 64, Rate: 2000},
		Scenarios: []ScenarioReport{{
			Scenario: scenarioNamed(all, "ratelimit"),
			Rows: []Row{
				{Target: TargetNoLimit, Requests: 9000, OK: 9000, RPS: 1800, ProxyCPUUSPerReq: ptr(40)},
				{Target: TargetGlobalAsync, Requests: 8000, OK: 7988, RPS: 1600, ProxyCPUUSPerReq: ptr(44),
					ClusterCPUUSPerReq: ptr(47.5), ToOwners: ptrInt(1234), Errors: map[string]int64{limitStatus: 12}},
				{Target: TargetGlobalStrict, Skipped: "switching to strict: timeout"},
			},
			Ratios: []Ratio{tooManyRequests([]Row{{Errors: map[string]int64{limitStatus: 12}}})},
			Notes:  []string{`global-async answers RateLimit-Policy: "bench";q=1000000;w=1`},
		}, {
			Scenario: scenarioNamed(all, "ratelimit-latency"),
			Rows:     []Row{{Target: TargetLocalLimit, Requests: 10000, OK: 10000, P99US: 900}},
		}},
	}
}

func TestWriteTable_RateLimit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, rateLimitReport()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"ratelimit: GET /bytes/1024, closed loop, 64 connections, X-Bench-Key over 64 values; global limits on a 3-node portico cluster",
		"ratelimit-latency: GET /bytes/1024, open loop, 2000 req/s, X-Bench-Key over 64 values",
		"cluster cpu µs/req", "to owners", "429s", "47.5", "1,234", "1,600",
		"global-strict skipped: switching to strict", "ratio: 429 answers, all targets: 12.00 (goal = 0: MISSED)",
		`note: global-async answers RateLimit-Policy: "bench";q=1000000;w=1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteMarkdown_RateLimit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, rateLimitReport()); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"5s measured per target",
		"| target | rps | proxy cpu µs/req | cluster cpu µs/req | backend cpu µs/req | allocs/req | to owners | p50 | p99 | 429s | errors |",
		"| target | requests | p50 | p90 | p99 | p99.9 |",
		"scope: global, mode: async}]`, then `mode: strict`", "by: [client_ip], scope: local}]",
		"local ≥ 0.95 × no-limit's rps", "local's p99 ≤ no-limit's + 100µs",
		"- 429 answers, all targets: 12.00 (goal = 0: MISSED)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestRateLimitScenarios_RealBinary runs ratelimit and ratelimit-latency,
// shrunk, through Main against the real binary without peers: the
// targets, the header checks, the mode switch and the cluster figures,
// not the speed. It is skipped when the binary refuses a rate-limited
// route (built before the limits: rebuild it).
func TestRateLimitScenarios_RealBinary(t *testing.T) {
	bin := realBinary(t)
	conf := filepath.Join(t.TempDir(), "limited.yaml")
	local := porticoLimitConfig("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", rateLimitYAML("client_ip", "local", ""))
	if err := os.WriteFile(conf, []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "config", "validate", conf).CombinedOutput(); err != nil {
		t.Skipf("%s refuses rate_limits, so it predates them: rebuild it (%v: %s)", bin, err, bytes.TrimSpace(out))
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	rep := runMain(t, bin, "ratelimit,ratelimit-latency", "--duration", "300ms", "--warmup", "100ms", "--no-pin")
	if left := runningUnder(tmp); len(left) > 0 {
		t.Errorf("processes left after the run: %v", left)
	}
	if len(rep.Scenarios) != 2 {
		t.Fatalf("%d scenarios, want ratelimit and ratelimit-latency", len(rep.Scenarios))
	}
	want := []string{TargetNoLimit, TargetLocalLimit, TargetGlobalAsync, TargetGlobalStrict}
	for _, sr := range rep.Scenarios {
		if len(sr.Rows) != len(want) {
			t.Fatalf("%s rows = %+v, want %v", sr.Name, sr.Rows, want)
		}
		for i, r := range sr.Rows {
			if r.Target != want[i] || r.Skipped != "" || r.OK == 0 || r.OK != r.Requests || r.ProxyCPUUSPerReq == nil {
				t.Errorf("%s row %d = %+v, want %s measured, all 2xx, proxy cpu", sr.Name, i, r, want[i])
			}
		}
		for _, r := range sr.Rows[2:] {
			if r.ClusterCPUUSPerReq == nil || r.ToOwners == nil || r.AllocsPerReq == nil {
				t.Errorf("%s/%s = %+v, want cluster cpu, what went to owners, allocations", sr.Name, r.Target, r)
			}
		}
		// Most of the 64 keys are owned by the two nodes the load does not go
		// to: strict asks them for a good share of the decisions.
		if s := sr.Rows[3]; s.ToOwners != nil && *s.ToOwners < s.Requests/4 {
			t.Errorf("%s/global-strict: %d of %d decisions went to owners, want most", sr.Name, *s.ToOwners, s.Requests)
		}
		if over := strings.Count(strings.Join(sr.Notes, "\n"), "overshoot, "); sr.Loop == LoopRateLimit && over != 4 ||
			sr.Loop != LoopRateLimit && over != 0 {
			t.Errorf("%s notes = %q, want 4 overshoot measures in the closed loop only", sr.Name, sr.Notes)
		}
		if policies := strings.Count(strings.Join(sr.Notes, "\n"), "RateLimit-Policy: \"bench\""); policies != 3 {
			t.Errorf("%s notes = %q, want the policy of the 3 limited targets", sr.Name, sr.Notes)
		}
		last := sr.Ratios[len(sr.Ratios)-1]
		if last.Value == nil || *last.Value != 0 {
			t.Errorf("%s: %s, want no 429", sr.Name, ratioLine(last))
		}
		for _, r := range sr.Ratios {
			if r.Value == nil {
				t.Errorf("%s: ratio %s has no value", sr.Name, ratioLine(r))
			}
		}
	}
}
