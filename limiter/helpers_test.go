package limiter

import (
	"context"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clock is a test clock moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2025, 3, 12, 10, 0, 0, 0, time.UTC)} // a Wednesday
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// ring is a fake OwnerPicker: nodes in a circle, a key owned by the
// first live node at or after its hash, replicated on the next live one.
type ring struct {
	mu    sync.Mutex
	addrs []string
	live  []bool
}

func (r *ring) view(self int) *ringView { return &ringView{r: r, self: self} }

type ringView struct {
	r    *ring
	self int
}

func (r *ring) owners(key string) (owner, replica int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := fnv.New32a()
	h.Write([]byte(key))
	n := len(r.addrs)
	start := int(h.Sum32() % uint32(n))
	owner, replica = -1, -1
	for i := range n {
		j := (start + i) % n
		if !r.live[j] {
			continue
		}
		if owner < 0 {
			owner = j
		} else if replica < 0 {
			replica = j
		}
	}
	return owner, replica
}

func (v *ringView) Owner(key string) (string, bool) {
	o, _ := v.r.owners(key)
	if o == v.self || o < 0 {
		return "", true
	}
	return v.r.addrs[o], false
}

func (v *ringView) Replica(key string) (string, bool) {
	_, rp := v.r.owners(key)
	if rp < 0 || rp == v.self {
		return "", false
	}
	return v.r.addrs[rp], true
}

func (v *ringView) Nodes() int {
	v.r.mu.Lock()
	defer v.r.mu.Unlock()
	n := 0
	for _, l := range v.r.live {
		if l {
			n++
		}
	}
	return n
}

func (r *ring) setLive(i int, live bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live[i] = live
}

// httpTransport sends the limiter's https:// peer requests as plain
// HTTP to the test servers.
type httpTransport struct{ t *http.Transport }

func (h httpTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	r2.URL.Scheme = "http"
	return h.t.RoundTrip(r2)
}

type node struct {
	lim *Limiter
	srv *httptest.Server
	reg *prometheus.Registry
	h   *switchHandler
}

// switchHandler lets a node's listener outlive its Limiter (a restart).
type switchHandler struct {
	mu sync.Mutex
	h  http.Handler
}

func (s *switchHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	if h == nil {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

type cluster struct {
	t     testing.TB
	clk   *clock
	ring  *ring
	nodes []*node
	tr    *http.Transport
	dirs  []string
	opts  []func(*Config)
}

// newCluster starts n limiter nodes on loopback listeners, with manual
// sync and flush (tests call flush).
func newCluster(t testing.TB, n int, opts ...func(*Config)) *cluster {
	cl := &cluster{t: t, clk: newClock(), ring: &ring{}, tr: &http.Transport{MaxIdleConnsPerHost: 64}, opts: opts}
	t.Cleanup(cl.tr.CloseIdleConnections)
	for range n {
		sh := &switchHandler{}
		srv := httptest.NewServer(sh)
		t.Cleanup(srv.Close)
		cl.ring.addrs = append(cl.ring.addrs, srv.Listener.Addr().String())
		cl.ring.live = append(cl.ring.live, true)
		cl.nodes = append(cl.nodes, &node{srv: srv, h: sh})
		cl.dirs = append(cl.dirs, t.TempDir())
	}
	for i := range cl.nodes {
		cl.start(i)
	}
	return cl
}

// start (re)creates node i's Limiter.
func (cl *cluster) start(i int) {
	nd := cl.nodes[i]
	nd.reg = prometheus.NewRegistry()
	cfg := Config{
		Name: "node", Owners: cl.ring.view(i), Transport: httpTransport{cl.tr},
		SyncInterval: -1, FlushInterval: -1, DecisionTimeout: 5 * time.Second,
		BatchWindow: 200 * time.Microsecond, DataDir: cl.dirs[i], Now: cl.clk.Now, Registerer: nd.reg,
	}
	for _, o := range cl.opts {
		o(&cfg)
	}
	l, err := New(cfg)
	if err != nil {
		cl.t.Fatalf("New: %v", err)
	}
	nd.lim = l
	nd.h.mu.Lock()
	nd.h.h = l.PeerHandler()
	nd.h.mu.Unlock()
	cl.t.Cleanup(func() { _ = l.Close(context.Background()) })
}

// stop closes node i's Limiter; its listener answers 503.
func (cl *cluster) stop(i int) {
	nd := cl.nodes[i]
	nd.h.mu.Lock()
	nd.h.h = nil
	nd.h.mu.Unlock()
	if err := nd.lim.Close(context.Background()); err != nil {
		cl.t.Errorf("close node %d: %v", i, err)
	}
}

func (cl *cluster) flush() {
	for _, nd := range cl.nodes {
		if !nd.lim.closed.Load() {
			if err := nd.lim.Flush(context.Background()); err != nil {
				cl.t.Errorf("flush: %v", err)
			}
		}
	}
}

func counterValue(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += metricValue(m)
		}
	}
	return sum
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

func stuckHandler(stuck chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
	})
}

func histogramCount(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				n += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return n
}
