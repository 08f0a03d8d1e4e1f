package cache

import (
	"context"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/portico-gw/portico/cluster/ring"
)

// This file is the harness of the Zipf hit-ratio runs (zipf_test.go): a
// seeded request stream, a counting upstream, one node or three sharded
// by the node's own ring, and the figures of one run.

// zipfMaxAge keeps every entry fresh for the whole run (30 days on the
// fixed test clock), so that every upstream request is a capacity or
// admission miss, or a key's first request.
const zipfMaxAge = "max-age=2592000"

// zipfWorkload is a seeded stream of requests over keys of equal size.
// Rank 0 is the most popular key: P(rank k) ∝ (1+k)^-s (math/rand/v2's
// Zipf with v = 1). It is read-only once made.
type zipfWorkload struct {
	keys  int
	body  []byte
	paths []string // by rank: /k/00000, equal lengths so entries cost the same
	reqs  []*http.Request
	seq   []uint32  // the ranks of the warm-up requests, then of the measured ones
	warm  int       // warm-up requests at the head of seq
	pmf   []float64 // P(rank k)
}

func newZipfWorkload(keys, bodyBytes, warm, measured int, s float64, seed uint64) *zipfWorkload {
	w := &zipfWorkload{keys: keys, body: []byte(strings.Repeat("z", bodyBytes)), warm: warm}
	z := rand.NewZipf(rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), s, 1, uint64(keys-1))
	w.seq = make([]uint32, warm+measured)
	for i := range w.seq {
		w.seq[i] = uint32(z.Uint64())
	}
	width := len(strconv.Itoa(keys - 1))
	var sum float64
	for k := range keys {
		p := fmt.Sprintf("/k/%0*d", width, k)
		w.paths = append(w.paths, p)
		w.reqs = append(w.reqs, httptest.NewRequest(http.MethodGet, "https://example.com"+p, nil))
		w.pmf = append(w.pmf, math.Pow(float64(1+k), -s))
		sum += w.pmf[k]
	}
	for k := range w.pmf {
		w.pmf[k] /= sum
	}
	return w
}

// request is a fresh GET for rank k: handlers may keep or change theirs.
func (w *zipfWorkload) request(k int) *http.Request { return w.reqs[k].Clone(context.Background()) }

// best is the hit ratio, in percent, of perfect-knowledge caches under the
// independent reference model: each node holds the most popular keys it
// owns (owner[k], or node 0 when owner is nil) that fit in capacity
// entries. It is the ceiling a frequency-based cache approaches.
func (w *zipfWorkload) best(owner []int, nodes, capacity int) float64 {
	held := make([]int, nodes)
	var hit float64
	for k, p := range w.pmf {
		n := 0
		if owner != nil {
			n = owner[k]
		}
		if held[n] < capacity {
			held[n]++
			hit += p
		}
	}
	return 100 * hit
}

// zipfUpstream is every node's route next: it answers each key with the
// same fresh body and counts its requests, in all and per key.
type zipfUpstream struct {
	clk   *clock
	body  []byte
	total atomic.Int64
	byKey []atomic.Int32 // by rank
}

func newZipfUpstream(clk *clock, w *zipfWorkload) *zipfUpstream {
	return &zipfUpstream{clk: clk, body: w.body, byKey: make([]atomic.Int32, w.keys)}
}

func (u *zipfUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.total.Add(1)
	k, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/k/"))
	if err != nil || k < 0 || k >= len(u.byKey) {
		http.NotFound(w, r)
		return
	}
	u.byKey[k].Add(1)
	h := w.Header()
	h.Set("Date", u.clk.Now().UTC().Format(http.TimeFormat))
	h.Set("Cache-Control", zipfMaxAge)
	h.Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(u.body)
}

// ringOwners is the OwnerPicker of one node: owners by cluster/ring, the
// same rendezvous hash the node adapter uses, over the member IDs
// node-0..node-n-1. Read-only once made.
type ringOwners struct {
	ring  *ring.Ring
	addrs map[string]string // member ID → peer address
	self  string
}

func (o *ringOwners) Owner(key, scope string) (string, bool) {
	m, ok := o.ring.Owner(key)
	if !ok || m.ID == o.self {
		return "", true
	}
	return o.addrs[m.ID], false
}

// zipfRing is the ring of n nodes named node-0..node-n-1.
func zipfRing(n int) *ring.Ring {
	ms := make([]ring.Member, n)
	for i := range ms {
		ms[i] = ring.Member{ID: fmt.Sprintf("node-%d", i)}
	}
	return ring.New(ms)
}

// zipfOwners is the index of the node that owns each rank's key.
func zipfOwners(w *zipfWorkload, n int) []int {
	r := zipfRing(n)
	out := make([]int, w.keys)
	for k, p := range w.paths {
		m, _ := r.Owner(key(Policy{}, p))
		out[k], _ = strconv.Atoi(strings.TrimPrefix(m.ID, "node-"))
	}
	return out
}

// zipfSite is one setup under test: n Caches (each with its Middleware,
// and with n > 1 a TLS peer listener mounting PeerHandler and its own peer
// transport) in front of one counting upstream.
type zipfSite struct {
	caches   []*Cache
	routes   []http.Handler
	upstream *zipfUpstream
	peers    []*httptest.Server // with n > 1
	trs      []*http.Transport  // with n > 1
}

