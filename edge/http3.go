package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// HTTP3Config configures the HTTP/3 (QUIC) listener. The zero value is
// usable: every zero field takes the default its comment states.
type HTTP3Config struct {
	// MaxIncomingStreams is how many concurrent request streams (QUIC
	// bidirectional streams) one client connection may have open.
	// (Optional) Defaults to 100. Negative is invalid.
	MaxIncomingStreams int64

	// MaxIdleTimeout closes a connection that received nothing for this
	// long once the handshake is done (the smaller of ours and the
	// client's applies). (Optional) Defaults to 30s.
	MaxIdleTimeout time.Duration

	// HandshakeIdleTimeout aborts a handshake that received nothing for
	// this long (and any handshake that takes twice as long).
	// (Optional) Defaults to 5s.
	HandshakeIdleTimeout time.Duration

	// InitialStreamReceiveWindow and MaxStreamReceiveWindow bound the
	// per-stream flow-control window in bytes; quic-go grows it from the
	// initial to the max value as the client keeps up. (Optional) They
	// default to quic-go's defaults: 512 KiB and 6 MiB.
	InitialStreamReceiveWindow, MaxStreamReceiveWindow uint64

	// InitialConnectionReceiveWindow and MaxConnectionReceiveWindow bound
	// the per-connection flow-control window in bytes. (Optional) They
	// default to quic-go's defaults: 768 KiB (1.5 × the stream window)
	// and 15 MiB.
	InitialConnectionReceiveWindow, MaxConnectionReceiveWindow uint64

	// Disable0RTT refuses 0-RTT (early data) on resumed connections, so
	// every request waits for the handshake. By default 0-RTT is
	// accepted, but only safe methods (GET, HEAD, OPTIONS, TRACE) are
	// served from it: any other method that arrives before the handshake
	// completes is answered 425 Too Early without reaching the handler.
	Disable0RTT bool

	// AltSvcMaxAge is the "ma" of the Alt-Svc value that advertises this
	// listener, rounded down to whole seconds. (Optional) Defaults to 24h;
	// below one second is invalid.
	AltSvcMaxAge time.Duration

	// RetryAboveHandshakes makes the server demand QUIC address
	// validation (a Retry, one extra round trip) from new clients while
	// more than this many handshakes are in flight, so a flood of spoofed
	// Initial packets cannot make it do handshake work. (Optional)
	// Defaults to 64; negative demands a Retry from every new client.
	RetryAboveHandshakes int

	// MaxHeaderBytes limits the size of a request's header section in
	// bytes (the QPACK-encoded HEADERS frame and the decoded fields);
	// larger requests get 431. (Optional) Defaults to 64 KiB.
	MaxHeaderBytes int
}

// HTTP3Config defaults. The window defaults equal quic-go's own, spelled
// out so that validate can compare initial and max values.
const (
	h3DefaultMaxIncomingStreams   = 100
	h3DefaultMaxIdleTimeout       = 30 * time.Second
	h3DefaultHandshakeIdleTimeout = 5 * time.Second
	h3DefaultStreamWindow         = 512 << 10
	h3DefaultMaxStreamWindow      = 6 << 20
	h3DefaultConnWindow           = 768 << 10
	h3DefaultMaxConnWindow        = 15 << 20
	h3DefaultAltSvcMaxAge         = 24 * time.Hour
	h3DefaultRetryAboveHandshakes = 64
	h3DefaultMaxHeaderBytes       = 64 << 10
)

