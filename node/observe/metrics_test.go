package observe

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

type labels = map[string]string

func TestRouteMetrics_Observe(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		status     int
		wantMethod string
		wantStatus string
	}{
		{"get ok", "GET", 200, "GET", "200"},
		{"post created", "POST", 201, "POST", "201"},
		{"each standard method", "OPTIONS", 204, "OPTIONS", "204"},
		{"unknown method bucketed", "PROPFIND", 207, "OTHER", "207"},
		{"lower case is not a known method", "get", 200, "OTHER", "200"},
		{"lowest status", "HEAD", 100, "HEAD", "100"},
		{"highest status", "DELETE", 599, "DELETE", "599"},
		{"status below range", "GET", 42, "GET", "000"},
		{"status above range", "GET", 600, "GET", "000"},
		{"no status", "PUT", 0, "PUT", "000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMetrics(prometheus.NewRegistry())
			r := m.Route("users")
			r.Observe(tt.method, tt.status, 3*time.Millisecond, 0, 0)
			r.Observe(tt.method, tt.status, 7*time.Second, 0, 0)

			fams := scrape(t, m)
			want := labels{"route": "users", "method": tt.wantMethod, "status": tt.wantStatus}
			if got := counter(fams, "portico_http_requests_total", want); got != 2 {
				t.Errorf("requests_total%v = %v, want 2", want, got)
			}
			dl := labels{"route": "users", "method": tt.wantMethod}
			h := series(fams, "portico_http_request_duration_seconds", dl)
			if h == nil {
				t.Fatalf("request_duration_seconds%v missing", dl)
			}
			if got := h.GetHistogram().GetSampleCount(); got != 2 {
				t.Errorf("duration count = %d, want 2", got)
			}
			if got, want := h.GetHistogram().GetSampleSum(), 7.003; got < want-1e-9 || got > want+1e-9 {
				t.Errorf("duration sum = %v, want %v", got, want)
			}
			if got := len(fams["portico_http_requests_total"].GetMetric()); got != 1 {
				t.Errorf("requests_total has %d series, want 1", got)
			}
		})
	}
}

func TestRequestDurationBuckets(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	m.Route("r").Observe("GET", 200, 300*time.Microsecond, 0, 0)
	h := series(scrape(t, m), "portico_http_request_duration_seconds", labels{"route": "r", "method": "GET"})
	if h == nil {
		t.Fatal("duration series missing")
	}
	b := h.GetHistogram().GetBucket()
	// 16 bounds plus the +Inf bucket the text exposition carries.
	if got, want := len(b), 17; got != want {
		t.Fatalf("got %d buckets, want %d", got, want)
	}
	if lo, hi := b[0].GetUpperBound(), b[len(b)-2].GetUpperBound(); lo != 0.0001 || hi != 10 {
		t.Errorf("buckets span %v…%v, want 0.0001…10", lo, hi)
	}
	// 300µs lands in le=0.0005 but not le=0.00025.
	if b[1].GetCumulativeCount() != 0 || b[2].GetCumulativeCount() != 1 {
		t.Errorf("300µs counted as le=%v:%d le=%v:%d, want 0 then 1",
			b[1].GetUpperBound(), b[1].GetCumulativeCount(), b[2].GetUpperBound(), b[2].GetCumulativeCount())
	}
}

// TestRouteMetrics_ObserveSizes: the one Observe of a request records
// its body sizes, so no caller can count a request and forget its bytes
// (response_size_bytes stayed empty that way).
func TestRouteMetrics_ObserveSizes(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	m.Route("r").Observe("GET", 200, time.Millisecond, 0, 1000)
	m.Route("r").Observe("POST", 201, time.Millisecond, 300, 3000)
	m.Route("r").Observe("GET", 404, time.Millisecond, 0, 0)
	fams := scrape(t, m)
	for _, tt := range []struct {
		name  string
		sum   float64
		count uint64
	}{
		{"portico_http_response_size_bytes", 4000, 3},
		{"portico_http_request_size_bytes", 300, 3},
	} {
		h := series(fams, tt.name, labels{"route": "r"})
		if h == nil {
			t.Fatalf("%s{route=r} missing", tt.name)
		}
		if got := h.GetHistogram().GetSampleSum(); got != tt.sum {
			t.Errorf("%s sum = %v, want %v", tt.name, got, tt.sum)
		}
		if got := h.GetHistogram().GetSampleCount(); got != tt.count {
			t.Errorf("%s count = %v, want %v", tt.name, got, tt.count)
		}
	}
}

