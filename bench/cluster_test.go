package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gw/portico/node/config"
)

func testSpec(dir string) clusterSpec {
	s := clusterSpec{voters: 3, key: "cWsHcJXwGM5j5ZNCgw1x3mtW1dFMQ2O8gE3Q8ZqkP+Y=", token: "0123abcd", backend: "127.0.0.1:9", dir: dir}
	for i := range clusterNodes {
		b := 20000 + 10*i
		s.ports = append(s.ports, nodePorts{edge: b, admin: b + 1, gossip: b + 2, raft: b + 3, peer: b + 4})
	}
	return s
}

// TestNodeConfig_ParsesWithTheSchema checks the generated files against
// the real config schema: what portico serve would refuse fails here.
func TestNodeConfig_ParsesWithTheSchema(t *testing.T) {
	spec := testSpec(t.TempDir())
	for i := range clusterNodes {
		t.Run(nodeName(i), func(t *testing.T) {
			f, err := config.Parse(nodeName(i)+".yaml", []byte(spec.nodeConfig(i)), nil)
			if err != nil {
				t.Fatalf("config.Parse: %v\n%s", err, spec.nodeConfig(i))
			}
			n, c := f.Node, f.Node.Cluster
			if n.Name != nodeName(i) || n.Listen != loopback(spec.ports[i].edge) || n.Admin.Token != spec.token ||
				n.DataDir != filepath.Join(spec.dir, nodeName(i)) || n.AccessLog.Output != "off" {
				t.Errorf("node = %+v, want %s on %d, token, data dir, no access log", n, nodeName(i), spec.ports[i].edge)
			}
			if c == nil {
				t.Fatal("no cluster section")
			}
			wantJoin := []string{loopback(spec.ports[0].gossip)}
			if i == 0 {
				wantJoin = nil
			}
			if c.BootstrapExpect != 3 || c.Voters != 3 || c.GossipKey != spec.key || c.Raft.Bind != loopback(spec.ports[i].raft) ||
				c.Peer.Bind != loopback(spec.ports[i].peer) || strings.Join(c.Join, ",") != strings.Join(wantJoin, ",") {
				t.Errorf("cluster = %+v, want bootstrap 3, voters 3, the key, own addresses, join %v", c, wantJoin)
			}
			if got := len(f.Gateway.Routes); got != 1 {
				t.Errorf("routes = %d, want 1", got)
			}
		})
	}
}

func TestGatewayDoc_Alternates(t *testing.T) {
	tests := []struct {
		name   string
		withW  bool
		routes []string
	}{
		{"without w", false, []string{"all"}},
		{"with w", true, []string{"all", "w"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := config.ParseGateway("doc", []byte(gatewayDoc("127.0.0.1:9", tt.withW)), nil)
			if err != nil {
				t.Fatalf("config.ParseGateway: %v", err)
			}
			var got []string
			for _, r := range g.Routes {
				got = append(got, r.Name)
			}
			if strings.Join(got, ",") != strings.Join(tt.routes, ",") {
				t.Errorf("routes = %v, want %v", got, tt.routes)
			}
		})
	}
}

