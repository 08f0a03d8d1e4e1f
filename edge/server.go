package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves one Config's handler on the listeners given to Serve:
// HTTP/1.1, HTTP/2 over TLS (by ALPN) and, if asked, h2c. Its methods may
// be called from many goroutines at once.
type Server struct {
	hs        *http.Server
	handler   http.Handler
	connState func(net.Conn, http.ConnState)
	open      atomic.Int64
	// base is the parent of every request context; Shutdown cancels it
	// once draining ends, so handlers of hijacked connections (proxied
	// WebSockets), which http.Server no longer tracks, stop too.
	base       context.Context
	cancelBase context.CancelFunc

	metrics     *metrics
	h3          *h3Server // nil without Config.HTTP3
	admission   admission
	limits      Limits
	readTimeout time.Duration
	maxResets   int // <= 0: rapid reset guard off
	h2c         bool
	now         func() time.Time
	log         *slog.Logger
	errorLog    *slog.Logger
	rejectLog   rejectLog

	// TLS; all nil without Config.TLS.
	tlsFiles      []CertFiles
	watchDebounce time.Duration
	tlsConf       *tls.Config
	certs         atomic.Pointer[certStore]
	reloadMu      sync.Mutex // one reload at a time

	mu       sync.Mutex
	addr     net.Addr // of the first listener served
	shutdown bool
	watching bool         // the watcher was started (or failed to)
	watcher  *certWatcher // nil when not watching
}

// connKey is the request context key of the request's *trackedConn.
type connKey struct{}

// New checks cfg, applies its defaults, loads the TLS certificates and
// registers the metrics. The Server is not serving yet.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("edge: invalid config: %w", err)
	}
	cfg = cfg.withDefaults()
	s := &Server{
		handler:     cfg.Handler,
		connState:   cfg.ConnState,
		admission:   admission{maxConns: cfg.Limits.MaxConns, maxPerIP: cfg.Limits.MaxConnsPerIP, perIP: map[netip.Addr]int{}},
		limits:      cfg.Limits,
		readTimeout: cfg.ReadTimeout,
		maxResets:   cfg.HTTP2.MaxResetsPerSecond,
		h2c:         cfg.H2C,
		now:         cfg.Now,
		log:         cfg.Logger,
		errorLog:    cfg.ErrorLog,
	}
	var st *certStore
	if cfg.TLS != nil {
		var err error
		if st, err = loadCertificates(cfg.TLS.Certificates, s.now()); err != nil {
			return nil, fmt.Errorf("edge: loading certificates: %w", err)
		}
		s.tlsFiles = cfg.TLS.Certificates
		s.watchDebounce = cfg.TLS.WatchDebounce
		s.certs.Store(st)
		s.tlsConf = newTLSConfig(cfg.TLS.MinVersion, s.certs.Load)
	}
	var err error
	if s.metrics, err = newMetrics(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	if st != nil {
		s.metrics.certExpiries(st)
		s.warnExpiring(st)
	}
	s.base, s.cancelBase = context.WithCancel(context.Background())
	s.hs = s.newHTTPServer(cfg)
	if cfg.HTTP3 != nil {
		hooks := h3Hooks{
			admit:      s.admit,
			connOpened: func() { s.metrics.connOpened(protoH3) },
			connClosed: func() { s.metrics.connClosed(protoH3) },
		}
		if s.h3, err = newH3Server(*cfg.HTTP3, s.TLSConfig(), s.hs.Handler, hooks, cfg.Logger); err != nil {
			return nil, fmt.Errorf("edge: %w", err)
		}
		if err := s.metrics.registerH3(cfg.Registerer, s.h3); err != nil {
			return nil, fmt.Errorf("edge: %w", err)
		}
	}
	return s, nil
}

func (s *Server) newHTTPServer(cfg Config) *http.Server {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(cfg.TLS != nil)
	protos.SetUnencryptedHTTP2(s.h2c)
	return &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		Protocols:         &protos,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: cfg.HTTP2.MaxConcurrentStreams},
		ErrorLog:          slog.NewLogLogger(cfg.ErrorLog.Handler(), slog.LevelDebug),
		ConnState:         s.trackConn,
		BaseContext:       func(net.Listener) context.Context { return s.base },
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc := trackedOf(c); tc != nil {
				return context.WithValue(ctx, connKey{}, tc)
			}
			return ctx
		},
	}
}

// Serve accepts connections on ln and serves them until Shutdown, then
// returns nil; any other end is returned as an error. It closes ln. Serve
// may be called for several listeners, each on its own goroutine. With
// Config.TLS, connections are handshaken (within TLSHandshakeTimeout)
// before they count as open, and the first Serve starts watching the
// certificate files.
func (s *Server) Serve(ln net.Listener) error {
	if ln == nil {
		return errors.New("edge: serve: nil listener")
	}
	s.mu.Lock()
	if s.addr == nil {
		s.addr = ln.Addr()
	}
	s.startWatchingLocked()
	s.mu.Unlock()
	return s.serve(ln, s.tlsConf)
}

// ServeCleartext is Serve without TLS, whatever Config.TLS says: HTTP/1.1
// (and h2c if Config.H2C) on ln, under the same connection limits, for a
// node that serves both http:// and https://.
func (s *Server) ServeCleartext(ln net.Listener) error {
	if ln == nil {
		return errors.New("edge: serve: nil listener")
	}
	s.mu.Lock()
	if s.addr == nil {
		s.addr = ln.Addr()
	}
	s.mu.Unlock()
	return s.serve(ln, nil)
}

