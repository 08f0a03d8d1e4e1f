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
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gw/portico/node/config"
)

func TestCacheConfigs_TurnTheCacheOn(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"nginx", []string{
			"proxy_cache_path /tmp/x/cache levels=1:2 keys_zone=bench:10m", "proxy_cache bench;",
			"proxy_cache_key $request_uri;", "proxy_cache_valid 200 1m;", "add_header X-Cache-Status $upstream_cache_status always;",
			// the plain config's settings are all still there
			"worker_processes 1;", "keepalive 256;", "proxy_http_version 1.1;", "access_log off;", "listen 127.0.0.1:1000;", "server 127.0.0.1:2000;",
		}},
		{"haproxy", []string{
			"cache bench\n", "max-age 3600", "http-request cache-use bench", "http-response cache-store bench",
			"http-response set-header X-Cache-Status HIT if !{ srv_id -m found }",
			"nbthread 1", "http-reuse always", "bind 127.0.0.1:1000", "server demo 127.0.0.1:2000 pool-max-conn 256",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := peerNamed(t, tt.name)
			conf := p.cacheConfig("127.0.0.1:1000", "127.0.0.1:2000", "/tmp/x")
			for _, w := range tt.want {
				if !strings.Contains(conf, w) {
					t.Errorf("%s cache config lacks %q:\n%s", tt.name, w, conf)
				}
			}
			if plain := p.config("127.0.0.1:1000", "127.0.0.1:2000", "/tmp/x"); strings.Contains(plain, "cache") {
				t.Errorf("%s plain config mentions a cache:\n%s", tt.name, plain)
			}
		})
	}
}

// TestPorticoCacheConfig_ParsesWithTheSchema checks the cache scenario's
// gateway config against the real schema.
func TestPorticoCacheConfig_ParsesWithTheSchema(t *testing.T) {
	f, err := config.Parse("portico-cache.yaml", []byte(porticoCacheConfig("127.0.0.1:1000", "127.0.0.1:1001", "127.0.0.1:2000")), nil)
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	if n := f.Node; n.Listen != "127.0.0.1:1000" || n.Admin.Listen != "127.0.0.1:1001" || n.AccessLog.Output != "off" {
		t.Errorf("node = %+v, want the listeners and no access log", n)
	}
	if len(f.Gateway.Routes) != 1 || f.Gateway.Routes[0].Cache == nil {
		t.Fatalf("routes = %+v, want one with a cache", f.Gateway.Routes)
	}
	if c := f.Gateway.Routes[0].Cache; c.TTL != 0 || c.Override {
		t.Errorf("cache = %+v, want freshness from the upstream only", c)
	}
}

func TestCacheClusterNodeConfig_ParsesWithTheSchema(t *testing.T) {
	spec := testSpec(t.TempDir())
	spec.ports = spec.ports[:cacheClusterNodes]
	tuneCacheCluster(&spec)
	for i := range cacheClusterNodes {
		f, err := config.Parse(nodeName(i)+".yaml", []byte(spec.nodeConfig(i)), nil)
		if err != nil {
			t.Fatalf("config.Parse(%s): %v\n%s", nodeName(i), err, spec.nodeConfig(i))
		}
		if got := f.Node.Cache.NearTTL.D(); got != cacheClusterNearTTL {
			t.Errorf("%s near_ttl = %v, want %v", nodeName(i), got, cacheClusterNearTTL)
		}
		if f.Node.Cluster == nil || f.Node.Cluster.Peer.Bind != loopback(spec.ports[i].peer) {
			t.Errorf("%s cluster = %+v, want its peer listener", nodeName(i), f.Node.Cluster)
		}
		if len(f.Gateway.Routes) != 1 || f.Gateway.Routes[0].Cache == nil {
			t.Errorf("%s routes = %+v, want one with a cache", nodeName(i), f.Gateway.Routes)
		}
	}
}

