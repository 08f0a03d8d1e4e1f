package observe

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// durationBuckets (seconds) span what a gateway sees: 100µs for a cached
// or local answer up to 10s for a slow upstream; longer requests land in
// +Inf. 1-2.5-5 per decade keeps a histogram at 16 buckets + 3 series. A
// func, not a var, so no collector shares a package-level slice.
func durationBuckets() []float64 {
	return []float64{
		0.0001, 0.00025, 0.0005,
		0.001, 0.0025, 0.005,
		0.01, 0.025, 0.05,
		0.1, 0.25, 0.5,
		1, 2.5, 5, 10,
	}
}

// sizeBuckets (bytes) go from 64 B to 64 MiB by powers of 4.
func sizeBuckets() []float64 { return prometheus.ExponentialBuckets(64, 4, 11) }

// Metrics holds one node's Prometheus collectors, all registered on the
// registry given to NewMetrics. Its methods may be called from any
// goroutine.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	requests     *prometheus.CounterVec   // route, method, status
	duration     *prometheus.HistogramVec // route, method
	responseSize *prometheus.HistogramVec // route
	requestSize  *prometheus.HistogramVec // route

	upRequests *prometheus.CounterVec   // upstream, target, outcome
	upRetries  *prometheus.CounterVec   // upstream
	upDuration *prometheus.HistogramVec // upstream

	configVersion prometheus.Gauge
	reloadOK      prometheus.Counter
	reloadError   prometheus.Counter

	// openConns is the edge's open-connection count; nil until
	// SetOpenConns. An atomic pointer because the edge server may be built
	// (or rebuilt) after the metrics while a scrape runs.
	openConns atomic.Pointer[func() int64]

	mu        sync.Mutex // guards routes and upstreams (cold path)
	routes    map[string]*RouteMetrics
	upstreams map[string]*UpstreamMetrics
}

// NewMetrics creates the gateway's collectors and registers them, plus the
// Go runtime and process collectors, on reg. If reg is nil a new registry
// is made. Each node passes its own registry; registering twice on the
// same registry is a programmer error and panics.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_http_requests_total",
			Help: "Requests answered, by route, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portico_http_request_duration_seconds",
			Help:    "Time from request arrival to the end of the response, by route and method.",
			Buckets: durationBuckets(),
		}, []string{"route", "method"}),
		responseSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portico_http_response_size_bytes",
			Help:    "Response body bytes sent to the client, by route.",
			Buckets: sizeBuckets(),
		}, []string{"route"}),
		requestSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portico_http_request_size_bytes",
			Help:    "Request body bytes read from the client, by route.",
			Buckets: sizeBuckets(),
		}, []string{"route"}),
		upRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_upstream_requests_total",
			Help: "Attempts sent to upstream targets, by outcome (ok, error, timeout).",
		}, []string{"upstream", "target", "outcome"}),
		upRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_upstream_retries_total",
			Help: "Attempts that were retries of a failed attempt.",
		}, []string{"upstream"}),
		upDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portico_upstream_duration_seconds",
			Help:    "Time of one upstream attempt, by upstream.",
			Buckets: durationBuckets(),
		}, []string{"upstream"}),
		configVersion: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portico_config_version",
			Help: "Version of the config snapshot this node serves.",
		}),
		routes:    make(map[string]*RouteMetrics),
		upstreams: make(map[string]*UpstreamMetrics),
	}
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_config_reloads_total",
		Help: "Config reloads and applies, by result (ok, error).",
	}, []string{"result"})
	// Resolved now so both results are exported as 0 before the first
	// reload: a rate() over a series that appears late misses its first hit.
	m.reloadOK = reloads.WithLabelValues("ok")
	m.reloadError = reloads.WithLabelValues("error")
	openConns := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "portico_edge_open_connections",
		Help: "Client connections the edge listener holds open.",
	}, m.readOpenConns)

	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.responseSize, m.requestSize,
		m.upRequests, m.upRetries, m.upDuration,
		m.configVersion, reloads, openConns,
	)
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m
}

// Handler serves the registry in the Prometheus exposition formats. The
// same handler is returned on every call.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Registry returns the registry the metrics live on, so other stages can
// add their own collectors to the same scrape.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetOpenConns makes portico_edge_open_connections report f() on each
// scrape (e.g. edge's (*Server).OpenConns). Until it is called, or after
// SetOpenConns(nil), the gauge reads 0. f must be safe to call from any
// goroutine.
func (m *Metrics) SetOpenConns(f func() int64) {
	if f == nil {
		m.openConns.Store(nil)
		return
	}
	m.openConns.Store(&f)
}

func (m *Metrics) readOpenConns() float64 {
	f := m.openConns.Load()
	if f == nil {
		return 0
	}
	return float64((*f)())
}

// SetConfigVersion records the version of the snapshot now being served.
func (m *Metrics) SetConfigVersion(v uint64) { m.configVersion.Set(float64(v)) }

// ObserveReload counts one config reload or apply: result "ok" when err is
// nil, "error" otherwise. The error itself is the caller's to report.
func (m *Metrics) ObserveReload(err error) {
	if err != nil {
		m.reloadError.Inc()
		return
	}
	m.reloadOK.Inc()
}
