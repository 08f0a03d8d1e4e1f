package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// ClosedLoop drives a target with a fixed number of keep-alive connections,
// each sending its next request as soon as the previous answer has been
// read. Throughput is what the target sustains; latency rises with load.
type ClosedLoop struct {
	// URL is the absolute URL every request GETs. Its host must be a
	// loopback address. (Required)
	URL string
	// Connections is the number of connections, each with one request in
	// flight at a time. (Optional) Defaults to 64.
	Connections int
	// Duration bounds the phase: no request starts after it. (Optional)
	// Defaults to 10s.
	Duration time.Duration
	// MaxRequests bounds the number of requests sent; zero means only
	// Duration bounds the phase.
	MaxRequests int64
	// Timeout bounds one request. (Optional) Defaults to 10s.
	Timeout time.Duration
	// Done, if not nil, is incremented once per completed request; it is
	// read by progress displays and may be shared between phases.
	Done *atomic.Int64
	// Transport sends the requests; pass the same one to a warm-up and the
	// measured phase so the latter starts on warm connections. It should
	// allow at least Connections connections per host. (Optional) If nil,
	// a tuned HTTP/1.1 transport is made and its connections closed at the
	// end of Run.
	Transport *http.Transport
	// Hit, if not nil, is asked about the header of every 2xx answer;
	// Result.Hits counts those it calls cache hits. It is called from many
	// goroutines at once and must not keep the header.
	Hit func(http.Header) bool
	// Headers, if not empty, are sent in turn: the loop's n-th request
	// (counted across all connections) carries Headers[n % len(Headers)],
	// e.g. to spread requests over rate-limit keys. The maps are shared
	// by every connection and must not change during Run.
	Headers []http.Header
}

func (c ClosedLoop) withDefaults() ClosedLoop {
	if c.Connections <= 0 {
		c.Connections = defaultConnections
	}
	if c.Duration <= 0 {
		c.Duration = defaultDuration
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	return c
}

// Run sends load until Duration has passed, MaxRequests were sent or ctx
// ends, and returns when every request in flight has completed. When ctx
// ends first it returns what was measured so far with ctx's error.
func (c ClosedLoop) Run(ctx context.Context) (*Result, error) {
	c = c.withDefaults()
	if err := checkLoopback(c.URL); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	tr := c.Transport
	if tr == nil {
		tr = newTransport(c.Connections)
		defer tr.CloseIdleConnections()
	}
	// With as many workers as connections, each worker in effect keeps one
	// connection busy, back to back.
	client := &http.Client{Transport: tr, Timeout: c.Timeout}
	var (
		sent atomic.Int64
		turn atomic.Uint64 // the next of Headers to send
	)
	start := time.Now()
	deadline := start.Add(c.Duration)
	return runWorkers(ctx, "closed loop", c.Connections, start, func(_ int, res *Result) func(context.Context) {
		w := &closedWorker{
			loop:   &c,
			client: client,
			req:    req.Clone(ctx),
			res:    res,
			sent:   &sent,
			turn:   &turn,
			finish: deadline,
		}
		return w.run
	})
}

// closedWorker has one request in flight at a time and its own result, so
// workers share nothing on the hot path but the transport's connection
// pool and the sent counter.
type closedWorker struct {
	loop   *ClosedLoop
	client *http.Client
	req    *http.Request
	res    *Result
	sent   *atomic.Int64
	turn   *atomic.Uint64
	finish time.Time
}

func (w *closedWorker) run(ctx context.Context) {
	for ctx.Err() == nil && time.Now().Before(w.finish) {
		if w.loop.MaxRequests > 0 && w.sent.Add(1) > w.loop.MaxRequests {
			return
		}
		start := time.Now()
		code, hit, err := w.do()
		if err != nil && ctx.Err() != nil {
			return // cut short by the caller: not a measurement
		}
		kind := ""
		if err != nil {
			kind = errorKind(err)
		}
		w.res.record(time.Since(start), code, kind)
		if hit {
			w.res.Hits++
		}
		if w.loop.Done != nil {
			w.loop.Done.Add(1)
		}
	}
}

// do sends one request and reads the whole answer, so the connection can
// be reused, and says whether the loop's Hit calls it a cache hit. The
// worker's request value is reused: a GET without body is safe to send
// again once its response has been read.
func (w *closedWorker) do() (code int, hit bool, err error) {
	if hs := w.loop.Headers; len(hs) > 0 {
		// The transport only reads a request's header: sharing the map
		// between connections is safe.
		w.req.Header = hs[(w.turn.Add(1)-1)%uint64(len(hs))]
	}
	resp, err := w.client.Do(w.req)
	if err != nil {
		return 0, false, err
	}
	// io.Discard reads with its own pooled buffer: no allocation per request.
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, false, err
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	return resp.StatusCode, ok && w.loop.Hit != nil && w.loop.Hit(resp.Header), nil
}
