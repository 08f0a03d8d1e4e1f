package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Shape of the edge closed loop: HTTP/1.1 needs a connection per request
// in flight; HTTP/2 and HTTP/3 spread the requests in flight (64 by
// default) over 8 connections, 8 concurrent streams each: about what a few
// busy browsers or a client library with a small pool would open.
const (
	edgeMuxConns    = 8
	edgeRedialPause = 10 * time.Millisecond
	edgeDialTimeout = 5 * time.Second
)

// edgeShape is the connections × streams of a protocol for a total
// concurrency: h1 gets one stream per connection, h2 and h3 spread the
// total over edgeMuxConns connections.
func edgeShape(p Protocol, concurrency int) (conns, streams int) {
	if p == ProtoH1 || concurrency < edgeMuxConns {
		return concurrency, 1
	}
	return edgeMuxConns, (concurrency + edgeMuxConns - 1) / edgeMuxConns
}

// edgePool is the fixed set of connections of an edge load phase. Slot i
// holds one connection, dialled on first use and again after it broke. A
// warm-up and its measured phase share one pool, so the measured phase
// starts on warm connections. Safe for concurrent use.
type edgePool struct {
	dialer *edgeDialer
	slots  []edgeSlot
}

// edgeSlot is one connection of a pool. Each has its own lock so that the
// workers of one slot, which take it for every request, never wait for
// another slot's dial.
type edgeSlot struct {
	mu sync.Mutex
	c  *edgeConn
}

func newEdgePool(d *edgeDialer, conns int) *edgePool {
	return &edgePool{dialer: d, slots: make([]edgeSlot, conns)}
}

// get returns slot i's connection, dialling it if it has none. Workers of
// the slot that arrive while it dials wait for that dial.
func (p *edgePool) get(ctx context.Context, i int) (*edgeConn, error) {
	s := &p.slots[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil {
		return s.c, nil
	}
	ctx, cancel := context.WithTimeout(ctx, edgeDialTimeout)
	defer cancel()
	c, err := p.dialer.dial(ctx)
	if err != nil {
		return nil, err
	}
	s.c = c
	return c, nil
}

// broken closes slot i's connection if it is still c, so that the next
// get dials anew; several workers may report the same connection.
func (p *edgePool) broken(i int, c *edgeConn) {
	s := &p.slots[i]
	s.mu.Lock()
	if s.c != c {
		s.mu.Unlock()
		return
	}
	s.c = nil
	s.mu.Unlock()
	_ = c.close()
}

// close closes every connection.
func (p *edgePool) close() {
	for i := range p.slots {
		s := &p.slots[i]
		s.mu.Lock()
		if s.c != nil {
			_ = s.c.close()
			s.c = nil
		}
		s.mu.Unlock()
	}
}

// EdgeLoop is a closed loop over TLS: Conns connections, each carrying
// Streams requests in flight, each worker sending its next request as soon
// as the previous answer has been read. A request that fails with a
// transport error has its connection closed and redialled.
type EdgeLoop struct {
	// URL is the absolute https URL every request GETs; the connection
	// goes to the pool's address whatever its host.
	URL string
	// Streams is the number of requests in flight on each connection of
	// the pool. (Optional) Defaults to 1.
	Streams int
	// Duration bounds the phase: no request starts after it. (Optional)
	// Defaults to 10s.
	Duration time.Duration
	// Timeout bounds one request. (Optional) Defaults to 10s.
	Timeout time.Duration
	// Done, if not nil, is incremented once per completed request.
	Done *atomic.Int64
	// pool holds the connections (one slot each), dialled on first use.
	pool *edgePool
}

func (l EdgeLoop) withDefaults() EdgeLoop {
	if l.Streams <= 0 {
		l.Streams = 1
	}
	if l.Duration <= 0 {
		l.Duration = defaultDuration
	}
	if l.Timeout <= 0 {
		l.Timeout = defaultTimeout
	}
	return l
}

// Run sends load until Duration has passed or ctx ends, and returns when
// every request in flight has completed. It leaves the pool's connections
// open for the next phase. When ctx ends first it returns what was
// measured so far with ctx's error.
func (l EdgeLoop) Run(ctx context.Context) (*Result, error) {
	l = l.withDefaults()
	start := time.Now()
	deadline := start.Add(l.Duration)
	return runWorkers(ctx, "edge loop", len(l.pool.slots)*l.Streams, start, func(i int, res *Result) func(context.Context) {
		w := &edgeWorker{loop: &l, slot: i / l.Streams, res: res, finish: deadline}
		return w.run
	})
}

// edgeWorker keeps one request in flight on its slot's connection.
type edgeWorker struct {
	loop   *EdgeLoop
	slot   int
	res    *Result
	finish time.Time
}

func (w *edgeWorker) run(ctx context.Context) {
	for ctx.Err() == nil && time.Now().Before(w.finish) {
		start := time.Now()
		c, err := w.loop.pool.get(ctx, w.slot)
		code := 0
		if err == nil {
			code, err = w.do(ctx, c)
			if err != nil {
				w.loop.pool.broken(w.slot, c)
			}
		}
		if err != nil && ctx.Err() != nil {
			return // cut short by the caller: not a measurement
		}
		kind := ""
		if err != nil {
			kind = errorKind(err)
		}
		w.res.record(time.Since(start), code, kind)
		if w.loop.Done != nil {
			w.loop.Done.Add(1)
		}
		if err != nil && c == nil {
			// The dial failed: don't spin on a target that refuses.
			select {
			case <-ctx.Done():
			case <-time.After(edgeRedialPause):
			}
		}
	}
}

// do sends one GET on c and reads the whole answer.
func (w *edgeWorker) do(ctx context.Context, c *edgeConn) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, w.loop.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.loop.URL, nil)
	if err != nil {
		return 0, fmt.Errorf("building request: %w", err)
	}
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}
