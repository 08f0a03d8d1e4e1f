package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func ptr(v float64) *float64 { return &v }

// sampleReport is a report as a run with a skipped peer produces it.
func sampleReport() *Report {
	closed := Scenarios(Options{})[0]
	open := Scenarios(Options{})[1]
	rows := func() []Row {
		return []Row{
			{Target: TargetDirect, Requests: 1000, OK: 1000, ElapsedS: 1, RPS: 1000, P50US: 100, P90US: 150, P99US: 200, P999US: 400,
				BackendCPUUSPerReq: ptr(12)},
			{Target: TargetPortico, Requests: 800, OK: 790, ElapsedS: 1, RPS: 790, P50US: 150, P90US: 200, P99US: 300, P999US: 900,
				Errors: map[string]int64{"status 502": 7, "reset": 3}, ProxyCPUUSPerReq: ptr(40), BackendCPUUSPerReq: ptr(12),
				AllocsPerReq: ptr(55.5), Notes: []string{"allocations: a | pipe"}},
			{Target: "nginx", Skipped: "nginx exited: exit status 1:\n[emerg] bind() failed | oops"},
		}
	}
	rep := &Report{
		Started:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Finished:    time.Date(2026, 1, 2, 3, 5, 5, 0, time.UTC),
		Environment: Environment{GoVersion: "go1.26", OS: "linux", Arch: "amd64", CPUs: 2, Versions: map[string]string{"nginx": "nginx version: nginx/1.22.1"}},
		Settings:    Settings{DurationS: 10, WarmupS: 1, Connections: 64, Rate: 2000, Order: targetOrder},
		Scenarios:   []ScenarioReport{{Scenario: closed, Rows: rows()}, {Scenario: open, Rows: rows()}},
	}
	for _, sr := range rep.Scenarios {
		compare(sr.Scenario, sr.Rows)
	}
	return rep
}

func TestCompare(t *testing.T) {
	rep := sampleReport()
	closed, open := rep.Scenarios[0].Rows, rep.Scenarios[1].Rows
	tests := []struct {
		name string
		got  *float64
		want *float64
	}{
		{"closed: direct ratio", closed[0].RatioToDirect, ptr(1)},
		{"closed: portico ratio", closed[1].RatioToDirect, ptr(0.79)},
		{"closed: skipped has none", closed[2].RatioToDirect, nil},
		{"closed: no added latency", closed[1].AddedP50US, nil},
		{"open: direct adds nothing", open[0].AddedP50US, nil},
		{"open: portico added p50", open[1].AddedP50US, ptr(50)},
		{"open: portico added p99", open[1].AddedP99US, ptr(100)},
		{"open: no ratio", open[1].RatioToDirect, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch {
			case tt.want == nil && tt.got != nil:
				t.Errorf("got %v, want none", *tt.got)
			case tt.want != nil && tt.got == nil:
				t.Errorf("got none, want %v", *tt.want)
			case tt.want != nil && *tt.got != *tt.want:
				t.Errorf("got %v, want %v", *tt.got, *tt.want)
			}
		})
	}
}

func TestWriteJSON_RoundTrips(t *testing.T) {
	rep := sampleReport()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(buf.Bytes()) {
		t.Fatalf("WriteJSON wrote invalid JSON:\n%s", buf.String())
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	if got, want := len(back.Scenarios), 2; got != want {
		t.Fatalf("scenarios = %d, want %d", got, want)
	}
	p := back.Scenarios[0].Rows[1]
	if p.Target != TargetPortico || p.AllocsPerReq == nil || *p.AllocsPerReq != 55.5 || p.Errors["reset"] != 3 {
		t.Errorf("portico row = %+v, want target portico, 55.5 allocs/req, 3 resets", p)
	}
	if back.Scenarios[0].Name != "passthrough" || back.Scenarios[1].Loop != LoopOpen {
		t.Errorf("scenarios = %q/%q, want passthrough then an open loop", back.Scenarios[0].Name, back.Scenarios[1].Loop)
	}
	// Absent figures are absent, not zero.
	var raw map[string]any
	_ = json.Unmarshal(buf.Bytes(), &raw)
	direct := raw["scenarios"].([]any)[0].(map[string]any)["rows"].([]any)[0].(map[string]any)
	if _, ok := direct["allocs_per_req"]; ok {
		t.Errorf("direct row has allocs_per_req: %v", direct)
	}
}

func TestWriteMarkdown_Tables(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"# Portico benchmark",
		"## passthrough: GET /bytes/1024, closed loop, 64 connections",
		"## latency: GET /bytes/1024, open loop, 2000 req/s",
		"| target | rps | × direct |",
		"| portico | 790 | 0.79 | 40.0 |",
		"| portico | 800 | 150µs | 300µs | 900µs | +50µs | +100µs |",
		`- nginx skipped: nginx exited: exit status 1: [emerg] bind() failed \| oops`,
		"## Method", "## Environment", "nginx version: nginx/1.22.1",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// Every table line has as many cells as its header.
	var cells int
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cells = 0
			continue
		}
		n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
		if cells == 0 {
			cells = n
		} else if n != cells {
			t.Errorf("table line has %d separators, header has %d: %q", n, cells, line)
		}
	}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"passthrough: GET /bytes/1024", "direct", "portico", "10 (reset: 3, status 502: 7)", "nginx skipped: nginx exited"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Columns line up: "rps" starts at the same offset as each rps value.
	lines := strings.Split(out, "\n")
	header := lines[1]
	col := strings.Index(header, "rps")
	for _, line := range lines[2:5] {
		if len(line) <= col || line[col-1] != ' ' || line[col] == ' ' {
			t.Errorf("row %q does not align with header %q", line, header)
		}
	}
}

func TestGroupDigits(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-12345, "-12,345"}}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := groupDigits(tt.in); got != tt.want {
				t.Errorf("groupDigits(%d) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestProgress_LeavesOneLinePerPhase(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf)
	done := p.start("passthrough/portico", time.Second)
	done.Add(1234)
	p.stop()
	out := buf.String()
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "passthrough/portico") || !strings.Contains(out, "1,234 req") {
		t.Errorf("progress wrote %q, want one line with the label and 1,234 req", out)
	}
	var none *progress
	if none.start("x", time.Second) != nil {
		t.Error("nil progress returned a counter")
	}
	none.stop()
}

// scenarioNamed picks a scenario of the built-in list by name; the zero
// Scenario when there is none.
func scenarioNamed(all []Scenario, name string) Scenario {
	for _, sc := range all {
		if sc.Name == name {
			return sc
		}
	}
	return Scenario{}
}