func TestVictim(t *testing.T) {
	nodes := func(n int) []*clusterNode {
		var out []*clusterNode
		for i := range n {
			out = append(out, &clusterNode{name: nodeName(i)})
		}
		return out
	}
	tests := []struct {
		name   string
		nodes  int
		leader string
		want   int
	}{
		{"leader unknown: the last", 5, "", 4},
		{"leader first: the last", 5, "bench-1", 4},
		{"leader last: the one before", 5, "bench-5", 3},
		{"one node: itself", 1, "bench-1", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := victim(nodes(tt.nodes), tt.leader); got != tt.want {
				t.Errorf("victim = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    int64
		wantErr bool
	}{
		{"found", "Name:\tportico\nVmPeak:\t 9000 kB\nVmRSS:\t   21308 kB\nThreads:\t9\n", 21308 << 10, false},
		{"missing", "Name:\tkworker\nThreads:\t1\n", 0, true},
		{"odd unit", "VmRSS:\t 12 MB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVmRSS(bufio.NewScanner(strings.NewReader(tt.status)))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseVmRSS = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// fakeCluster answers the admin API of n nodes from one state: a write
// reaches the node that took it at once and the others after lag polls
// of their /ready; after the kill, an observer lists the victim "suspect"
// for a few polls, then "dead" (never, for the observer named blind).
type fakeCluster struct {
	mu       sync.Mutex
	version  int64
	served   []int64
	lagLeft  []int
	lag      int
	failPuts int      // the next failPuts PUTs answer 503
	docs     []string // PUT bodies, in order
	killed   string
	polls    map[string]int // members polls per observer since the kill
	blind    string
	leader   string
}

func startFake(t *testing.T, n int) (*fakeCluster, *benchCluster) {
	t.Helper()
	f := &fakeCluster{version: 1, served: make([]int64, n), lagLeft: make([]int, n), lag: 3, polls: map[string]int{}}
	c := &benchCluster{token: "tok", client: &http.Client{Transport: newTransport(4), Timeout: 5 * time.Second}}
	t.Cleanup(c.client.CloseIdleConnections)
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: f.handler(i, nodeName(i))}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
		f.served[i] = 1
		name := nodeName(i)
		c.nodes = append(c.nodes, &clusterNode{name: name, admin: "http://" + l.Addr().String(), pid: os.Getpid(),
			kill: func() error { f.mu.Lock(); f.killed = name; f.mu.Unlock(); return nil }})
	}
	return f, c
}

func (f *fakeCluster) handler(i int, name string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /config", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer tok" || f.failPuts > 0 {
			f.failPuts--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		f.docs = append(f.docs, string(body))
		f.version++
		for j := range f.served {
			f.lagLeft[j] = f.lag
		}
		f.served[i], f.lagLeft[i] = f.version, 0
		_ = json.NewEncoder(w).Encode(map[string]any{"version": f.version})
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.lagLeft[i] > 0 {
			f.lagLeft[i]--
		} else {
			f.served[i] = f.version
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "ready", "config_version": f.served[i]})
	})
	mux.HandleFunc("GET /cluster/status", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"leader": f.leader, "voters": []string{"bench-1", "bench-2", "bench-3"},
			"non_voters": []string{"bench-4", "bench-5"}})
	})
	mux.HandleFunc("GET /cluster/members", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		var members []map[string]string
		for j := range f.served {
			state := "alive"
			if nodeName(j) == f.killed {
				f.polls[name]++
				state = "suspect"
				if f.polls[name] > 2 && name != f.blind {
					state = "dead"
				}
			}
			members = append(members, map[string]string{"name": nodeName(j), "state": state})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"members": members})
	})
	return mux
}

func TestMeasureWrites_Fake(t *testing.T) {
	f, c := startFake(t, 5)
	f.failPuts = 1
	rows := c.measureWrites(context.Background(), 7, rand.New(rand.NewPCG(1, 2)), "127.0.0.1:9")
	if len(rows) != 2 {
		t.Fatalf("rows = %d, want PUT answered and applied", len(rows))
	}
	for _, r := range rows {
		if r.Requests != 7 || r.OK != 6 || r.Errors["status 503"] != 1 || r.MaxUS <= 0 || r.P50US <= 0 || r.Skipped != "" {
			t.Errorf("%s = %+v, want 7 writes, 6 timed, one 503", r.Measure, r)
		}
	}
	if rows[1].GoalMet == nil || *rows[1].GoalMet {
		t.Errorf("applied goal met = %v, want false (a write failed)", rows[1].GoalMet)
	}
	if rows[1].P50US < rows[0].P50US {
		t.Errorf("applied p50 %vµs < PUT p50 %vµs: applied must include the PUT", rows[1].P50US, rows[0].P50US)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.docs) != 6 {
		t.Fatalf("docs = %d, want 6", len(f.docs))
	}
	for i, doc := range f.docs {
		// Write 0 (with w) failed: doc i is write i+1, with w when i+1 is even.
		if got, want := strings.Contains(doc, "name: w"), i%2 == 1; got != want {
			t.Errorf("doc %d has route w = %v, want %v:\n%s", i, got, want, doc)
		}
	}
	for i, v := range f.served {
		if v != f.version {
			t.Errorf("%s served %d after the writes, want %d (every write waited for all)", nodeName(i), v, f.version)
		}
	}
}

