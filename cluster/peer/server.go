package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Defaults applied by NewServer to zero (or negative) ServerConfig fields.
const (
	DefaultMaxRequestBytes   = 8 << 20
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
)

// ServerConfig configures a Server. Zero or negative fields take their
// defaults.
type ServerConfig struct {
	// Handler answers every authenticated request; PeerName tells it who
	// is calling. (Optional) If nil, every request gets 404.
	Handler http.Handler
	// MaxRequestBytes caps a request body. A declared Content-Length above
	// it gets 413 without reaching Handler; an undeclared length is cut
	// there, Handler's reads fail with *http.MaxBytesError and the
	// response status becomes 413. (Optional) Defaults to 8 MiB.
	MaxRequestBytes int64
	// ReadHeaderTimeout bounds the TLS handshake and, on HTTP/1.1, reading
	// a request's headers. (Optional) Defaults to 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a connection that has carried no request for
	// this long. It is above the transport's idle timeout (90s) so that
	// the client, not the server, closes idle connections: a server-side
	// close can race a request being sent. (Optional) Defaults to 120s.
	IdleTimeout time.Duration
	// Logger receives refused handshakes (no valid cluster certificate)
	// at warn, once per remote host per RefusalLogEvery, and net/http's
	// other messages (handler panics, ...) at debug. (Optional) If nil,
	// they are dropped.
	Logger *slog.Logger
	// RefusalLogEvery: see Logger. (Optional) Defaults to 10 minutes.
	RefusalLogEvery time.Duration
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.Handler == nil {
		c.Handler = http.NotFoundHandler()
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RefusalLogEvery <= 0 {
		c.RefusalLogEvery = DefaultRefusalLogEvery
	}
	return c
}

// Server is the peer listener: mutual TLS from Credentials, HTTP/2 (and
// HTTP/1.1) over it, request bodies capped. Its methods may be called from
// many goroutines at once.
type Server struct {
	hs  *http.Server
	tls *tls.Config
}

// NewServer returns a Server for cfg that presents and checks c, which
// must not be nil. It does not serve until Serve.
func NewServer(c *Credentials, cfg ServerConfig) *Server {
	cfg = cfg.withDefaults()
	return &Server{
		tls: c.ServerTLS(),
		hs: &http.Server{
			Handler:           capRequestBody(cfg.Handler, cfg.MaxRequestBytes),
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			ErrorLog: log.New(serverErrorLog{
				refused: newRefusalLog(cfg.Logger, "peer", cfg.RefusalLogEvery),
				debug:   cfg.Logger,
			}, "", 0),
		},
	}
}

// Serve accepts connections on ln, runs the TLS handshake over each (no
// plaintext request reaches Handler) and serves them until Shutdown, then
// returns nil; any other end is returned as an error. It closes ln. Serve
// may be called for several listeners, each on its own goroutine.
func (s *Server) Serve(ln net.Listener) error {
	if ln == nil {
		return errors.New("peer: serve: nil listener")
	}
	addr := ln.Addr()
	// net/http runs the handshake on the connection's goroutine, bounded
	// by ReadHeaderTimeout, and switches to HTTP/2 when ALPN chose h2.
	err := s.hs.Serve(tls.NewListener(ln, s.tls))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("peer: serving %s: %w", addr, err)
}

// Shutdown stops accepting, sends HTTP/2 GOAWAY, closes idle connections
// and waits for in-flight requests. If ctx ends first it closes the
// remaining connections (their requests fail) and returns ctx's error.
// Shutdown is idempotent; a Server shut down before Serve makes Serve
// return nil at once.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.hs.Shutdown(ctx); err != nil {
		_ = s.hs.Close()
		return fmt.Errorf("peer: draining connections: %w", err)
	}
	return nil
}
