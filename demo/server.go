package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Server. The zero value is ready to use.
type Options struct {
	// Logger receives debug records about WebSocket sessions that end
	// abnormally. If nil, records are discarded.
	Logger *slog.Logger

	// Now is the clock behind the times the endpoints report and the
	// /cache validators. If nil, time.Now is used.
	Now func() time.Time

	// Pause waits d, or until ctx is done, whichever comes first, and
	// returns ctx.Err() in the second case. /delay/{ms} and the delay_ms
	// parameter of /stream and /sse call it; it is never called with
	// d <= 0. Tests inject it to hold a stream between two lines. If nil,
	// a timer is used.
	Pause func(ctx context.Context, d time.Duration) error
}

// Server is the demo upstream. Its methods may be called from many
// goroutines at once.
type Server struct {
	log   *slog.Logger
	now   func() time.Time
	pause func(ctx context.Context, d time.Duration) error
	mux   *http.ServeMux

	requests atomic.Int64

	// closing is cancelled by Close; long-running handlers (delay,
	// stream, sse, ws) watch it and are counted by active so that Close
	// can wait for them.
	closing context.Context
	stop    context.CancelFunc
	active  activeSet

	// pattern is the deterministic content of /bytes responses.
	pattern []byte
	// ctOctet and friends are shared header values, so that the hot
	// endpoints don't allocate a []string per response. net/http only
	// reads them.
	ctOctet   []string
	bytesLen  atomic.Pointer[lengthHeader]
	ctProblem []string
}

var _ http.Handler = (*Server)(nil)

// New returns a demo Server with these endpoints (any method unless noted):
//
//	/                     JSON index of the endpoints
//	/anything[/{rest...}] JSON echo of the request (body capped at 1 MiB, 413 beyond)
//	/status/{code}        answers code (200-599)
//	/delay/{ms}           waits ms (0-60000), then echoes like /anything
//	/bytes/{n}            n deterministic bytes (0-100 MiB), with Content-Length
//	/cache/{seconds}      cacheable JSON with ETag and Last-Modified; answers 304
//	/stream/{n}           n JSON lines, flushed one by one (?delay_ms= between)
//	/sse/{n}              n server-sent events, flushed one by one (?delay_ms=)
//	/ws                   WebSocket echo of text and binary messages
//	/headers, /ip         the request headers / the client address as JSON
//
// Bad path or query parameters get 400 with an application/problem+json
// body that says what is accepted.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Pause == nil {
		o.Pause = sleep
	}
	closing, stop := context.WithCancel(context.Background())
	s := &Server{
		log:       o.Logger,
		now:       o.Now,
		pause:     o.Pause,
		closing:   closing,
		stop:      stop,
		active:    activeSet{drained: make(chan struct{})},
		pattern:   newPattern(patternSize),
		ctOctet:   []string{"application/octet-stream"},
		ctProblem: []string{"application/problem+json"},
	}
	s.mux = s.routes()
	return s
}

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/{$}", s.serveIndex)
	m.HandleFunc("/status/{code}", s.serveStatus)
	m.HandleFunc("/delay/{ms}", s.serveDelay)
	m.HandleFunc("/bytes/{n}", s.serveBytes)
	m.HandleFunc("/cache/{seconds}", s.serveCache)
	m.HandleFunc("/stream/{n}", s.serveStream)
	m.HandleFunc("/sse/{n}", s.serveSSE)
	m.HandleFunc("/ws", s.serveWebSocket)
	m.HandleFunc("/headers", s.serveHeaders)
	m.HandleFunc("/ip", s.serveIP)
	m.HandleFunc("/", s.serveNotFound)
	return m
}

// ServeHTTP counts the request and dispatches it to its endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	// /anything is matched before the mux, which would redirect unclean
	// paths (/anything//a, /anything/./b): the echo must show the path
	// exactly as it arrived, since gateway tests check what was forwarded.
	if p := r.URL.Path; p == "/anything" || strings.HasPrefix(p, "/anything/") {
		s.serveAnything(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Requests returns how many requests the Server has received, whatever
// their outcome.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Close ends in-flight delays, streams and WebSocket sessions (WebSocket
// peers get a 1001 "going away" close) and waits until their handlers
// have returned, or until ctx is done. Requests that arrive afterwards for
// those endpoints get 503; the other endpoints keep answering. Close is
// idempotent.
func (s *Server) Close(ctx context.Context) error {
	s.stop()
	select {
	case <-s.active.close():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("demo: waiting for open streams to end: %w", ctx.Err())
	}
}

// begin registers a long-running handler. It returns a context that ends
// when the client goes away or Close is called, and a func to call when
// the handler returns; ok is false once the Server is closed.
func (s *Server) begin(r *http.Request) (ctx context.Context, end func(), ok bool) {
	if !s.active.enter() {
		return nil, nil, false
	}
	ctx, cancel := context.WithCancel(r.Context())
	stopWatch := context.AfterFunc(s.closing, cancel)
	return ctx, func() {
		stopWatch()
		cancel()
		s.active.leave()
	}, true
}

// activeSet counts running long-lived handlers. A sync.WaitGroup won't do:
// begin may race with Close, and WaitGroup forbids Add concurrent with a
// Wait at zero.
type activeSet struct {
	mu      sync.Mutex
	n       int
	closed  bool
	drained chan struct{} // closed once closed && n == 0
}

func (a *activeSet) enter() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.n++
	return true
}

func (a *activeSet) leave() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n--
	if a.closed && a.n == 0 {
		close(a.drained)
	}
}

func (a *activeSet) close() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.closed {
		a.closed = true
		if a.n == 0 {
			close(a.drained)
		}
	}
	return a.drained
}

func (a *activeSet) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// sleep is the default Options.Pause.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
