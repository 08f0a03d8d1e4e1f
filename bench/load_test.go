package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer answers every request with status and counts them.
func countingServer(t *testing.T, status int) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(status)
		_, _ = w.Write(make([]byte, 1024))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestClosedLoop_CountsEveryRequest(t *testing.T) {
	tests := []struct {
		name        string
		maxRequests int64
		duration    time.Duration
		connections int
	}{
		{name: "bounded by count", maxRequests: 500, duration: time.Minute, connections: 8},
		{name: "bounded by time", duration: 200 * time.Millisecond, connections: 4},
		{name: "fewer requests than connections", maxRequests: 3, duration: time.Minute, connections: 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, hits := countingServer(t, http.StatusOK)
			var done atomic.Int64
			res, err := ClosedLoop{
				URL: srv.URL + "/x", Connections: tt.connections, Duration: tt.duration,
				MaxRequests: tt.maxRequests, Done: &done,
			}.Run(context.Background())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tt.maxRequests > 0 && res.Requests != tt.maxRequests {
				t.Errorf("Requests = %d, want %d", res.Requests, tt.maxRequests)
			}
			if res.Requests == 0 {
				t.Fatal("Requests = 0, want some")
			}
			if got := hits.Load(); got != res.Requests {
				t.Errorf("server saw %d requests, result says %d", got, res.Requests)
			}
			if res.OK != res.Requests || res.ErrorCount() != 0 {
				t.Errorf("OK = %d, errors = %v, want all %d OK", res.OK, res.Errors, res.Requests)
			}
			if got := res.Latency.TotalCount(); got != res.Requests {
				t.Errorf("histogram holds %d values, want %d", got, res.Requests)
			}
			if got := done.Load(); got != res.Requests {
				t.Errorf("Done = %d, want %d", got, res.Requests)
			}
			if res.Percentile(50) <= 0 || res.Percentile(99.9) < res.Percentile(50) {
				t.Errorf("p50 = %v, p99.9 = %v: want 0 < p50 <= p99.9", res.Percentile(50), res.Percentile(99.9))
			}
			if res.Elapsed <= 0 || res.RPS() <= 0 {
				t.Errorf("Elapsed = %v, RPS = %v, want both positive", res.Elapsed, res.RPS())
			}
		})
	}
}

func TestClosedLoop_CountsErrorsByKind(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		kind    string
	}{
		{
			name:    "status",
			handler: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) },
			kind:    "status 502",
		},
		{
			name: "connection closed without answer",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
			},
			kind: "eof",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			res, err := ClosedLoop{URL: srv.URL, Connections: 2, MaxRequests: 20, Duration: time.Minute}.Run(context.Background())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := res.Errors[tt.kind]; got != 20 {
				t.Errorf("Errors[%q] = %d, want 20 (all: %v)", tt.kind, got, res.Errors)
			}
			if res.OK != 0 || res.RPS() != 0 {
				t.Errorf("OK = %d, RPS = %v, want 0: errors are not throughput", res.OK, res.RPS())
			}
		})
	}
}

func TestClosedLoop_RefusedConnection(t *testing.T) {
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ClosedLoop{URL: "http://" + loopback(ports[0]), Connections: 1, MaxRequests: 3, Duration: time.Minute}.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := res.Errors["refused"]; got != 3 {
		t.Errorf(`Errors["refused"] = %d, want 3 (all: %v)`, got, res.Errors)
	}
}

func TestClosedLoop_StopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var hits atomic.Int64
	// The server cancels the run at its 10th request: whatever the timing,
	// some requests completed before the cancel and the run must stop.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if hits.Add(1) == 10 {
			cancel()
		}
	}))
	defer srv.Close()
	res, err := ClosedLoop{URL: srv.URL, Connections: 4, Duration: time.Minute}.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	// At the cancel at most 4 requests (one per connection) were in
	// flight, so at least 6 of the first 10 had completed.
	if res == nil || res.Requests < 6 || res.Requests > hits.Load() {
		t.Fatalf("result = %+v, want between 6 and %d requests (those done before the cancel)", res, hits.Load())
	}
}