func TestPorticoCacheStatus(t *testing.T) {
	tests := []struct {
		name      string
		lines     []string
		node      string
		hit, near bool
	}{
		{name: "none"},
		{name: "hit", lines: []string{"Portico; hit; node=bench-1"}, node: "bench-1", hit: true},
		{name: "miss", lines: []string{"Portico; fwd=miss; stored; node=vm"}, node: "vm"},
		{name: "near copy", lines: []string{"Portico; hit; node=bench-3; detail=near"}, node: "bench-3", hit: true, near: true},
		{name: "stale", lines: []string{"Portico; hit; stale; detail=stale-while-revalidate; node=a"}, node: "a", hit: true},
		{name: "quoted node", lines: []string{`Portico; hit; node="1a"`}, node: "1a", hit: true},
		{name: "ours is last, in a list", lines: []string{"Origin; hit, Portico; fwd=miss; node=b"}, node: "b"},
		{name: "ours is last, on its own line", lines: []string{"Origin; fwd=miss", "Portico; hit; node=c"}, node: "c", hit: true},
		{name: "hit is a parameter, not a substring", lines: []string{"Portico; fwd=miss; detail=hitless; node=d"}, node: "d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, l := range tt.lines {
				h.Add("Cache-Status", l)
			}
			node, hit, near := porticoCacheStatus(h)
			if node != tt.node || hit != tt.hit || near != tt.near {
				t.Errorf("porticoCacheStatus(%q) = %q, %v, %v, want %q, %v, %v", tt.lines, node, hit, near, tt.node, tt.hit, tt.near)
			}
			if got := porticoHit(h); got != tt.hit {
				t.Errorf("porticoHit(%q) = %v, want %v", tt.lines, got, tt.hit)
			}
		})
	}
	owner := ownerHit("bench-1")
	for _, tt := range []struct {
		line string
		want bool
	}{
		{"Portico; hit; node=bench-1", true},
		{"Portico; hit; node=bench-1; detail=near", false},
		{"Portico; hit; node=bench-2", false},
		{"Portico; fwd=miss; stored; node=bench-1", false},
	} {
		if got := owner(http.Header{"Cache-Status": {tt.line}}); got != tt.want {
			t.Errorf("ownerHit(bench-1)(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestParseChars(t *testing.T) {
	n, err := parseChars("rchar: 6976\nwchar: 0\nsyscr: 10\n")
	if err != nil || n != 6976 {
		t.Errorf("parseChars = %d, %v, want 6976", n, err)
	}
	for _, bad := range []string{"", "wchar: 1\n", "rchar: x\n"} {
		if _, err := parseChars(bad); err == nil {
			t.Errorf("parseChars(%q) succeeded, want an error", bad)
		}
	}
	// Our own process reads: the counter is there and moves.
	before, err := readChars(os.Getpid())
	if err != nil {
		t.Fatalf("readChars(self): %v", err)
	}
	if _, err := os.ReadFile("/proc/self/stat"); err != nil {
		t.Fatal(err)
	}
	if after, _ := readChars(os.Getpid()); after <= before {
		t.Errorf("rchar went from %d to %d after a read, want more", before, after)
	}
}

// hitServer answers 200 on loopback with X-Cache-Status: HIT when hit
// says so for the request, counting what it saw per query.
func hitServer(t *testing.T, hit func(n int64, r *http.Request) bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hit(n.Add(1), r) {
			w.Header().Set(peerCacheHeader, "HIT")
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestClosedLoop_CountsHits(t *testing.T) {
	srv, _ := hitServer(t, func(n int64, _ *http.Request) bool { return n%2 == 1 })
	res, err := ClosedLoop{URL: srv.URL, Connections: 4, MaxRequests: 100, Duration: time.Minute, Hit: peerHit}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 100 || res.Hits != 50 {
		t.Errorf("requests, hits = %d, %d, want 100, 50", res.Requests, res.Hits)
	}
}

func TestOpenLoop_SendsURLsInTurnAndCountsHits(t *testing.T) {
	var seen [3]atomic.Int64
	srv, _ := hitServer(t, func(_ int64, r *http.Request) bool {
		k := r.URL.Query().Get("k")
		switch k {
		case "0", "1", "2":
			seen[k[0]-'0'].Add(1)
		}
		return k == "1"
	})
	urls := []string{srv.URL + "/?k=0", srv.URL + "/?k=1", srv.URL + "/?k=2"}
	res, err := OpenLoop{URLs: urls, Rate: 600, MaxRequests: 30, Duration: time.Minute, Hit: peerHit}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 30 || res.OK != 30 || res.Hits != 10 {
		t.Errorf("requests, ok, hits = %d, %d, %d, want 30, 30, 10", res.Requests, res.OK, res.Hits)
	}
	for i := range seen {
		if got := seen[i].Load(); got != 10 {
			t.Errorf("k=%d requested %d times, want 10", i, got)
		}
	}
	if _, err := (OpenLoop{URLs: []string{srv.URL, "http://192.0.2.1/"}, Rate: 10}).Run(context.Background()); err == nil {
		t.Error("OpenLoop with a non-loopback URL among URLs ran, want an error")
	}
}

func TestWaitHit(t *testing.T) {
	srv, n := hitServer(t, func(n int64, _ *http.Request) bool { return n >= 3 })
	ct := cacheTarget{target: &target{name: "nginx"}, hit: peerHit, header: peerCacheHeader}
	if err := waitHit(context.Background(), srv.Client(), srv.URL, ct, 5*time.Second); err != nil {
		t.Fatalf("waitHit: %v", err)
	}
	if got := n.Load(); got != 3 {
		t.Errorf("requests until the hit = %d, want 3", got)
	}
	never, _ := hitServer(t, func(int64, *http.Request) bool { return false })
	err := waitHit(context.Background(), never.Client(), never.URL, ct, 500*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "no cache hit within 500ms") || !strings.Contains(err.Error(), peerCacheHeader) {
		t.Errorf("waitHit on a cache that never hits = %v, want an error naming the bound and the header", err)
	}
}

// fakeCacheNode answers as a portico node would to the key search: every
// key is a hit whose Cache-Status names owner(k).
func fakeCacheNode(t *testing.T, name string, owner func(k string) string) *clusterNode {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Status", "Portico; hit; node="+owner(r.URL.Query().Get("k")))
		fmt.Fprint(w, "{}")
	}))
	t.Cleanup(srv.Close)
	return &clusterNode{name: name, url: srv.URL}
}

func TestOwnedKeys(t *testing.T) {
	sc := Scenario{Name: "cache-cluster", Path: cachePath, Keys: 5}
	evenOnFirst := func(k string) string {
		if (k[len(k)-1]-'0')%2 == 0 {
			return "bench-1"
		}
		return "bench-3"
	}
	owner := fakeCacheNode(t, "bench-1", evenOnFirst)
	asker := fakeCacheNode(t, "bench-2", evenOnFirst)
	keys, tried, err := ownedKeys(context.Background(), sc, owner, asker)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/cache/3600?k=0", "/cache/3600?k=2", "/cache/3600?k=4", "/cache/3600?k=6", "/cache/3600?k=8"}
	if strings.Join(keys, " ") != strings.Join(want, " ") || tried != 9 {
		t.Errorf("ownedKeys = %v after %d tries, want %v after 9", keys, tried, want)
	}
	nobody := fakeCacheNode(t, "bench-2", func(string) string { return "bench-3" })
	if _, tried, err := ownedKeys(context.Background(), sc, owner, nobody); err == nil || tried != sc.Keys*keySearchFactor {
		t.Errorf("ownedKeys with no key owned = %v after %d tries, want an error after %d", err, tried, sc.Keys*keySearchFactor)
	}
}

func TestCacheRatios(t *testing.T) {
	rows := []Row{
		{Target: TargetDirect, RPS: 1000},
		{Target: TargetPortico, RPS: 900, ProxyCPUUSPerReq: ptr(20)},
		{Target: "nginx", RPS: 1200, ProxyCPUUSPerReq: ptr(40)},
		{Target: "haproxy", Skipped: "not installed"},
	}
	got := map[string]Ratio{}
	for _, r := range cacheRatios(rows) {
		got[r.Name] = r
	}
	tests := []struct {
		name  string
		value float64 // 0: no value
		met   string  // "met", "missed" or "" (no goal)
	}{
		{"portico ÷ direct, rps", 0.9, "met"},
		{"portico proxy cpu µs per hit", 20, "met"},
		{"portico ÷ nginx, rps", 0.75, ""},
		{"portico ÷ nginx, proxy cpu µs/req", 0.5, ""},
		{"portico ÷ haproxy, rps", 0, ""},
	}
	if len(got) != len(tests)+1 { // and haproxy's cpu
		t.Errorf("ratios = %v, want %d", got, len(tests)+1)
	}
	for _, tt := range tests {
		r, ok := got[tt.name]
		switch {
		case !ok:
			t.Errorf("no ratio %q", tt.name)
		case tt.value == 0 && r.Value != nil:
			t.Errorf("%s = %v, want none (a row is skipped)", tt.name, *r.Value)
		case tt.value != 0 && (r.Value == nil || *r.Value != tt.value):
			t.Errorf("%s = %v, want %g", tt.name, r.Value, tt.value)
		case tt.met == "" && r.GoalMet != nil, tt.met != "" && (r.GoalMet == nil || *r.GoalMet != (tt.met == "met")):
			t.Errorf("%s goal met = %v, want %s", tt.name, r.GoalMet, tt.met)
		}
	}
	rows[1].RPS, rows[1].ProxyCPUUSPerReq = 500, ptr(30)
	for _, r := range cacheRatios(rows)[:2] {
		if r.GoalMet == nil || *r.GoalMet {
			t.Errorf("%s = %s, want MISSED", r.Name, ratioLine(r))
		}
	}
	if line := ratioLine(cacheRatios(rows)[0]); line != "portico ÷ direct, rps: 0.50 (goal ≥ 0.8: MISSED)" {
		t.Errorf("ratio line = %q", line)
	}
}

func TestAddedLatency(t *testing.T) {
	local := Row{Measure: measureLocalHit, OK: 10, P50US: 100, P99US: 200}
	remote := Row{Measure: measureRemoteHit, OK: 10, P50US: 250, P99US: 900}
	addedLatency(&local, &remote)
	if remote.AddedP50US == nil || *remote.AddedP50US != 150 || *remote.AddedP99US != 700 || remote.GoalMet == nil || !*remote.GoalMet {
		t.Errorf("remote = %+v, want +150µs, +700µs, goal met", remote)
	}
	remote = Row{Measure: measureRemoteHit, OK: 10, P50US: 250, P99US: 1300}
	addedLatency(&local, &remote)
	if remote.GoalMet == nil || *remote.GoalMet {
		t.Errorf("remote with +1.1ms at p99 = %+v, want goal missed", remote)
	}
	skipped := Row{Measure: measureRemoteHit, Skipped: "interrupted"}
	addedLatency(&local, &skipped)
	if skipped.AddedP99US != nil || skipped.GoalMet != nil {
		t.Errorf("skipped remote = %+v, want no figures", skipped)
	}
}

func cacheReport() *Report {
	all := Scenarios(Options{})
	hits := int64(9000)
	return &Report{
		Settings: Settings{DurationS: 5, WarmupS: 1, Connections: 64, Rate: 2000},
		Scenarios: []ScenarioReport{
			{
				Scenario: scenarioNamed(all, "cache"),
				Rows: []Row{
					{Target: TargetDirect, Requests: 8000, OK: 8000, RPS: 750, BackendRequests: ptr(8000.2)},
					{Target: TargetPortico, Requests: 9000, OK: 9000, RPS: 900, RatioToDirect: ptr(1.2), ProxyCPUUSPerReq: ptr(14), BackendRequests: ptr(0), CacheHits: &hits},
				},
				Ratios: []Ratio{newRatioAtLeast("portico ÷ direct, rps", ptr(900), ptr(750), goalCacheOverDirect)},
				Notes:  []string{"GET /cache/3600 answers 148 bytes"},
			},
			{
				Scenario: scenarioNamed(all, "cache-cluster"),
				Rows: []Row{
					{Target: "bench-1", Measure: measureLocalHit, Requests: 100, OK: 100, P50US: 100, P99US: 200, CacheHits: ptrInt(100)},
					{Target: "bench-2", Measure: measureRemoteHit, Skipped: "finding keys: none of 2000 keys is owned by bench-1"},
				},
			},
		},
	}
}

func ptrInt(v int64) *int64 { return &v }

func TestWriteTable_Cache(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, cacheReport()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"backend reqs", "8,000", "9,000", "ratio: portico ÷ direct, rps: 1.20 (goal ≥ 0.8: met)", "note: GET /cache/3600 answers 148 bytes",
		"+p99 vs local", "local hit (owner)", "remote hit (asks owner) (bench-2) skipped: finding keys",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteMarkdown_Cache(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, cacheReport()); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"## cache: GET /cache/3600, closed loop, 64 connections",
		"| target | rps | × direct | proxy cpu µs/req | backend cpu µs/req | backend reqs | hits |",
		"| measure | node | requests | hits | p50 |",
		"- note: GET /cache/3600 answers 148 bytes",
		"- portico ÷ direct, rps: 1.20 (goal ≥ 0.8: met)",
		"proxy_cache_key $request_uri", "near_ttl: 1ns", "rchar of /proc/PID/io",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// realBinary is the portico binary the real-binary tests run: the one
// $PORTICO_BENCH_BIN names, else ../bin/portico; the test is skipped when
// there is none (or with -short).
func realBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the real binary: not in -short")
	}
	bin := os.Getenv("PORTICO_BENCH_BIN")
	if bin == "" {
		bin = "../bin/portico"
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("%s not built (go build -o bin/portico ./cmd/portico, or set PORTICO_BENCH_BIN)", bin)
	}
	return bin
}

