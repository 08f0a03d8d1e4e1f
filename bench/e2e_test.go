package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildStandin builds testdata/standin, which imitates the portico
// subcommands the harness drives (serve, demo-upstream, version).
func buildStandin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a binary and runs load: not in -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the stand-in")
	}
	bin := filepath.Join(t.TempDir(), "portico-standin")
	cmd := exec.Command(goBin, "build", "-o", bin, "./testdata/standin")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the stand-in: %v\n%s", err, out)
	}
	return bin
}

// running lists the processes whose command line starts with bin.
func running(bin string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.HasPrefix(string(b), bin+"\x00") {
			found = append(found, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return found
}

// runMain runs Main for a short run of the scenarios without peers, with
// more flags if given, and returns the decoded results.
func runMain(t *testing.T, bin string, scenarios string, more ...string) *Report {
	t.Helper()
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"--binary", bin, "--duration", "1s", "--warmup", "200ms", "--peers", "none",
		"--scenarios", scenarios, "--connections", "8", "--rate", "200", "--out", out}
	args = append(args, more...)
	if code := Main(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("Main = %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if left := running(bin); len(left) > 0 {
		t.Errorf("processes left after the run: %v", left)
	}
	b, err := os.ReadFile(filepath.Join(out, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("decoding %s: %v", ResultsFile, err)
	}
	md, err := os.ReadFile(filepath.Join(out, ReportFile))
	if err != nil || !bytes.Contains(md, []byte("| target |")) {
		t.Errorf("%s: %v, want a Markdown table:\n%s", ReportFile, err, md)
	}
	if !strings.Contains(stdout.String(), "portico") {
		t.Errorf("stdout lacks the table:\n%s", stdout.String())
	}
	return &rep
}

// checkRows asserts direct and portico were both measured, with the
// figures each scenario promises.
func checkRows(t *testing.T, rep *Report) {
	t.Helper()
	if len(rep.Scenarios) == 0 {
		t.Fatal("no scenarios in the report")
	}
	for _, sr := range rep.Scenarios {
		if len(sr.Rows) != 2 {
			t.Fatalf("%s: %d rows, want direct and portico", sr.Name, len(sr.Rows))
		}
		for _, r := range sr.Rows {
			if r.Skipped != "" || r.Requests == 0 || r.OK != r.Requests || r.P50US <= 0 {
				t.Errorf("%s/%s = %+v, want measured, all 2xx", sr.Name, r.Target, r)
			}
		}
		p := sr.Rows[1]
		if p.ProxyCPUUSPerReq == nil || p.BackendCPUUSPerReq == nil || p.AllocsPerReq == nil || *p.AllocsPerReq <= 0 {
			t.Errorf("%s/portico lacks cpu or allocation figures: %+v", sr.Name, p)
		}
		if sr.Loop == LoopClosed && (p.RatioToDirect == nil || *p.RatioToDirect <= 0) {
			t.Errorf("%s/portico ratio = %v, want positive", sr.Name, p.RatioToDirect)
		}
		if sr.Loop == LoopOpen && (p.AddedP50US == nil || p.AddedP99US == nil) {
			t.Errorf("%s/portico lacks added latency: %+v", sr.Name, p)
		}
	}
}

func TestEndToEnd_Standin(t *testing.T) {
	bin := buildStandin(t)
	rep := runMain(t, bin, "passthrough,latency")
	checkRows(t, rep)
	if rep.Environment.Versions[TargetPortico] == "" {
		t.Errorf("no portico version in %+v", rep.Environment)
	}
}

// TestEndToEnd_RealBinary runs a 1s passthrough against bin/portico when
// it has been built (go build -o bin/portico ./cmd/portico), or the binary
// $PORTICO_BENCH_BIN names.
func TestEndToEnd_RealBinary(t *testing.T) {
	checkRows(t, runMain(t, realBinary(t), "passthrough"))
}

// cancelOn cancels when a line containing marker is written.
type cancelOn struct {
	mu     sync.Mutex
	marker string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.Contains(p, []byte(c.marker)) {
		c.cancel()
	}
	return len(p), nil
}

func TestRun_InterruptStopsEverything(t *testing.T) {
	bin := buildStandin(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := Run(ctx, Options{
		Binary: bin, Duration: 30 * time.Second, Warmup: 100 * time.Millisecond, Peers: []string{}, Connections: 2, NoInstall: true,
		// Interrupt as soon as the first warm-up is over.
		Progress: &cancelOn{marker: "warm-up", cancel: cancel},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	if rep == nil || !rep.Interrupted {
		t.Fatalf("report = %+v, want one marked interrupted", rep)
	}
	if left := running(bin); len(left) > 0 {
		t.Errorf("processes left after the interrupt: %v", left)
	}
}

// TestEndToEnd_EdgeScenarios_Standin runs the protocols and wan scenarios
// through Main against the stand-in (TLS, HTTP/2, HTTP/3 with 0-RTT),
// without Caddy: the wiring, not the figures.
func TestEndToEnd_EdgeScenarios_Standin(t *testing.T) {
	bin := buildStandin(t)
	rep := runMain(t, bin, "protocols,wan", "--duration", "300ms", "--warmup", "100ms", "--wan-conns", "2")
	if len(rep.Scenarios) != 2 {
		t.Fatalf("%d scenarios, want protocols and wan", len(rep.Scenarios))
	}
	protocols, wan := rep.Scenarios[0], rep.Scenarios[1]
	var got []string
	for _, r := range protocols.Rows {
		got = append(got, r.Target+" "+r.Protocol)
		if r.Skipped != "" || r.OK == 0 || r.OK != r.Requests || r.ProxyCPUUSPerReq == nil {
			t.Errorf("protocols/%s %s = %+v, want measured, all 2xx, with proxy cpu", r.Target, r.Protocol, r)
		}
	}
	if strings.Join(got, ",") != "portico h1,portico h2,portico h3" {
		t.Errorf("protocols rows = %v, want portico over h1, h2, h3 (no caddy with --peers none)", got)
	}
	if len(protocols.Ratios) != 1 || protocols.Ratios[0].Value == nil || protocols.Ratios[0].Goal == "" {
		t.Errorf("protocols ratios = %+v, want h3 ÷ h2 with a value and a goal", protocols.Ratios)
	}
	wantEmulation := emulationUser
	if os.Geteuid() == 0 {
		if _, err := os.Stat("/dev/net/tun"); err == nil {
			wantEmulation = emulationTUN
		}
	}
	got = nil
	for _, r := range wan.Rows {
		got = append(got, r.Measure+" "+r.Protocol)
		if r.Skipped != "" || r.OK == 0 || r.P50US <= 0 || r.Emulation != wantEmulation {
			t.Errorf("wan/%s %s = %+v, want measured with emulation %s", r.Measure, r.Protocol, r, wantEmulation)
		}
		// Whatever the losses, 0-RTT must have been accepted at least once.
		if r.Protocol == wanEarly && (r.Used0RTT == nil || *r.Used0RTT == 0) {
			t.Errorf("wan/%s %s used 0-RTT %v times, want some", r.Measure, r.Protocol, r.Used0RTT)
		}
	}
	want := measureTTFB + " h2," + measureTTFB + " h3," + measureTTFB + " h3-0rtt," + measureSeries + " h2," + measureSeries + " h3"
	if strings.Join(got, ",") != want {
		t.Errorf("wan rows = %v, want %s", got, want)
	}
	if len(wan.Ratios) != 5 {
		t.Errorf("wan ratios = %+v, want 5", wan.Ratios)
	}
}
