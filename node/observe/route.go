package observe

import (
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RouteMetrics observes the requests of one route. Get one with
// Metrics.Route when a config snapshot is built and keep it in the route's
// pipeline, so the request path never resolves a route label. Its methods
// may be called from any goroutine; a nil *RouteMetrics observes nothing.
type RouteMetrics struct {
	name    string
	m       *Metrics
	outSize prometheus.Observer // response_size_bytes{route}
	inSize  prometheus.Observer // request_size_bytes{route}

	// series caches the label children by seriesKey. Readers load the map
	// without locking; a miss copies it under mu with the new entry and
	// swaps it in. Keys are bounded (10 methods × 501 statuses) and new
	// ones are rare after warm-up, so the copies cost nothing that matters.
	series atomic.Pointer[map[uint32]routeSeries]
	mu     sync.Mutex
}

// routeSeries is the pair of children one (method, status) observes.
type routeSeries struct {
	count prometheus.Counter  // requests_total{route,method,status}
	dur   prometheus.Observer // request_duration_seconds{route,method}
}

// Route returns the metrics of the route called name, creating them on
// first use. The same *RouteMetrics is returned for the same name until
// DropRoute, so its warmed cache survives config reloads. A nil *Metrics
// returns nil.
func (m *Metrics) Route(name string) *RouteMetrics {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.routes[name]; ok {
		return r
	}
	r := &RouteMetrics{name: name, m: m,
		outSize: m.responseSize.WithLabelValues(name),
		inSize:  m.requestSize.WithLabelValues(name),
	}
	m.routes[name] = r
	return r
}

// DropRoute deletes every series of the route called name, for a route a
// reload removed. Requests still running on the old snapshot observe into
// detached children and are lost to the scrape, and one that meets a new
// (method, status) in that window re-creates its series; call it once the
// old snapshot has drained if that matters.
func (m *Metrics) DropRoute(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.routes, name)
	route := prometheus.Labels{"route": name}
	m.requests.DeletePartialMatch(route)
	m.duration.DeletePartialMatch(route)
	m.responseSize.DeletePartialMatch(route)
	m.requestSize.DeletePartialMatch(route)
}

// Observe counts one request answered with status after d, which read
// bytesIn body bytes from the client and sent it bytesOut. One call
// records everything about a request, so that no series is left unfed.
// Methods other than the nine standard ones are counted as "OTHER" and
// statuses outside 100-599 as "000", which bounds the label values a
// client can create. After the first request of a (method, status) it
// does not allocate.
func (r *RouteMetrics) Observe(method string, status int, d time.Duration, bytesIn, bytesOut int64) {
	if r == nil {
		return
	}
	mi, _ := methodIndex(method)
	if status < 100 || status > 599 {
		status = 0
	}
	key := mi<<16 | uint32(status)
	s, ok := routeSeries{}, false
	if p := r.series.Load(); p != nil {
		s, ok = (*p)[key]
	}
	if !ok {
		s = r.resolve(key, method, status)
	}
	s.count.Inc()
	s.dur.Observe(d.Seconds())
	r.inSize.Observe(float64(bytesIn))
	r.outSize.Observe(float64(bytesOut))
}

// resolve is Observe's slow path: it looks up the children for key and
// publishes a copy of the cache that holds them.
func (r *RouteMetrics) resolve(key uint32, method string, status int) routeSeries {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.series.Load()
	if old != nil {
		// Another request may have resolved key while we waited for mu.
		if s, ok := (*old)[key]; ok {
			return s
		}
	}
	_, label := methodIndex(method)
	code := "000"
	if status != 0 {
		code = strconv.Itoa(status)
	}
	s := routeSeries{
		count: r.m.requests.WithLabelValues(r.name, label, code),
		dur:   r.m.duration.WithLabelValues(r.name, label),
	}
	next := map[uint32]routeSeries{key: s}
	if old != nil {
		maps.Copy(next, *old)
	}
	r.series.Store(&next)
	return s
}

// methodIndex maps an HTTP method to a small index and its label. Unknown
// methods (including lower-case spellings) share index 0, "OTHER", so a
// client cannot mint label values.
func methodIndex(method string) (uint32, string) {
	switch method {
	case "GET":
		return 1, "GET"
	case "HEAD":
		return 2, "HEAD"
	case "POST":
		return 3, "POST"
	case "PUT":
		return 4, "PUT"
	case "PATCH":
		return 5, "PATCH"
	case "DELETE":
		return 6, "DELETE"
	case "OPTIONS":
		return 7, "OPTIONS"
	case "CONNECT":
		return 8, "CONNECT"
	case "TRACE":
		return 9, "TRACE"
	}
	return 0, "OTHER"
}