// startZipfSite starts n nodes whose owner tiers hold maxBytes each and
// near tiers nearBytes (negative: off). With n == 1 there is no
// OwnerPicker: every key is the node's. workers sizes the idle peer
// connections kept.
func startZipfSite(tb testing.TB, w *zipfWorkload, n int, maxBytes, nearBytes int64, workers int) *zipfSite {
	tb.Helper()
	clk := newClock()
	s := &zipfSite{upstream: newZipfUpstream(clk, w), routes: make([]http.Handler, n)}
	r := zipfRing(n)
	addrs := make(map[string]string, n)
	quiet := log.New(io.Discard, "", 0)
	for i := range n {
		cfg := Config{Name: fmt.Sprintf("node-%d", i), Now: clk.Now, MaxBytes: maxBytes, NearMaxBytes: nearBytes}
		if n > 1 {
			// Its handler is set once the Cache exists, before any request.
			peer := httptest.NewUnstartedServer(http.NotFoundHandler())
			peer.Config.ErrorLog = quiet
			peer.StartTLS()
			s.peers = append(s.peers, peer)
			addrs[cfg.Name] = peer.Listener.Addr().String()
			tr := peer.Client().Transport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 2 * workers
			s.trs = append(s.trs, tr)
			cfg.Owners = &ringOwners{ring: r, addrs: addrs, self: cfg.Name}
			cfg.Transport = tr
		}
		c, err := New(cfg)
		if err != nil {
			s.close()
			tb.Fatalf("New: %v", err)
		}
		s.caches = append(s.caches, c)
		rs := c.NewRoutes(1)
		if s.routes[i], err = rs.Middleware(Policy{}, plainNext{s.upstream}); err != nil {
			s.close()
			tb.Fatalf("Middleware: %v", err)
		}
		c.Publish(rs)
		if n > 1 {
			s.peers[i].Config.Handler = c.PeerHandler()
		}
	}
	return s
}

// close stops the listeners, then the transports and the Caches.
func (s *zipfSite) close() {
	for _, p := range s.peers {
		p.Close()
	}
	for _, tr := range s.trs {
		tr.CloseIdleConnections()
	}
	for _, c := range s.caches {
		c.Close()
	}
}

// settle waits until every tier has applied its writes.
func (s *zipfSite) settle() {
	for _, c := range s.caches {
		c.owner.wait()
		c.near.wait()
	}
}

// drive sends the requests seq[from:to] round-robin over the nodes (the
// i-th of the stream to node i mod n) from workers concurrent clients and
// returns when all are answered, with the first wrong answer if any.
func (s *zipfSite) drive(w *zipfWorkload, from, to, workers int) error {
	var next atomic.Int64
	next.Store(int64(from))
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rw := &benchWriter{h: make(http.Header)}
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				k := int(w.seq[i])
				rw.reset()
				s.routes[i%len(s.routes)].ServeHTTP(rw, w.request(k))
				if rw.status != http.StatusOK || rw.n != len(w.body) {
					errOnce.Do(func() {
						firstErr = fmt.Errorf("request %d for %s: status %d, %d bytes, Cache-Status %q",
							i, w.paths[k], rw.status, rw.n, rw.h.Get("Cache-Status"))
					})
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// zipfRun is what one setup did over the measured requests.
type zipfRun struct {
	requests int64  // measured requests
	upstream int64  // upstream requests they caused
	rejected uint64 // owner-tier sets refused by admission, warm-up included
	dropped  uint64 // owner-tier sets dropped under contention
	entries  int    // owner-tier entries at the end, all nodes
}

// hitPercent is 100 × (1 − upstream/requests).
func (r zipfRun) hitPercent() float64 {
	return 100 * (1 - float64(r.upstream)/float64(r.requests))
}

// runZipf starts a site, sends the warm-up requests, then the measured
// ones, and stops it.
func runZipf(tb testing.TB, w *zipfWorkload, n int, maxBytes, nearBytes int64, workers int) zipfRun {
	tb.Helper()
	s := startZipfSite(tb, w, n, maxBytes, nearBytes, workers)
	defer s.close()
	if err := s.drive(w, 0, w.warm, workers); err != nil {
		tb.Fatalf("warm-up: %v", err)
	}
	s.settle()
	before := s.upstream.total.Load()
	if err := s.drive(w, w.warm, len(w.seq), workers); err != nil {
		tb.Fatalf("measured: %v", err)
	}
	s.settle()
	run := zipfRun{requests: int64(len(w.seq) - w.warm), upstream: s.upstream.total.Load() - before}
	for _, c := range s.caches {
		run.rejected += c.owner.rc.Metrics.SetsRejected()
		run.dropped += c.owner.rc.Metrics.SetsDropped()
		run.entries += c.owner.idx.len()
	}
	return run
}

// zipfEntryCost is what one key's entry costs in a tier, in bytes: body,
// headers, key and the fixed overhead.
func zipfEntryCost(tb testing.TB, w *zipfWorkload) int64 {
	tb.Helper()
	s := startZipfSite(tb, w, 1, 1<<20, -1, 1)
	defer s.close()
	rw := &benchWriter{h: make(http.Header)}
	s.routes[0].ServeHTTP(rw, w.request(0))
	s.settle()
	cost := s.caches[0].owner.used()
	if cost <= int64(len(w.body)) {
		tb.Fatalf("entry cost %d bytes, want more than its %d-byte body", cost, len(w.body))
	}
	return cost
}
