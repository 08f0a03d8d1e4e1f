package bench

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// waitFor polls cond every 10ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// alive reports whether pid runs (a zombie counts as gone).
func alive(pid int) bool {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(st)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

func needSh(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
}

func TestProcess_StopKillsTheWholeGroup(t *testing.T) {
	needSh(t)
	tests := []struct {
		name   string
		script string
		ctx    func() (context.Context, context.CancelFunc)
	}{
		{
			name:   "exits on SIGTERM",
			script: "sleep 60 & echo $!; wait",
			ctx:    func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
		},
		{
			// The leader ignores SIGTERM: the group is killed when ctx ends.
			name:   "ignores SIGTERM",
			script: "trap '' TERM; sleep 60 & echo $!; wait; wait",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 100*time.Millisecond)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p, err := startProcess(procSpec{name: "child", argv: []string{"sh", "-c", tt.script}, dir: dir, cpu: -1})
			if err != nil {
				t.Fatal(err)
			}
			var grandchild int
			waitFor(t, 5*time.Second, "the child to print its child's pid", func() bool {
				grandchild, err = strconv.Atoi(strings.TrimSpace(p.logTail()))
				return err == nil
			})
			ctx, cancel := tt.ctx()
			defer cancel()
			if err := p.stop(ctx); err != nil {
				t.Fatalf("stop: %v", err)
			}
			if alive(p.pid()) {
				t.Errorf("child %d still runs after stop", p.pid())
			}
			// The grandchild was killed with the group; init reaps it.
			waitFor(t, 5*time.Second, "the grandchild to be gone", func() bool { return !alive(grandchild) })
			if err := p.stop(ctx); err != nil {
				t.Errorf("second stop: %v", err)
			}
		})
	}
}

func TestProcess_WaitReadyReportsAnEarlyExit(t *testing.T) {
	needSh(t)
	p, err := startProcess(procSpec{name: "crash", argv: []string{"sh", "-c", "echo cannot bind; exit 3"}, dir: t.TempDir(), cpu: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop(context.Background())
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: newTransport(1)}
	defer client.CloseIdleConnections()
	err = p.waitReady(context.Background(), client, "http://"+loopback(ports[0])+"/ready")
	if err == nil || !strings.Contains(err.Error(), "cannot bind") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("waitReady = %v, want the exit status and the log tail", err)
	}
}

func TestFreePorts_AreDistinct(t *testing.T) {
	ports, err := freePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] || p <= 0 {
			t.Errorf("port %d repeated or invalid in %v", p, ports)
		}
		seen[p] = true
	}
}