func TestMeasureDetection_Fake(t *testing.T) {
	tests := []struct {
		name     string
		leader   string
		blind    string
		victim   string
		wantOK   int64
		wantMet  bool
		wantNote string
	}{
		{"all see it", "bench-2", "", "bench-5", 4, true, "killed bench-5 (non-voter); raft leader bench-2"},
		{"leader is spared", "bench-5", "", "bench-4", 4, true, "killed bench-4 (non-voter); raft leader bench-5"},
		{"one never does", "bench-1", "bench-3", "bench-5", 3, false, "killed bench-5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, c := startFake(t, 5)
			f.leader, f.blind = tt.leader, tt.blind
			st := c.raftStatus(context.Background())
			rows := c.measureDetection(context.Background(), st, time.Millisecond, 300*time.Millisecond)
			if len(rows) != 5 {
				t.Fatalf("rows = %d, want 4 observers and the cluster", len(rows))
			}
			agg := rows[4]
			if agg.Target != targetCluster || agg.Measure != measureDead(tt.victim) || agg.Requests != 4 || agg.OK != tt.wantOK ||
				agg.GoalMet == nil || *agg.GoalMet != tt.wantMet || len(agg.Notes) != 1 || !strings.Contains(agg.Notes[0], tt.wantNote) {
				t.Errorf("cluster row = %+v, want %s killed, 4 observers, %d saw it, goal met %v, note %q",
					agg, tt.victim, tt.wantOK, tt.wantMet, tt.wantNote)
			}
			for _, r := range rows[:4] {
				blind := r.Target == tt.blind
				if r.Target == tt.victim || r.Requests != 1 || (r.OK == 1) == blind || (r.MaxUS > 0) == blind {
					t.Errorf("%s row = %+v, want one sample, seen unless blind", r.Target, r)
				}
				if blind && r.Errors["not dead after 300ms"] != 1 {
					t.Errorf("blind row errors = %v, want not dead after 300ms", r.Errors)
				}
			}
		})
	}
}

func TestMeasureIdle_OwnProcess(t *testing.T) {
	_, c := startFake(t, 2)
	rows := c.measureIdle(context.Background(), 60*time.Millisecond, 10*time.Millisecond)
	if len(rows) != 2 {
		t.Fatalf("rows = %d, want 2", len(rows))
	}
	for _, r := range rows {
		if r.Measure != measureIdle || r.CPUPercent == nil || *r.CPUPercent < 0 || r.RSSMiB == nil || *r.RSSMiB <= 0 ||
			r.GoalMet == nil || r.ElapsedS < 0.06 || len(r.Notes) != 0 {
			t.Errorf("%s = %+v, want cpu, rss, a verdict, at least 60ms, no notes", r.Target, r)
		}
	}
}

