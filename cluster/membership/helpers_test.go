package membership

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	key1 = bytes.Repeat([]byte{1}, 32)
	key2 = bytes.Repeat([]byte{2}, 16)
)

// fastTimings shrinks memberlist's timings the way consul's test servers
// do, so failures are detected in well under a second.
func fastTimings(c *memberlist.Config) {
	c.ProbeInterval = 100 * time.Millisecond
	c.ProbeTimeout = 50 * time.Millisecond
	c.GossipInterval = 20 * time.Millisecond
	c.SuspicionMult = 2
	c.TCPTimeout = time.Second
	c.PushPullInterval = time.Second
	c.GossipToTheDeadTime = time.Second
}

// logBuffer collects log output for assertions. Writes come from
// memberlist's goroutines, some after a test returns, so it never uses t.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) count(substr string) int { return strings.Count(l.String(), substr) }

// recorder keeps every OnChange call and checks they never overlap.
type recorder struct {
	inflight atomic.Int32
	overlap  atomic.Bool
	mu       sync.Mutex
	calls    [][]Member
}

func (r *recorder) onChange(ms []Member) {
	if r.inflight.Add(1) > 1 {
		r.overlap.Store(true)
	}
	defer r.inflight.Add(-1)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, ms)
}

// states returns the successive distinct states OnChange reported for name.
func (r *recorder) states(name string) []State {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []State
	for _, call := range r.calls {
		for _, m := range call {
			if m.Name == name && (len(out) == 0 || out[len(out)-1] != m.State) {
				out = append(out, m.State)
			}
		}
	}
	return out
}

type testNode struct {
	*Membership
	logs    *logBuffer
	changes *recorder
}

// startNode starts a member on 127.0.0.1 with a free port, key1, shrunk
// timings and fast join retries; opts adjust the config. Cleanup shuts it
// down.
func startNode(t *testing.T, name string, opts ...func(*Config)) *testNode {
	t.Helper()
	n := &testNode{logs: &logBuffer{}, changes: &recorder{}}
	cfg := Config{
		Meta:           Meta{Name: name, Region: "eu", Server: true},
		BindAddr:       "127.0.0.1:0",
		Keys:           [][]byte{key1},
		Tune:           fastTimings,
		JoinBackoff:    20 * time.Millisecond,
		JoinMaxBackoff: 100 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnChange:       n.changes.onChange,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	n.Membership = m
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown(%s): %v", name, err)
		}
		if n.changes.overlap.Load() {
			t.Errorf("%s: OnChange calls overlapped", name)
		}
	})
	return n
}

func seeds(addrs ...string) func(*Config) {
	return func(c *Config) { c.Join = addrs }
}

func withKeys(keys ...[]byte) func(*Config) {
	return func(c *Config) { c.Keys = keys }
}

func bindTo(addr string) func(*Config) {
	return func(c *Config) { c.BindAddr = addr }
}

// waitFor polls cond until it holds or timeout passes, like consul's
// retry.Run; what describes the awaited condition.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond) // a poll interval, not a wait for the event
	}
}

// states maps member names to their states as n sees them.
func states(n *testNode) map[string]State {
	out := make(map[string]State)
	for _, m := range n.Members() {
		out[m.Name] = m.State
	}
	return out
}

// sees reports whether n sees exactly want as its alive members.
func sees(n *testNode, want ...string) bool {
	var alive []string
	for _, m := range n.Members() {
		if m.State == Alive {
			alive = append(alive, m.Name)
		}
	}
	slices.Sort(alive)
	slices.Sort(want)
	return slices.Equal(alive, want)
}

func waitAllSee(t *testing.T, nodes []*testNode, names ...string) {
	t.Helper()
	for _, n := range nodes {
		waitFor(t, 5*time.Second, n.cfg.Meta.Name+" to see "+strings.Join(names, ",")+" alive", func() bool {
			return sees(n, names...)
		})
	}
}

// freePort returns a port free for TCP on host at the time of the call.
func freePort(t *testing.T, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