func TestOpenLoop_SendsAtMostRateTimesDuration(t *testing.T) {
	tests := []struct {
		name        string
		rate        int
		duration    time.Duration
		maxRequests int64
		wantMax     int64
		wantExact   bool
	}{
		// Timing decides how many are sent; only the bounds are checked.
		{name: "bounded by time", rate: 200, duration: 500 * time.Millisecond, wantMax: 100 + 5},
		{name: "bounded by count", rate: 1000, duration: time.Minute, maxRequests: 50, wantMax: 50, wantExact: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, hits := countingServer(t, http.StatusOK)
			res, err := OpenLoop{
				URL: srv.URL, Rate: tt.rate, Duration: tt.duration, MaxRequests: tt.maxRequests, Workers: 4,
			}.Run(context.Background())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Requests <= 0 || res.Requests > tt.wantMax {
				t.Errorf("Requests = %d, want in (0, %d]", res.Requests, tt.wantMax)
			}
			if tt.wantExact && res.Requests != tt.wantMax {
				t.Errorf("Requests = %d, want exactly %d", res.Requests, tt.wantMax)
			}
			if got := hits.Load(); got != res.Requests {
				t.Errorf("server saw %d requests, result says %d", got, res.Requests)
			}
			if res.OK != res.Requests {
				t.Errorf("OK = %d, want %d (errors: %v)", res.OK, res.Requests, res.Errors)
			}
			if got := res.Latency.TotalCount(); got != res.Requests {
				t.Errorf("histogram holds %d values, want %d", got, res.Requests)
			}
		})
	}
}

func TestOpenLoop_CountsStatusErrors(t *testing.T) {
	srv, _ := countingServer(t, http.StatusServiceUnavailable)
	res, err := OpenLoop{URL: srv.URL, Rate: 1000, MaxRequests: 10, Duration: time.Minute}.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := res.Errors["status 503"]; got != 10 {
		t.Errorf(`Errors["status 503"] = %d, want 10 (all: %v)`, got, res.Errors)
	}
}

func TestLoad_RefusesNonLoopbackTargets(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		wantErr bool
	}{
		{name: "ipv4 loopback", url: "http://127.0.0.1:8080/x"},
		{name: "other 127/8 address", url: "http://127.0.0.2:8080/x"},
		{name: "ipv6 loopback", url: "http://[::1]:8080/x"},
		{name: "localhost", url: "http://localhost:8080/x"},
		{name: "private address", url: "http://10.0.0.1:8080/x", wantErr: true},
		{name: "host name", url: "http://example.com/x", wantErr: true},
		{name: "https", url: "https://127.0.0.1:8443/x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkLoopback(tt.url)
			if (err != nil) != tt.wantErr {
				t.Errorf("checkLoopback(%q) = %v, want error: %v", tt.url, err, tt.wantErr)
			}
			if tt.wantErr {
				if _, err := (ClosedLoop{URL: tt.url}).Run(context.Background()); err == nil {
					t.Errorf("ClosedLoop.Run(%q) = nil error, want refusal", tt.url)
				}
				if _, err := (OpenLoop{URL: tt.url, Rate: 1}).Run(context.Background()); err == nil {
					t.Errorf("OpenLoop.Run(%q) = nil error, want refusal", tt.url)
				}
			}
		})
	}
}

func TestErrorTextKind(t *testing.T) {
	tests := []struct {
		name, msg, want string
	}{
		{"refused", "Get \"http://127.0.0.1:1\": dial tcp 127.0.0.1:1: connect: connection refused", "refused"},
		{"timeout", "net/http: request canceled (Client.Timeout exceeded while awaiting headers): timeout", "timeout"},
		{"reset", "read tcp 127.0.0.1:5->127.0.0.1:6: read: connection reset by peer", "reset"},
		{"eof", "Get \"http://127.0.0.1:1\": EOF", "eof"},
		{"other", "something else", "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorTextKind(tt.msg); got != tt.want {
				t.Errorf("errorTextKind(%q) = %q, want %q", tt.msg, got, tt.want)
			}
		})
	}
}
