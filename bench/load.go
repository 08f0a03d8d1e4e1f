package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds from 1µs to one minute with three
// significant digits: enough for loopback medians around 100µs and for
// timeouts, at ~100 KiB per histogram.
const (
	histLowestUS  = 1
	histHighestUS = int64(time.Minute / time.Microsecond)
	histSigFigs   = 3
)

// Default load settings, shared by ClosedLoop and OpenLoop.
const (
	defaultConnections = 64
	defaultDuration    = 10 * time.Second
	defaultTimeout     = 10 * time.Second
	defaultWorkers     = 64
	defaultMaxWorkers  = 1024
)

// Result is what one load phase measured. Requests counts every completed
// request, successful or not; a request cut short because the caller's
// context ended is not counted.
type Result struct {
	// Requests is the number of completed requests (OK plus errors).
	Requests int64
	// OK is the number of 2xx responses.
	OK int64
	// Errors counts failed requests by kind: "status 502" for a non-2xx
	// answer, or one of "timeout", "refused", "reset", "eof", "other" for a
	// transport error.
	Errors map[string]int64
	// Elapsed is the wall time from the first request sent to the last one
	// completed.
	Elapsed time.Duration
	// Latency holds the latency of every completed request in microseconds.
	Latency *hdrhistogram.Histogram
	// Hits counts the 2xx answers the load's Hit function said were cache
	// hits; zero when the load has none.
	Hits int64
}

func newResult() *Result {
	return &Result{Errors: map[string]int64{}, Latency: newHistogram()}
}

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowestUS, histHighestUS, histSigFigs)
}

// ErrorCount is the number of failed requests of all kinds.
func (r *Result) ErrorCount() int64 {
	var n int64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// RPS is the rate of successful (2xx) responses per second of Elapsed, so a
// target that answers errors fast does not look fast.
func (r *Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Percentile is the latency at percentile p (0 to 100); zero when nothing
// was recorded.
func (r *Result) Percentile(p float64) time.Duration {
	return time.Duration(r.Latency.ValueAtQuantile(p)) * time.Microsecond
}

// record adds one completed request. code is the HTTP status, or 0 when
// err is a transport error.
func (r *Result) record(latency time.Duration, code int, errKind string) {
	r.Requests++
	us := latency.Microseconds()
	if us > histHighestUS {
		us = histHighestUS
	}
	// The value is clamped to the histogram's range, so RecordValue cannot fail.
	_ = r.Latency.RecordValue(us)
	switch {
	case errKind != "":
		r.Errors[errKind]++
	case code >= 200 && code < 300:
		r.OK++
	default:
		r.Errors[statusKind(code)]++
	}
}

// merge adds o's counts into r; Elapsed is left to the caller.
func (r *Result) merge(o *Result) {
	r.Requests += o.Requests
	r.OK += o.OK
	r.Hits += o.Hits
	for k, v := range o.Errors {
		r.Errors[k] += v
	}
	r.Latency.Merge(o.Latency)
}

func statusKind(code int) string { return "status " + strconv.Itoa(code) }

// errorKind names a transport error for the Errors map.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	}
	return "other"
}

// errorTextKind is errorKind for errors that reach us as text only (vegeta
// results carry the message, not the error value).
func errorTextKind(msg string) string {
	switch {
	case strings.Contains(msg, "timeout"), strings.Contains(msg, "deadline exceeded"):
		return "timeout"
	case strings.Contains(msg, "connection refused"):
		return "refused"
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "broken pipe"):
		return "reset"
	case strings.Contains(msg, "EOF"):
		return "eof"
	}
	return "other"
}

// checkLoopback refuses any target that is not on this machine's loopback:
// the harness must never send load elsewhere.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parsing target url: %w", err)
	}
	if u.Scheme != "http" {
		return fmt.Errorf("target %q: only http:// urls are supported", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("target %q is not a loopback address: use 127.0.0.1 or [::1]", raw)
}

// newTransport is an HTTP/1.1 keep-alive transport tuned for load, with
// up to maxConns connections per host, all of them kept when idle: no
// proxy from the environment (load must go straight to loopback), no
// compression.
func newTransport(maxConns int) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		MaxIdleConns:          maxConns,
		MaxIdleConnsPerHost:   maxConns,
		MaxConnsPerHost:       maxConns,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: defaultTimeout,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}
