package bench

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunCluster_StartFails runs the skeleton with a binary that exits at
// once: the body never runs, the reason names the start (or says
// interrupted once ctx ended), and nothing is left running.
func TestRunCluster_StartFails(t *testing.T) {
	bin, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false(1)")
	}
	tests := []struct {
		name    string
		cancel  bool
		wantWhy string
	}{
		{"node exits", false, "starting the cluster: starting bench-1"},
		{"interrupted", true, "interrupted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			dir := t.TempDir()
			ph := phase{tb: &testbed{cfg: bedConfig{binary: bin, cpu: -1}, dir: dir, backendURL: "http://127.0.0.1:9"},
				progress: newProgress(&out)}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			ran := false
			why := ph.runCluster(ctx, Scenario{Name: "t", Nodes: 2, Voters: 1}, nil, func(*clusterRun) { ran = true })
			if ran {
				t.Error("body ran though the cluster did not start")
			}
			if !strings.HasPrefix(why, tt.wantWhy) {
				t.Errorf("runCluster = %q, want it to start with %q", why, tt.wantWhy)
			}
			if out.Len() != 0 {
				t.Errorf("progress = %q, want no note of a cluster that never formed", out.String())
			}
			if left := runningUnder(dir); len(left) > 0 {
				t.Errorf("processes left: %v", left)
			}
		})
	}
}

func TestClusterRun_Note(t *testing.T) {
	var out strings.Builder
	r := &clusterRun{ph: phase{progress: newProgress(&out)}, sc: Scenario{Name: "cache-cluster"}}
	r.note("%d nodes serving config version 1 after %v", 3, time.Second)
	if got, want := out.String(), "cache-cluster: 3 nodes serving config version 1 after 1s\n"; got != want {
		t.Errorf("note = %q, want %q", got, want)
	}
}

func TestClusterRun_Apply_Fake(t *testing.T) {
	f, c := startFake(t, 3)
	r := &clusterRun{c: c}
	if err := r.apply(context.Background(), "the document", "doc-1"); err != nil {
		t.Fatalf("apply: %v", err)
	}
	f.mu.Lock()
	if len(f.docs) != 1 || f.docs[0] != "doc-1" {
		t.Errorf("docs = %q, want doc-1 alone", f.docs)
	}
	for i, v := range f.served {
		if v != f.version {
			t.Errorf("%s serves %d after apply, want %d (apply waits for every node)", nodeName(i), v, f.version)
		}
	}
	f.failPuts = 1
	f.mu.Unlock()
	err := r.apply(context.Background(), "the strict document", "doc-2")
	if err == nil || err.Error() != "writing the strict document: status 503" {
		t.Errorf("apply with a failing PUT = %v, want writing the strict document: status 503", err)
	}
}

// stepLoad is a loader that logs its run (with its length) and fails when
// told to.
type stepLoad struct {
	log  func(string)
	what string
	err  error
}

func (l stepLoad) Run(context.Context) (*Result, error) {
	l.log(l.what)
	if l.err != nil {
		return nil, l.err
	}
	res := newResult()
	res.record(time.Millisecond, 200, "")
	res.Elapsed = time.Millisecond
	return res, nil
}

// TestClusterRun_LoadNode checks the order of a node's load: the warm-up,
// the hook before the measured phase, the phase, the hook after it; a
// failed warm-up or phase skips the row and what follows it.
func TestClusterRun_LoadNode(t *testing.T) {
	needSh(t)
	backend, err := startProcess(procSpec{name: "backend", dir: t.TempDir(), cpu: -1, argv: []string{"sh", "-c", "sleep 60"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = backend.stop(context.Background()) })
	const warmup, duration = 3 * time.Second, 7 * time.Second // never waited for: the loads are fakes
	boom := errors.New("boom")
	tests := []struct {
		name              string
		warmErr, phaseErr error
		want              string
		wantSkipped       string
		wantRequests      int64
		hookless          bool
	}{
		{name: "measured", want: "warm 3s,before,load 7s,after", wantRequests: 1},
		{name: "warm-up fails", warmErr: boom, want: "warm 3s", wantSkipped: "warm-up: boom"},
		{name: "phase fails", phaseErr: boom, want: "warm 3s,before,load 7s", wantSkipped: "measured phase: boom"},
		{name: "no hook", hookless: true, want: "warm 3s,load 7s", wantRequests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var events []string
			log := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
			r := &clusterRun{ph: phase{tb: &testbed{backend: backend}, warmup: warmup, duration: duration}}
			newLoad := func(d time.Duration, _ *atomic.Int64) loader {
				if d == warmup {
					return stepLoad{log: log, what: "warm " + d.String(), err: tt.warmErr}
				}
				return stepLoad{log: log, what: "load " + d.String(), err: tt.phaseErr}
			}
			around := func() func() {
				log("before")
				return func() { log("after") }
			}
			if tt.hookless {
				around = nil
			}
			row := r.loadNode(context.Background(), "t/node", &target{name: "bench-1"}, Row{Target: "bench-1"}, newLoad, around)
			if got := strings.Join(events, ","); got != tt.want {
				t.Errorf("events = %s, want %s", got, tt.want)
			}
			if row.Skipped != tt.wantSkipped || row.Requests != tt.wantRequests || row.Target != "bench-1" {
				t.Errorf("row = %+v, want skipped %q, %d requests", row, tt.wantSkipped, tt.wantRequests)
			}
		})
	}
}