func TestMetrics_Route_sameValue(t *testing.T) {
	m := NewMetrics(nil)
	a, b := m.Route("a"), m.Route("a")
	if a != b {
		t.Error("Route(a) twice returned different values, want the cached one")
	}
	m.DropRoute("a")
	if c := m.Route("a"); c == a {
		t.Error("Route(a) after DropRoute returned the dropped value")
	}
}

func TestMetrics_DropRoute(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	m.Route("gone").Observe("GET", 200, time.Millisecond, 0, 0)
	m.Route("kept").Observe("GET", 200, time.Millisecond, 0, 0)
	m.DropRoute("gone")

	fams := scrape(t, m)
	for _, name := range []string{"portico_http_requests_total", "portico_http_request_duration_seconds", "portico_http_response_size_bytes", "portico_http_request_size_bytes"} {
		for _, s := range fams[name].GetMetric() {
			for _, lp := range s.GetLabel() {
				if lp.GetName() == "route" && lp.GetValue() == "gone" {
					t.Errorf("%s still has route=gone after DropRoute", name)
				}
			}
		}
	}
	if got := counter(fams, "portico_http_requests_total", labels{"route": "kept", "method": "GET", "status": "200"}); got != 1 {
		t.Errorf("kept route count = %v, want 1", got)
	}
}

func TestUpstreamMetrics(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	u := m.Upstream("users")
	const a, b = "http://10.0.0.1:80", "http://10.0.0.2:80"
	u.ObserveAttempt(a, OutcomeOK, 10*time.Millisecond)
	u.ObserveAttempt(a, OutcomeOK, 10*time.Millisecond)
	u.ObserveAttempt(b, OutcomeTimeout, time.Second)
	u.ObserveAttempt(a, OutcomeError, time.Millisecond)
	u.Retry()
	u.ObserveAttempt(b, Outcome(200), time.Millisecond) // out of range → error

	fams := scrape(t, m)
	tests := []struct {
		name    string
		target  string
		outcome string
		want    float64
	}{
		{"a ok", a, "ok", 2},
		{"a error", a, "error", 1},
		{"a timeout exported as zero", a, "timeout", 0},
		{"b ok exported as zero", b, "ok", 0},
		{"b timeout", b, "timeout", 1},
		{"b out-of-range outcome", b, "error", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := labels{"upstream": "users", "target": tt.target, "outcome": tt.outcome}
			if got := counter(fams, "portico_upstream_requests_total", l); got != tt.want {
				t.Errorf("upstream_requests_total%v = %v, want %v", l, got, tt.want)
			}
		})
	}
	if got := counter(fams, "portico_upstream_retries_total", labels{"upstream": "users"}); got != 1 {
		t.Errorf("retries = %v, want 1", got)
	}
	if got := histCount(fams, "portico_upstream_duration_seconds", labels{"upstream": "users"}); got != 5 {
		t.Errorf("upstream duration count = %d, want 5", got)
	}

	m.DropUpstream("users")
	if got := len(scrape(t, m)["portico_upstream_requests_total"].GetMetric()); got != 0 {
		t.Errorf("after DropUpstream: %d upstream request series, want 0", got)
	}
}

func TestMetrics_twoRegistriesDoNotCollide(t *testing.T) {
	m1 := NewMetrics(prometheus.NewRegistry())
	m2 := NewMetrics(prometheus.NewRegistry())
	m1.Route("r").Observe("GET", 200, time.Millisecond, 0, 0)
	m2.Route("r").Observe("GET", 200, time.Millisecond, 0, 0)
	m2.Route("r").Observe("GET", 200, time.Millisecond, 0, 0)
	m1.SetConfigVersion(1)
	m2.SetConfigVersion(2)

	l := labels{"route": "r", "method": "GET", "status": "200"}
	f1, f2 := scrape(t, m1), scrape(t, m2)
	if got := counter(f1, "portico_http_requests_total", l); got != 1 {
		t.Errorf("node 1 requests = %v, want 1", got)
	}
	if got := counter(f2, "portico_http_requests_total", l); got != 2 {
		t.Errorf("node 2 requests = %v, want 2", got)
	}
	if got := f1["portico_config_version"].GetMetric()[0].GetGauge().GetValue(); got != 1 {
		t.Errorf("node 1 config version = %v, want 1", got)
	}
	for i, f := range []map[string]*dto.MetricFamily{f1, f2} {
		if f["go_goroutines"] == nil || f["go_memstats_mallocs_total"] == nil {
			t.Errorf("node %d: Go collector metrics missing", i+1)
		}
	}
}