// withDefaults returns c with every zero field set to its default.
func (c HTTP3Config) withDefaults() HTTP3Config {
	setDefault(&c.MaxIncomingStreams, h3DefaultMaxIncomingStreams)
	setDefault(&c.MaxIdleTimeout, h3DefaultMaxIdleTimeout)
	setDefault(&c.HandshakeIdleTimeout, h3DefaultHandshakeIdleTimeout)
	setDefault(&c.InitialStreamReceiveWindow, h3DefaultStreamWindow)
	setDefault(&c.MaxStreamReceiveWindow, h3DefaultMaxStreamWindow)
	setDefault(&c.InitialConnectionReceiveWindow, h3DefaultConnWindow)
	setDefault(&c.MaxConnectionReceiveWindow, h3DefaultMaxConnWindow)
	setDefault(&c.AltSvcMaxAge, h3DefaultAltSvcMaxAge)
	setDefault(&c.RetryAboveHandshakes, h3DefaultRetryAboveHandshakes)
	setDefault(&c.MaxHeaderBytes, h3DefaultMaxHeaderBytes)
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// validate reports the first invalid field of c. Call it on
// c.withDefaults(): zero values are invalid where a default exists.
func (c HTTP3Config) validate() error {
	switch {
	case c.MaxIncomingStreams <= 0:
		return fmt.Errorf("edge: http3 max incoming streams %d must be positive", c.MaxIncomingStreams)
	case c.MaxIdleTimeout <= 0:
		return fmt.Errorf("edge: http3 max idle timeout %v must be positive", c.MaxIdleTimeout)
	case c.HandshakeIdleTimeout <= 0:
		return fmt.Errorf("edge: http3 handshake idle timeout %v must be positive", c.HandshakeIdleTimeout)
	case c.InitialStreamReceiveWindow > c.MaxStreamReceiveWindow:
		return fmt.Errorf("edge: http3 initial stream receive window %d exceeds the max %d",
			c.InitialStreamReceiveWindow, c.MaxStreamReceiveWindow)
	case c.InitialConnectionReceiveWindow > c.MaxConnectionReceiveWindow:
		return fmt.Errorf("edge: http3 initial connection receive window %d exceeds the max %d",
			c.InitialConnectionReceiveWindow, c.MaxConnectionReceiveWindow)
	case c.AltSvcMaxAge < time.Second:
		return fmt.Errorf("edge: http3 alt-svc max age %v must be at least 1s", c.AltSvcMaxAge)
	case c.MaxHeaderBytes <= 0:
		return fmt.Errorf("edge: http3 max header bytes %d must be positive", c.MaxHeaderBytes)
	}
	return nil
}

// quicConfig translates c (with defaults applied) into quic-go's terms.
func (c HTTP3Config) quicConfig() *quic.Config {
	return &quic.Config{
		MaxIncomingStreams:             c.MaxIncomingStreams,
		MaxIdleTimeout:                 c.MaxIdleTimeout,
		HandshakeIdleTimeout:           c.HandshakeIdleTimeout,
		InitialStreamReceiveWindow:     c.InitialStreamReceiveWindow,
		MaxStreamReceiveWindow:         c.MaxStreamReceiveWindow,
		InitialConnectionReceiveWindow: c.InitialConnectionReceiveWindow,
		MaxConnectionReceiveWindow:     c.MaxConnectionReceiveWindow,
		Allow0RTT:                      !c.Disable0RTT,
	}
}

// h3Hooks lets the owner of an h3Server admit connections and count
// them. Every field may be nil. The hooks are called from many
// goroutines at once and must not block for long.
type h3Hooks struct {
	// admit is asked once for every new QUIC connection before any of
	// its requests is served: after the handshake, or before it for a
	// 0-RTT connection (whose remote address is then unvalidated). It
	// returns release, called exactly once when the admitted connection
	// ends, or a non-empty refusal reason, in which case the connection
	// is closed with H3_EXCESSIVE_LOAD and the reason (which the client
	// sees). nil admits all.
	admit func(remote net.Addr) (release func(), reason string)

	// connOpened and connClosed are called when an admitted connection
	// starts and stops being served.
	connOpened, connClosed func()
}

// h3Stats are an h3Server's cumulative counters, for metrics.
type h3Stats struct {
	Refused   uint64 // connections refused by admit
	Retries   uint64 // Retries demanded: one per tokenless Initial packet while address validation is required (a large ClientHello spans two)
	EarlyData uint64 // safe requests served from 0-RTT data, with Early-Data: 1
	TooEarly  uint64 // unsafe requests in 0-RTT data answered 425
}

// h3Counters back h3Stats; they are updated from many goroutines.
type h3Counters struct{ refused, retries, earlyData, tooEarly atomic.Uint64 }

// h3Server serves an http.Handler over HTTP/3 on one UDP socket. It
// owns the quic-go Transport built over that socket so that it decides
// address validation (Retry) and connection admission itself.
//
// Serve, Shutdown, AltSvc, OpenConns and Stats may be called from any
// goroutine, concurrently.
type h3Server struct {
	cfg     HTTP3Config
	tlsConf *tls.Config
	h3      *http3.Server
	hooks   h3Hooks
	log     *slog.Logger

	// bufferSizes reports the socket's receive and send buffer sizes as
	// the kernel states them; a test replaces it.
	bufferSizes func(net.PacketConn) (recv, send int, err error)

	quit chan struct{} // closed when Shutdown starts

	mu       sync.Mutex
	closing  bool                // Shutdown was called
	pc       net.PacketConn      // set by Serve
	tr       *quic.Transport     // set by Serve
	ln       *quic.EarlyListener // set by Serve
	accepted chan struct{}       // set by Serve, closed when its accept loop ends
	shutdown chan struct{}       // closed when Shutdown's work is done

	altSvc     atomic.Pointer[string]
	open       atomic.Int64 // admitted connections being served
	handshakes atomic.Int64 // handshakes in flight
	stats      h3Counters
	conns      sync.WaitGroup // one per accepted connection (plus watchers)
}

// newH3Server returns a server for h. tlsConf is the listener's shared
// TLS config: it is cloned with ALPN "h3" (http3.ConfigureTLSConfig),
// which keeps its GetCertificate and GetConfigForClient, so certificate
// reloads apply to new QUIC handshakes too. log may be nil.
func newH3Server(cfg HTTP3Config, tlsConf *tls.Config, h http.Handler, hooks h3Hooks, log *slog.Logger) (*h3Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if tlsConf == nil {
		return nil, errors.New("edge: http3 needs a tls config")
	}
	if h == nil {
		return nil, errors.New("edge: http3 needs a handler")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &h3Server{
		cfg:         cfg,
		tlsConf:     http3.ConfigureTLSConfig(tlsConf),
		hooks:       hooks,
		log:         log,
		bufferSizes: h3SocketBuffers,
		quit:        make(chan struct{}),
		shutdown:    make(chan struct{}),
	}
	s.h3 = &http3.Server{
		Handler:        &h3EarlyDataGuard{next: h, stats: &s.stats},
		MaxHeaderBytes: cfg.MaxHeaderBytes,
		ConnContext:    h3WithConn,
		Logger:         log,
	}
	return s, nil
}

// Serve accepts QUIC connections on pc and serves HTTP/3 on them until
// Shutdown. It blocks, and returns nil after Shutdown (at once if
// Shutdown came first). The server owns pc from then on: Shutdown
// closes it (Serve does if it fails to start). Serve may be called once.
func (s *h3Server) Serve(pc net.PacketConn) error {
	ln, err := s.listen(pc)
	if ln == nil || err != nil {
		return err
	}
	defer close(s.accepted)
	s.checkBuffers(pc)
	for {
		conn, err := ln.Accept(context.Background())
		if err != nil {
			if s.isClosing() {
				return nil
			}
			return fmt.Errorf("accept quic connection: %w", err)
		}
		s.conns.Add(1)
		go s.serveConn(conn)
	}
}

// listen builds the Transport and the listener on pc. It returns a nil
// listener and nil error if Shutdown already happened.
func (s *h3Server) listen(pc net.PacketConn) (*quic.EarlyListener, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		_ = pc.Close()
		return nil, nil
	}
	if s.pc != nil {
		return nil, errors.New("edge: http3 server is already serving")
	}
	tr := &quic.Transport{
		Conn:                pc,
		VerifySourceAddress: s.verifySourceAddress,
		ConnContext:         s.connContext,
	}
	ln, err := tr.ListenEarly(s.tlsConf, s.cfg.quicConfig())
	if err != nil {
		_ = tr.Close()
		_ = pc.Close()
		return nil, fmt.Errorf("listen for quic on %s: %w", pc.LocalAddr(), err)
	}
	s.pc, s.tr, s.ln, s.accepted = pc, tr, ln, make(chan struct{})
	if alt := h3AltSvc(pc.LocalAddr(), s.cfg.AltSvcMaxAge); alt != "" {
		s.altSvc.Store(&alt)
	}
	return ln, nil
}

func (s *h3Server) isClosing() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// h3AltSvc is the Alt-Svc value advertising HTTP/3 on addr's port, or ""
// if addr has no port.
func h3AltSvc(addr net.Addr, maxAge time.Duration) string {
	var port int
	if u, ok := addr.(*net.UDPAddr); ok {
		port = u.Port
	} else if _, p, err := net.SplitHostPort(addr.String()); err == nil {
		port, _ = strconv.Atoi(p)
	}
	if port <= 0 {
		return ""
	}
	return fmt.Sprintf(`h3=":%d"; ma=%d`, port, int64(maxAge/time.Second))
}

// AltSvc returns the Alt-Svc header value that advertises this server,
// e.g. `h3=":8443"; ma=86400`, while it serves; "" before Serve and from
// Shutdown on. It is cheap enough to call on every response.
func (s *h3Server) AltSvc() string {
	if p := s.altSvc.Load(); p != nil {
		return *p
	}
	return ""
}

// OpenConns returns how many admitted connections are being served.
func (s *h3Server) OpenConns() int64 { return s.open.Load() }

// Stats returns the server's counters so far.
func (s *h3Server) Stats() h3Stats {
	return h3Stats{
		Refused:   s.stats.refused.Load(),
		Retries:   s.stats.retries.Load(),
		EarlyData: s.stats.earlyData.Load(),
		TooEarly:  s.stats.tooEarly.Load(),
	}
}

// Shutdown stops accepting connections, sends GOAWAY on every open one,
// and waits until their clients have closed them after their in-flight
// requests (RFC 9114 §5.2: clients close once their requests are done)
// or ctx ends; then it closes the remaining connections with
// H3_NO_ERROR, which cancels their requests' contexts, waits for their
// handlers to return, and returns ctx's error. It closes the socket
// given to Serve and returns when every goroutine of the server has
// ended. It is idempotent: later calls wait for the first one (or their
// own ctx). Shutdown before Serve makes Serve return nil.
func (s *h3Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		select {
		case <-s.shutdown:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.closing = true
	close(s.quit)
	pc, tr, ln, accepted := s.pc, s.tr, s.ln, s.accepted
	s.mu.Unlock()
	defer close(s.shutdown)
	s.altSvc.Store(nil)
	if ln == nil {
		return s.h3.Close() // marks it closed; it served nothing
	}

	_ = ln.Close() // handshakes in flight are refused
	// Accept hands out the connections still queued, then fails;
	// serveConn closes those unserved, as closing is set.
	<-accepted // no conns.Add after this, so conns.Wait is sound
	err := s.h3.Shutdown(ctx)
	s.conns.Wait()
	_ = tr.Close()
	if cerr := pc.Close(); cerr != nil && err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = fmt.Errorf("close udp socket: %w", cerr)
	}
	return err
}

// serveConn admits conn and serves HTTP/3 on it until it ends.
func (s *h3Server) serveConn(conn *quic.Conn) {
	defer s.conns.Done()
	// Always end with a CONNECTION_CLOSE: ServeQUICConn may return
	// without closing (server already closed); closing twice is a no-op.
	defer conn.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "")

	if !s.awaitHandshake(conn) || s.isClosing() {
		return
	}
	release, ok := s.admit(conn)
	if !ok {
		return
	}
	s.open.Add(1)
	if s.hooks.connOpened != nil {
		s.hooks.connOpened()
	}
	defer func() {
		release()
		s.open.Add(-1)
		if s.hooks.connClosed != nil {
			s.hooks.connClosed()
		}
	}()
	if err := s.h3.ServeQUICConn(conn); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Debug("http3 connection ended", "remote", conn.RemoteAddr().String(), "error", err)
	}
}

// admit asks hooks.admit about conn. If refused it closes conn with
// H3_EXCESSIVE_LOAD and returns false; otherwise it returns the release
// func to call when conn ends (never nil).
func (s *h3Server) admit(conn *quic.Conn) (release func(), ok bool) {
	if s.hooks.admit == nil {
		return func() {}, true
	}
	release, reason := s.hooks.admit(conn.RemoteAddr())
	if reason != "" {
		s.stats.refused.Add(1)
		s.log.Debug("http3 connection refused", "remote", conn.RemoteAddr().String(), "reason", reason)
		_ = conn.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeExcessiveLoad), reason)
		return nil, false
	}
	if release == nil {
		release = func() {}
	}
	return release, true
}
