package edge_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gw/portico/edge"
	"github.com/prometheus/client_golang/prometheus"
)

const rejectedMetric = "portico_edge_rejected_requests_total"

var rejectReasons = []string{"bad_request", "headers_too_large", "unsupported_transfer_encoding", "expectation_failed", "http_version", "other", "unknown"}

// TestRejectedRequests_Counted: requests that net/http refuses before any
// handler runs are counted by reason; requests that reach the handler,
// and clients that leave mid-request, are not.
func TestRejectedRequests_Counted(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		status string // the start of the response ("" when none is awaited)
		reason string // "" means: not counted
	}{
		{"bad request line", "GARBAGE\r\n\r\n", "HTTP/1.1 400", "bad_request"},
		{"header without a colon", "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", "HTTP/1.1 400", "bad_request"},
		{"headers too large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 8000) + "\r\n\r\n", "HTTP/1.1 431", "headers_too_large"},
		{"unsupported transfer coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501", "unsupported_transfer_encoding"},
		{"unknown expectation", "GET / HTTP/1.1\r\nHost: x\r\nExpect: fancy\r\n\r\n", "HTTP/1.1 417", "expectation_failed"},
		{"unsupported version", "GET / HTTP/4.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505", "http_version"},
		{"bad request after a good one", "GET / HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n", "HTTP/1.1 200", "bad_request"},
		{"a good request", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 200", ""},
		// net/http answers a head cut short by EOF with a 400 too.
		{"half a request, then EOF", "GET / HTTP/1.1\r\nHost: x\r\n", "", "bad_request"},
		{"nothing, then gone", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			sv := serve(t, edge.Config{Registerer: reg, MaxHeaderBytes: 1024})
			c, err := net.Dial("tcp", sv.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tt.status == "" {
				// The client sends what it has and half-closes: the
				// server reads EOF.
				_, _ = io.WriteString(c, tt.raw)
				_ = c.(*net.TCPConn).CloseWrite()
				_, _ = io.ReadAll(deadline(t, c))
			} else if got := rawRequest(t, c, tt.raw); !strings.HasPrefix(got, tt.status) {
				t.Fatalf("response %.60q, want it to start with %q", got, tt.status)
			}
			waitFor(t, "the connection to close", func() bool { return sv.OpenConns() == 0 })
			total := 0.0
			for _, r := range rejectReasons {
				v := metric(t, reg, rejectedMetric, "reason", r)
				total += v
				if r == tt.reason && v != 1 {
					t.Errorf("%s{reason=%q} = %v, want 1", rejectedMetric, r, v)
				}
			}
			want := 0.0
			if tt.reason != "" {
				want = 1
			}
			if total != want {
				t.Errorf("%s summed over reasons = %v, want %v", rejectedMetric, total, want)
			}
		})
	}
}

// TestRejectedRequests_TLS: over TLS the edge sees only ciphertext, so a
// refused request counts with reason "unknown"; a client too slow to
// send its head (closed silently by ReadHeaderTimeout) is not counted.
func TestRejectedRequests_TLS(t *testing.T) {
	reg := prometheus.NewRegistry()
	sv, pool := serveTLS(t, edge.Config{Registerer: reg, ReadHeaderTimeout: 200 * time.Millisecond})
	dial := func() *tls.Conn {
		c, err := tls.Dial("tcp", sv.addr, &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := dial()
	if got := rawRequest(t, c, "GARBAGE\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 400") {
		t.Fatalf("response %.60q, want a 400", got)
	}
	c.Close()
	waitFor(t, "the rejection to be counted", func() bool { return metric(t, reg, rejectedMetric, "reason", "unknown") == 1 })

	// Half a head, then nothing: the header timeout closes it silently.
	c = dial()
	defer c.Close()
	if got := rawRequest(t, c, "GET / HTTP/1.1\r\nHost: x\r\n"); got != "" {
		t.Errorf("a slow client got %.60q, want a silent close", got)
	}
	waitFor(t, "the connection to close", func() bool { return sv.OpenConns() == 0 })
	for _, r := range rejectReasons {
		want := 0.0
		if r == "unknown" {
			want = 1
		}
		if v := metric(t, reg, rejectedMetric, "reason", r); v != want {
			t.Errorf("%s{reason=%q} = %v, want %v (a slow client is no rejection)", rejectedMetric, r, v, want)
		}
	}
}

// TestRejectedRequests_SlowClientNotCounted: a head that never completes
// is cut by ReadHeaderTimeout without an answer, and not counted.
func TestRejectedRequests_SlowClientNotCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	sv := serve(t, edge.Config{Registerer: reg, ReadHeaderTimeout: 200 * time.Millisecond})
	c, err := net.Dial("tcp", sv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := rawRequest(t, c, "GET / HTTP/1.1\r\nHost: x\r\n"); got != "" {
		t.Errorf("a slow client got %.60q, want a silent close", got)
	}
	waitFor(t, "the connection to close", func() bool { return sv.OpenConns() == 0 })
	for _, r := range rejectReasons {
		if v := metric(t, reg, rejectedMetric, "reason", r); v != 0 {
			t.Errorf("%s{reason=%q} = %v, want 0", rejectedMetric, r, v)
		}
	}
}

// TestRejectedRequests_LogRateLimited: a rejection is logged at warn, at
// most once per 10s; the next line says how many were left out.
func TestRejectedRequests_LogRateLimited(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	logs := &lockedBuffer{}
	reg := prometheus.NewRegistry()
	sv := serve(t, edge.Config{
		Registerer: reg,
		Now:        clock.now,
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	reject := func(n float64) {
		t.Helper()
		c, err := net.Dial("tcp", sv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		rawRequest(t, c, "GARBAGE\r\n\r\n")
		waitFor(t, "the rejection to be counted", func() bool { return metric(t, reg, rejectedMetric, "reason", "bad_request") == n })
	}
	reject(1)
	reject(2)
	reject(3)
	lines := logs.lines()
	if len(lines) != 1 {
		t.Fatalf("logged %d lines for 3 rejections within 10s, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if l := lines[0]; !strings.Contains(l, "level=WARN") || !strings.Contains(l, "reason=bad_request") || !strings.Contains(l, "remote=127.0.0.1:") {
		t.Errorf("log line %q lacks the level, reason or remote address", l)
	}
	clock.add(10 * time.Second)
	reject(4)
	lines = logs.lines()
	if len(lines) != 2 {
		t.Fatalf("logged %d lines after 10s more, want 2:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if !strings.Contains(lines[1], "suppressed=2") {
		t.Errorf("second line %q does not count the 2 left out", lines[1])
	}
}

// fakeClock is a clock for Config.Now that moves when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.TrimSpace(l.b.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