func TestMetrics_SetOpenConns(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	gauge := func() float64 {
		t.Helper()
		f := scrape(t, m)["portico_edge_open_connections"]
		if f == nil {
			t.Fatal("portico_edge_open_connections missing")
		}
		return f.GetMetric()[0].GetGauge().GetValue()
	}
	if got := gauge(); got != 0 {
		t.Errorf("before SetOpenConns = %v, want 0", got)
	}
	m.SetOpenConns(func() int64 { return 7 })
	if got := gauge(); got != 7 {
		t.Errorf("after SetOpenConns = %v, want 7", got)
	}
	m.SetOpenConns(nil)
	if got := gauge(); got != 0 {
		t.Errorf("after SetOpenConns(nil) = %v, want 0", got)
	}
}

func TestMetrics_config(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	fams := scrape(t, m)
	for _, result := range []string{"ok", "error"} {
		if got := counter(fams, "portico_config_reloads_total", labels{"result": result}); got != 0 {
			t.Errorf("reloads{%s} before any reload = %v, want 0 (exported)", result, got)
		}
	}
	m.SetConfigVersion(42)
	m.ObserveReload(nil)
	m.ObserveReload(nil)
	m.ObserveReload(errors.New("bad route"))
	fams = scrape(t, m)
	if got := counter(fams, "portico_config_reloads_total", labels{"result": "ok"}); got != 2 {
		t.Errorf("reloads{ok} = %v, want 2", got)
	}
	if got := counter(fams, "portico_config_reloads_total", labels{"result": "error"}); got != 1 {
		t.Errorf("reloads{error} = %v, want 1", got)
	}
	if got := fams["portico_config_version"].GetMetric()[0].GetGauge().GetValue(); got != 42 {
		t.Errorf("config version = %v, want 42", got)
	}
}

func TestNilReceivers(t *testing.T) {
	var m *Metrics
	r, u := m.Route("r"), m.Upstream("u")
	if r != nil || u != nil {
		t.Fatalf("nil Metrics gave Route %v, Upstream %v; want nil", r, u)
	}
	// Must not panic: a node without metrics passes nil down.
	r.Observe("GET", 200, time.Millisecond, 0, 0)
	u.ObserveAttempt("t", OutcomeOK, time.Millisecond)
	u.Retry()
}

func TestRouteMetrics_concurrent(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	r := m.Route("r")
	u := m.Upstream("u")
	const workers, each = 8, 200
	statuses := []int{200, 201, 404, 500, 503}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r.Observe("GET", statuses[(w+i)%len(statuses)], time.Millisecond, 0, 0)
				u.ObserveAttempt("http://t"+string(rune('0'+i%3)), OutcomeOK, time.Millisecond)
			}
		})
	}
	wg.Wait()
	fams := scrape(t, m)
	var total float64
	for _, s := range statuses {
		total += counter(fams, "portico_http_requests_total", labels{"route": "r", "method": "GET", "status": strconv.Itoa(s)})
	}
	if total != workers*each {
		t.Errorf("sum of request counters = %v, want %d", total, workers*each)
	}
	if got := histCount(fams, "portico_upstream_duration_seconds", labels{"upstream": "u"}); got != workers*each {
		t.Errorf("upstream attempts = %d, want %d", got, workers*each)
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	r := m.Route("r")
	u := m.Upstream("u")
	tests := []struct {
		name string
		f    func()
	}{
		{"route observe", func() { r.Observe("GET", 200, time.Millisecond, 0, 0) }},
		{"route observe other method", func() { r.Observe("PROPFIND", 207, time.Millisecond, 0, 0) }},
		{"route observe with sizes", func() { r.Observe("POST", 201, time.Millisecond, 512, 4096) }},
		{"upstream attempt", func() { u.ObserveAttempt("http://a", OutcomeOK, time.Millisecond) }},
		{"upstream retry", func() { u.Retry() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f() // warm the cache
			if got := testing.AllocsPerRun(100, tt.f); got != 0 {
				t.Errorf("allocs per call = %v, want 0", got)
			}
		})
	}
}

func BenchmarkRouteObserve(b *testing.B) {
	r := NewMetrics(prometheus.NewRegistry()).Route("r")
	statuses := [...]int{200, 200, 200, 304, 404}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Observe("GET", statuses[i%len(statuses)], time.Millisecond, 0, 0)
		i++
	}
}

func BenchmarkRouteObserveParallel(b *testing.B) {
	r := NewMetrics(prometheus.NewRegistry()).Route("r")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Observe("GET", 200, time.Millisecond, 0, 0)
		}
	})
}

func BenchmarkUpstreamObserveAttempt(b *testing.B) {
	u := NewMetrics(prometheus.NewRegistry()).Upstream("u")
	b.ReportAllocs()
	for b.Loop() {
		u.ObserveAttempt("http://10.0.0.1:8080", OutcomeOK, time.Millisecond)
	}
}