// TestCacheScenarios_RealBinary runs cache and cache-cluster, shrunk,
// through Main against the real binary without peers: the wiring and the
// hit checks, not the figures. A failure on portico's hits may mean the
// binary predates the cache: rebuild it.
func TestCacheScenarios_RealBinary(t *testing.T) {
	bin := realBinary(t)
	conf := filepath.Join(t.TempDir(), "cache.yaml")
	if err := os.WriteFile(conf, []byte(porticoCacheConfig("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "config", "validate", conf).CombinedOutput(); err != nil {
		t.Skipf("%s refuses a cached route, so it predates the cache: rebuild it (%v: %s)", bin, err, bytes.TrimSpace(out))
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	rep := runMain(t, bin, "cache,cache-cluster", "--duration", "300ms", "--warmup", "100ms", "--no-pin")
	if left := runningUnder(tmp); len(left) > 0 {
		t.Errorf("processes left after the run: %v", left)
	}
	if len(rep.Scenarios) != 2 {
		t.Fatalf("%d scenarios, want cache and cache-cluster", len(rep.Scenarios))
	}
	cache, cluster := rep.Scenarios[0], rep.Scenarios[1]
	if len(cache.Rows) != 2 {
		t.Fatalf("cache rows = %+v, want direct and portico", cache.Rows)
	}
	for _, r := range cache.Rows {
		if r.Skipped != "" || r.OK == 0 || r.OK != r.Requests || r.BackendRequests == nil || r.RatioToDirect == nil {
			t.Errorf("cache/%s = %+v, want measured, all 2xx, backend requests counted", r.Target, r)
		}
	}
	if d := cache.Rows[0]; d.BackendRequests != nil && (*d.BackendRequests < 0.9*float64(d.Requests) || *d.BackendRequests > 1.1*float64(d.Requests)) {
		t.Errorf("direct: %g backend requests estimated for %d requests, want about as many", *d.BackendRequests, d.Requests)
	}
	if p := cache.Rows[1]; p.CacheHits == nil || *p.CacheHits != p.Requests || p.BackendRequests == nil || *p.BackendRequests != 0 || p.ProxyCPUUSPerReq == nil {
		t.Errorf("cache/portico = %+v, want every request a hit, none reaching the backend, proxy cpu", p)
	}
	if len(cache.Ratios) != 2 || cache.Ratios[0].Value == nil || len(cache.Notes) != 1 {
		t.Errorf("cache ratios, notes = %+v, %q, want 2 ratios (no peers) with values and the body's size", cache.Ratios, cache.Notes)
	}
	if len(cluster.Rows) != 2 {
		t.Fatalf("cache-cluster rows = %+v, want local and remote", cluster.Rows)
	}
	for _, r := range cluster.Rows {
		if r.Skipped != "" || r.OK == 0 || r.CacheHits == nil || *r.CacheHits != r.OK {
			t.Errorf("cache-cluster/%s = %+v, want every answer a hit on the owner's entry", r.Measure, r)
		}
	}
	if r := cluster.Rows[1]; r.AddedP50US == nil || r.AddedP99US == nil || r.GoalMet == nil {
		t.Errorf("remote hits = %+v, want added latency against its goal", r)
	}
}
