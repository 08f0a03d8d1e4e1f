package observe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gw/portico/node/config"
)

// syncBuffer is a bytes.Buffer safe to read while the flush goroutine
// writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// failingWriter fails its first failures writes, then succeeds.
type failingWriter struct {
	failures int
	buf      bytes.Buffer
}

var errDiskFull = errors.New("disk full")

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.failures > 0 {
		f.failures--
		return 0, errDiskFull
	}
	return f.buf.Write(p)
}

// newLog opens an access log and closes it at the end of the test.
func newLog(t *testing.T, cfg config.AccessLog, o LogOptions) *AccessLog {
	t.Helper()
	l, err := NewAccessLog(cfg, o)
	if err != nil {
		t.Fatalf("NewAccessLog(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// decodeLines parses one JSON object per line.
func decodeLines(t *testing.T, text string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %q", len(out)+1, err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func TestAccessLog_file(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	l := newLog(t, config.AccessLog{Output: path}, LogOptions{})
	for i, status := range []int{200, 404, 502} {
		e := sampleEntry()
		e.Status, e.Retries = status, i
		l.Log(e)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// A second log appends to the same file.
	l2 := newLog(t, config.AccessLog{Output: path}, LogOptions{})
	l2.Log(&Entry{Status: 201, Method: "POST", Error: "none"})
	if err := l2.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := decodeLines(t, string(data))
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 4:\n%s", len(lines), data)
	}
	for i, want := range []float64{200, 404, 502, 201} {
		if got := lines[i]["status"]; got != want {
			t.Errorf("line %d status = %v, want %v", i+1, got, want)
		}
	}
	if got, want := lines[0]["path"], sampleEntry().Path; got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
	if got, want := len(lines[3]), 20; got != want {
		t.Errorf("line 4 has %d fields, want all %d", got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&^0o640 != 0 || perm&0o600 != 0o600 {
		t.Errorf("file mode = %v, want 0640 (less any umask bits)", perm)
	}
}

func TestAccessLog_sampling(t *testing.T) {
	tests := []struct {
		name   string
		sample float64
		rand   float64
		want   []float64 // statuses logged of 200, 404, 499, 500, 503
	}{
		{"tiny sample keeps only 5xx", 0.0001, 0.5, []float64{500, 503}},
		{"draw below sample keeps all", 0.5, 0.4, []float64{200, 404, 499, 500, 503}},
		{"draw at sample skips", 0.5, 0.5, []float64{500, 503}},
		{"zero sample means all", 0, 0.99, []float64{200, 404, 499, 500, 503}},
		{"full sample keeps all", 1, 0.99, []float64{200, 404, 499, 500, 503}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out syncBuffer
			l := newLog(t, config.AccessLog{Output: "stdout", Sample: tt.sample}, LogOptions{
				Stdout: &out,
				Rand:   func() float64 { return tt.rand },
			})
			for _, s := range []int{200, 404, 499, 500, 503} {
				l.Log(&Entry{Status: s})
			}
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			var got []float64
			for _, line := range decodeLines(t, out.String()) {
				got = append(got, line["status"].(float64))
			}
			if !equalFloats(got, tt.want) {
				t.Errorf("logged statuses %v, want %v", got, tt.want)
			}
		})
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAccessLog_outputs(t *testing.T) {
	tests := []struct {
		name       string
		output     string
		wantStdout bool
		wantStderr bool
	}{
		{"empty is stdout", "", true, false},
		{"stdout", "stdout", true, false},
		{"stderr", "stderr", false, true},
		{"off", "off", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			l := newLog(t, config.AccessLog{Output: tt.output}, LogOptions{Stdout: &stdout, Stderr: &stderr})
			l.Log(sampleEntry())
			l.Log(&Entry{Status: 500})
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if got := strings.Count(stdout.String(), "\n"); got != map[bool]int{true: 2}[tt.wantStdout] {
				t.Errorf("stdout got %d lines, want stdout used = %v", got, tt.wantStdout)
			}
			if got := strings.Count(stderr.String(), "\n"); got != map[bool]int{true: 2}[tt.wantStderr] {
				t.Errorf("stderr got %d lines, want stderr used = %v", got, tt.wantStderr)
			}
		})
	}
	if _, err := os.Stat("off"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(`output "off" created a file named off (stat err %v)`, err)
	}
}

func TestNewAccessLog_errors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-dir", "access.log")
	tests := []struct {
		name     string
		cfg      config.AccessLog
		wantText []string
	}{
		{"missing directory", config.AccessLog{Output: missing}, []string{missing, "does not exist", filepath.Dir(missing)}},
		{"path is a directory", config.AccessLog{Output: dir}, []string{dir}},
		{"negative sample", config.AccessLog{Sample: -0.1}, []string{"access_log.sample", "-0.1"}},
		{"sample above one", config.AccessLog{Sample: 1.5}, []string{"access_log.sample", "1.5"}},
		{"NaN sample", config.AccessLog{Sample: math.NaN()}, []string{"access_log.sample"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewAccessLog(tt.cfg, LogOptions{Stdout: io.Discard})
			if err == nil {
				_ = l.Close()
				t.Fatalf("NewAccessLog(%+v) = nil error, want one", tt.cfg)
			}
			if l != nil {
				t.Errorf("NewAccessLog returned a log with its error")
			}
			for _, w := range tt.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestAccessLog_flushesPeriodically(t *testing.T) {
	out := &notifyWriter{wrote: make(chan []byte, 1)}
	l := newLog(t, config.AccessLog{}, LogOptions{Stdout: out, FlushInterval: 5 * time.Millisecond})
	l.Log(sampleEntry())
	select {
	case p := <-out.wrote:
		if got := len(decodeLines(t, string(p))); got != 1 {
			t.Errorf("flushed %d lines, want 1", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("line not flushed within 5s without Close")
	}
}

// notifyWriter hands each write to a channel.
type notifyWriter struct{ wrote chan []byte }

func (n *notifyWriter) Write(p []byte) (int, error) {
	n.wrote <- bytes.Clone(p)
	return len(p), nil
}

func TestAccessLog_buffersUntilClose(t *testing.T) {
	var out syncBuffer
	l := newLog(t, config.AccessLog{}, LogOptions{Stdout: &out, FlushInterval: time.Hour})
	l.Log(sampleEntry())
	if got := out.String(); got != "" {
		t.Fatalf("written before a flush: %q", got)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := len(decodeLines(t, out.String())); got != 1 {
		t.Fatalf("after Close: %d lines, want 1", got)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	l.Log(sampleEntry()) // after Close: dropped, no panic
	if got := len(decodeLines(t, out.String())); got != 1 {
		t.Errorf("Log after Close wrote: %d lines, want 1", got)
	}
}

func TestAccessLog_perLine(t *testing.T) {
	var out syncBuffer
	l := newLog(t, config.AccessLog{}, LogOptions{Stdout: &out, FlushInterval: -1})
	l.Log(sampleEntry())
	if got := len(decodeLines(t, out.String())); got != 1 {
		t.Errorf("negative FlushInterval: %d lines before Close, want 1", got)
	}
}

func TestAccessLog_writeErrors(t *testing.T) {
	w := &failingWriter{failures: 1}
	l := newLog(t, config.AccessLog{}, LogOptions{Stdout: w, FlushInterval: -1})
	l.Log(&Entry{Status: 500}) // lost to the failure
	l.Log(&Entry{Status: 201}) // written: the log recovers
	err := l.Close()
	if !errors.Is(err, errDiskFull) {
		t.Errorf("Close = %v, want it to wrap %v", err, errDiskFull)
	}
	lines := decodeLines(t, w.buf.String())
	if len(lines) != 1 || lines[0]["status"] != 201.0 {
		t.Errorf("after a failed write got %v, want the one later line (201)", lines)
	}
	if again := l.Close(); !errors.Is(again, errDiskFull) {
		t.Errorf("second Close = %v, want the same error", again)
	}
}

func TestAccessLog_stampsZeroTime(t *testing.T) {
	var out syncBuffer
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	l := newLog(t, config.AccessLog{}, LogOptions{Stdout: &out, Now: func() time.Time { return now }})
	l.Log(&Entry{Status: 200})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := decodeLines(t, out.String())[0]["time"]; got != "2030-01-02T03:04:05Z" {
		t.Errorf("time = %v, want the injected clock's 2030-01-02T03:04:05Z", got)
	}
}

func TestAccessLog_concurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	// A small buffer so lines cross buffer boundaries while others write.
	l := newLog(t, config.AccessLog{Output: path}, LogOptions{BufferSize: 512})
	const workers, each = 8, 100
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				l.Log(sampleEntry())
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(decodeLines(t, string(data))); got != workers*each {
		t.Errorf("got %d lines, want %d", got, workers*each)
	}
}

func TestAccessLog_LogDoesNotAllocate(t *testing.T) {
	l := newLog(t, config.AccessLog{}, LogOptions{Stdout: io.Discard, FlushInterval: time.Hour})
	e := sampleEntry()
	l.Log(e) // warm the buffer pool
	// sync.Pool may drop its buffer at a GC, so allow an occasional refill.
	if got := testing.AllocsPerRun(100, func() { l.Log(e) }); got > 0.1 {
		t.Errorf("allocs per Log = %v, want 0", got)
	}
}

func BenchmarkLog(b *testing.B) {
	l, err := NewAccessLog(config.AccessLog{}, LogOptions{Stdout: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := sampleEntry()
	b.ReportAllocs()
	for b.Loop() {
		l.Log(e)
	}
}

func BenchmarkLogParallel(b *testing.B) {
	l, err := NewAccessLog(config.AccessLog{}, LogOptions{Stdout: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		e := sampleEntry()
		for pb.Next() {
			l.Log(e)
		}
	})
}

// BenchmarkLogSlogReference measures log/slog's JSONHandler writing the same
// fields, the alternative the hand-rolled encoder was chosen over.
func BenchmarkLogSlogReference(b *testing.B) {
	lg := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ctx := context.Background()
	e := sampleEntry()
	b.ReportAllocs()
	for b.Loop() {
		lg.LogAttrs(ctx, slog.LevelInfo, "",
			slog.String("request_id", e.RequestID), slog.String("route", e.Route),
			slog.String("method", e.Method), slog.String("host", e.Host),
			slog.String("path", e.Path), slog.String("query", e.Query),
			slog.String("proto", e.Proto), slog.Int("status", e.Status),
			slog.Int64("bytes_in", e.BytesIn), slog.Int64("bytes_out", e.BytesOut),
			slog.Float64("duration_ms", float64(e.Duration)/1e6),
			slog.String("upstream", e.Upstream), slog.String("target", e.Target),
			slog.Float64("upstream_ms", float64(e.UpstreamDuration)/1e6),
			slog.Int("retries", e.Retries), slog.String("client_ip", e.ClientIP),
			slog.String("user_agent", e.UserAgent), slog.String("error", e.Error))
	}
}