func (s *Server) serve(ln net.Listener, tlsConf *tls.Config) error {
	err := s.hs.Serve(s.newListener(ln, tlsConf))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("edge: serving %s: %w", ln.Addr(), err)
}

// ServeUDP serves HTTP/3 on pc until Shutdown, then returns nil; it owns
// pc from then on. It needs Config.HTTP3. From the moment it serves, the
// responses of TLS connections carry Alt-Svc naming pc's port, so pc
// should have the TCP listener's port number. It may be called once.
func (s *Server) ServeUDP(pc net.PacketConn) error {
	if s.h3 == nil {
		_ = pc.Close()
		return errors.New("edge: serve udp: HTTP/3 is not configured")
	}
	s.mu.Lock()
	s.startWatchingLocked()
	s.mu.Unlock()
	if err := s.h3.Serve(pc); err != nil {
		return fmt.Errorf("edge: serving HTTP/3 on %s: %w", pc.LocalAddr(), err)
	}
	return nil
}

// startWatchingLocked starts the certificate watcher once, unless the
// Server has no TLS, watching is off or Shutdown has begun. s.mu is held.
func (s *Server) startWatchingLocked() {
	if s.tlsFiles == nil || s.watchDebounce < 0 || s.watching || s.shutdown {
		return
	}
	s.watching = true
	w, err := newCertWatcher(s.tlsFiles, s.watchDebounce, s.reloadOnChange, func() { s.warnExpiring(s.certs.Load()) })
	if err != nil {
		s.log.Warn("certificates will not be reloaded on file changes, only on request", "err", err)
		return
	}
	s.watcher = w
}

// reloadOnChange is the watcher's reload: a failure is logged, and the
// certificates in use stay.
func (s *Server) reloadOnChange() {
	if err := s.ReloadCertificates(); err != nil {
		s.log.Warn("certificate files changed but could not be loaded", "err", err)
		return
	}
	s.log.Info("certificates reloaded after a file change")
}

// Shutdown stops accepting (aborting TLS handshakes in progress), stops
// watching certificate files, closes idle connections, tells HTTP/2
// clients to go away (GOAWAY) and waits for in-flight requests to finish.
// If ctx ends first, it closes the remaining connections (their requests
// fail) and returns ctx's error. Connections taken over by a handler
// (WebSocket upgrades) are not waited for: once draining ends, every
// request context is cancelled, which ends handlers that watch it
// (httputil.ReverseProxy's upgrade copy does). Shutdown is idempotent,
// and a Server shut down before Serve makes Serve return nil at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	w := s.watcher
	s.watcher = nil
	s.mu.Unlock()
	if w != nil {
		w.close()
	}
	// QUIC and TCP drain side by side, within the same ctx.
	h3done := make(chan error, 1)
	if s.h3 != nil {
		go func() { h3done <- s.h3.Shutdown(ctx) }()
	} else {
		h3done <- nil
	}
	err := s.hs.Shutdown(ctx)
	if h3err := <-h3done; h3err != nil && err == nil {
		err = h3err
	}
	s.cancelBase()
	if err != nil {
		// The context ended with requests still running: cut them.
		_ = s.hs.Close()
		return fmt.Errorf("edge: draining connections: %w", err)
	}
	return nil
}

// TLSConfig returns a copy of the server-side tls.Config, or nil without
// Config.TLS. Its GetCertificate reads the live certificate store, so
// reloads reach whoever uses the copy (HTTP/3); its NextProtos are the
// TCP ones ("h2", "http/1.1"), for the caller to replace.
func (s *Server) TLSConfig() *tls.Config {
	if s.tlsConf == nil {
		return nil
	}
	return s.tlsConf.Clone()
}

// OpenConns returns the number of client connections currently open
// (new, active or idle; hijacked ones are no longer counted). TLS
// connections count once handshaken.
func (s *Server) OpenConns() int64 {
	n := s.open.Load()
	if s.h3 != nil {
		n += s.h3.OpenConns()
	}
	return n
}

// Addr returns the address of the first listener given to Serve, or nil
// before Serve is called.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// serveHTTP wraps the Config's handler: it counts the request, settles
// the connection's protocol, guards the body rate and, on HTTP/2, counts
// streams the client reset.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.metrics.request(r.ProtoMajor)
	if ambiguousFraming(r) {
		closeAfter(w)
	}
	tc, _ := r.Context().Value(connKey{}).(*trackedConn)
	if tc != nil {
		tc.handlerRan()
		tc.requestSeen(r.ProtoMajor)
		if r.ProtoMajor == 2 && s.maxResets > 0 {
			defer s.checkReset(r, tc)
		}
	}
	if s.h3 != nil && r.TLS != nil && r.ProtoMajor < 3 {
		if v := s.h3.AltSvc(); v != "" {
			w.Header().Set("Alt-Svc", v)
		}
	}
	s.handler.ServeHTTP(w, s.guardBody(w, r))
}

// trackConn keeps OpenConns and passes the change on to
// Config.ConnState. net/http reports StateNew once per connection and
// then exactly one of StateClosed or StateHijacked at its end.
func (s *Server) trackConn(c net.Conn, state http.ConnState) {
	s.requestStates(c, state) // before OpenConns drops: tests wait on it
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
