package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// Server serves one Config's handler on the listeners given to Serve. Its
// methods may be called from many goroutines at once.
type Server struct {
	hs        *http.Server
	connState func(net.Conn, http.ConnState)
	open      atomic.Int64
	// base is the parent of every request context; Shutdown cancels it
	// once draining ends, so handlers of hijacked connections (proxied
	// WebSockets), which http.Server no longer tracks, stop too.
	base       context.Context
	cancelBase context.CancelFunc

	mu   sync.Mutex
	addr net.Addr // of the first listener served
}

// New checks cfg, applies its defaults and returns a Server that is not
// serving yet.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("edge: invalid config: %w", err)
	}
	cfg = cfg.withDefaults()
	s := &Server{connState: cfg.ConnState}
	s.base, s.cancelBase = context.WithCancel(context.Background())
	s.hs = &http.Server{
		Handler:           cfg.Handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(cfg.ErrorLog.Handler(), slog.LevelDebug),
		ConnState:         s.trackConn,
		BaseContext:       func(net.Listener) context.Context { return s.base },
	}
	return s, nil
}

// Serve accepts connections on ln and serves them until Shutdown, then
// returns nil; any other end is returned as an error. It closes ln. Serve
// may be called for several listeners, each on its own goroutine.
func (s *Server) Serve(ln net.Listener) error {
	if ln == nil {
		return errors.New("edge: serve: nil listener")
	}
	s.mu.Lock()
	if s.addr == nil {
		s.addr = ln.Addr()
	}
	s.mu.Unlock()
	err := s.hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("edge: serving %s: %w", ln.Addr(), err)
}

// Shutdown stops accepting, closes idle connections and waits for
// in-flight requests to finish. If ctx ends first, it closes the
// remaining connections (their requests fail) and returns ctx's error.
// Connections taken over by a handler (WebSocket upgrades) are not waited
// for: once draining ends, every request context is cancelled, which ends
// handlers that watch it (httputil.ReverseProxy's upgrade copy does).
// Shutdown is idempotent, and a Server shut down before Serve
// makes Serve return nil at once.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.hs.Shutdown(ctx)
	s.cancelBase()
	if err != nil {
		// The context ended with requests still running: cut them.
		_ = s.hs.Close()
		return fmt.Errorf("edge: draining connections: %w", err)
	}
	return nil
}

// OpenConns returns the number of client connections currently open
// (new, active or idle; hijacked ones are no longer counted).
func (s *Server) OpenConns() int64 { return s.open.Load() }

// Addr returns the address of the first listener given to Serve, or nil
// before Serve is called.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// trackConn keeps OpenConns and passes the change on to Config.ConnState.
// net/http reports StateNew once per connection and then exactly one of
// StateClosed or StateHijacked at its end.
func (s *Server) trackConn(c net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		s.open.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.open.Add(-1)
	}
	if s.connState != nil {
		s.connState(c, state)
	}
}