func TestMeasureIdle_Interrupted(t *testing.T) {
	_, c := startFake(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rows := c.measureIdle(ctx, time.Minute, time.Second)
	if len(rows) != 1 || rows[0].Skipped != "interrupted" {
		t.Errorf("rows = %+v, want one, interrupted", rows)
	}
}

// clusterReport is a report of a cluster scenario as a run writes it.
func clusterReport() *Report {
	sc := scenarioNamed(Scenarios(Options{ClusterWrites: 20, ClusterIdle: 2 * time.Second}), "cluster")
	yes, no := true, false
	return &Report{
		Settings: Settings{DurationS: 10},
		Scenarios: []ScenarioReport{{Scenario: sc, Rows: []Row{
			{Target: targetCluster, Measure: measureApplied, Requests: 20, OK: 20, P50US: 2500, P99US: 9000, MaxUS: 9100,
				Goal: "p99 < 100ms", GoalMet: &yes, Notes: []string{"polled | often"}},
			{Target: "bench-1", Measure: measureIdle, RaftRole: "leader", CPUPercent: ptr(0.25), RSSMiB: ptr(21.4), Goal: "cpu < 1%", GoalMet: &no},
			{Target: "bench-2", Measure: measureDead("bench-5"), Requests: 1, OK: 1, P50US: 1.5e6, P99US: 1.5e6, MaxUS: 1.5e6},
			{Target: "bench-3", Measure: measureIdle, Skipped: "interrupted"},
		}}},
	}
}

func TestWriteMarkdown_Cluster(t *testing.T) {
	var buf strings.Builder
	if err := WriteMarkdown(&buf, clusterReport()); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"## cluster: 5 nodes on loopback (3 voters), 20 config writes, 2s idle, one node SIGKILLed",
		"| measure | node | samples | p50 | p99 | max | cpu % of a core | rss MiB | goal | errors |",
		"| write → applied on every node | cluster | 20 | 2.50ms | 9.00ms | 9.10ms | - | - | p99 < 100ms: met | 0 |",
		"| idle | bench-1 (leader) | - | - | - | - | 0.25 | 21.4 | cpu < 1%: MISSED | 0 |",
		// One sample: max alone.
		"| bench-5 SIGKILLed → seen dead | bench-2 | 1 | - | - | 1.50s | - | - | - | 0 |",
		// A skipped row still names its node.
		"| idle | bench-3 | skipped | - |",
		"- idle (bench-3) skipped: interrupted",
		`- note: write → applied on every node: polled \| often`,
		"- Config writes: 20 sequential `PUT /config`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// Only a cluster ran: no word on load targets.
	for _, unwanted := range []string{"measured per target", "Closed loop:"} {
		if strings.Contains(md, unwanted) {
			t.Errorf("markdown has %q though no load scenario ran:\n%s", unwanted, md)
		}
	}
}

func TestWriteTable_Cluster(t *testing.T) {
	var buf strings.Builder
	if err := WriteTable(&buf, clusterReport()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	header := lines[1]
	col := strings.Index(header, "rss MiB")
	if !strings.HasPrefix(header, "measure") || col < 0 {
		t.Fatalf("header = %q, want measure first and rss MiB", header)
	}
	if got := lines[3][col:]; !strings.HasPrefix(got, "21.4") {
		t.Errorf("idle row has %q under rss MiB, want 21.4", got)
	}
}

// TestCluster_RealBinary runs the cluster scenario, shrunk (10 writes, 1s
// idle), against bin/portico when it has been built (or
// $PORTICO_BENCH_BIN): 5 real nodes for about 10 s, so never with -short.
func TestCluster_RealBinary(t *testing.T) {
	bin := realBinary(t)
	// Every path of the run is under this dir: a process whose command
	// line names it afterwards was left behind by this test.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	rep, err := Run(context.Background(), Options{Binary: bin, Scenarios: []string{"cluster"}, Peers: []string{},
		NoInstall: true, NoPin: true, ClusterWrites: 10, ClusterIdle: time.Second})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if left := runningUnder(tmp); len(left) > 0 {
		t.Errorf("processes left after the run: %v", left)
	}
	if len(rep.Scenarios) != 1 {
		t.Fatalf("scenarios = %d, want the cluster alone", len(rep.Scenarios))
	}
	count := map[string]int{}
	for _, r := range rep.Scenarios[0].Rows {
		count[r.Measure]++
		switch {
		case r.Skipped != "":
			t.Errorf("%s skipped: %s", rowLabel(r), r.Skipped)
		case r.Measure == measureIdle && (r.CPUPercent == nil || r.RSSMiB == nil || *r.RSSMiB <= 0):
			t.Errorf("%s = %+v, want cpu and rss", rowLabel(r), r)
		case r.Measure != measureIdle && (r.OK == 0 || r.OK != r.Requests || r.MaxUS <= 0):
			t.Errorf("%s = %+v, want every sample timed", rowLabel(r), r)
		}
	}
	roles := map[string]int{}
	for _, r := range rep.Scenarios[0].Rows {
		if r.Measure == measureIdle {
			roles[r.RaftRole]++
		}
	}
	if roles["leader"] != 1 || roles["voter"] != clusterVoters-1 || roles["non-voter"] != clusterNodes-clusterVoters {
		t.Errorf("idle rows' raft roles = %v, want 1 leader, %d voters, %d non-voters", roles, clusterVoters-1, clusterNodes-clusterVoters)
	}
	if count[measurePut] != 1 || count[measureApplied] != 1 || count[measureIdle] != clusterNodes {
		t.Errorf("rows per measure = %v, want 1 PUT, 1 applied, %d idle", count, clusterNodes)
	}
	if dead := len(rep.Scenarios[0].Rows) - 2 - clusterNodes; dead != clusterNodes {
		t.Errorf("detection rows = %d, want %d survivors and the cluster", dead, clusterNodes)
	}
}

// runningUnder lists the processes whose command line mentions dir.
func runningUnder(dir string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir) {
			found = append(found, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return found
}
