package edge

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultReadHeaderTimeout    = 10 * time.Second
	DefaultIdleTimeout          = 120 * time.Second
	DefaultMaxHeaderBytes       = 64 << 10
	DefaultMaxConcurrentStreams = 250
	DefaultMaxResetsPerSecond   = 500
	DefaultMaxConns             = 10000
	DefaultMaxConnsPerIP        = 256
	DefaultTLSHandshakeTimeout  = 10 * time.Second
	DefaultMinBodyRate          = 240
	DefaultMinBodyRateGrace     = 5 * time.Second
	DefaultCertWatchDebounce    = time.Second
)

// Config configures a Server. Zero fields take their defaults; negative
// durations and sizes are refused by New unless a field says otherwise.
type Config struct {
	// Handler answers every request. Required.
	Handler http.Handler

	// ReadHeaderTimeout bounds how long a client may take to send the
	// request line and headers (slowloris); a connection that is too
	// slow is closed without an answer. (Optional) Defaults to 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included.
	// (Optional) Zero means no limit: bodies are bounded per route and by
	// Limits.MinBodyRate.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response, from the end of the request
	// headers. (Optional) Zero means no limit, which streaming responses
	// need.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that waits this long for
	// its next request. (Optional) Defaults to 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request line plus headers; bigger requests
	// get 431. (Optional) Defaults to 64 KiB.
	MaxHeaderBytes int

	// TLS, if not nil, makes Serve speak TLS on its listeners, with
	// HTTP/2 or HTTP/1.1 chosen by ALPN. (Optional) If nil, Serve's
	// listeners are cleartext HTTP/1.1 (plus h2c if H2C is set), as
	// ServeCleartext's always are.
	TLS *TLSConfig
	// H2C serves HTTP/2 over cleartext with prior knowledge (RFC 9113
	// §3.3) besides HTTP/1.1 on cleartext listeners. The Upgrade: h2c
	// dance is not offered. (Optional) Defaults to off.
	H2C bool
	// HTTP2 tunes HTTP/2, over TLS and h2c alike.
	HTTP2 HTTP2Config
	// HTTP3, if not nil, enables ServeUDP: HTTP/3 over QUIC with the TLS
	// certificates (TLS is then required), advertised with Alt-Svc on the
	// responses of TLS connections.
	HTTP3 *HTTP3Config
	// Limits bounds connections and slow clients (TCP and QUIC together).
	Limits Limits

	// Registerer, if not nil, gets the Server's Prometheus collectors
	// (portico_edge_*, see metrics.go). Every Server has its own
	// collectors, so two Servers need two registries. (Optional) If nil,
	// nothing is registered.
	Registerer prometheus.Registerer
	// Logger receives warnings: certificate reloads that failed, and
	// certificates that expire within 14 days. (Optional) If nil, they
	// are discarded.
	Logger *slog.Logger
	// ErrorLog receives net/http's own error messages (handler panics,
	// misuse of the ResponseWriter) and failed TLS handshakes at debug
	// level, so that scanners and broken clients don't flood the log.
	// (Optional) If nil, they are discarded.
	ErrorLog *slog.Logger
	// ConnState, if set, is called on every client connection state
	// change, after the Server has updated OpenConns. It runs on the
	// connection's goroutine and must not block.
	ConnState func(net.Conn, http.ConnState)
	// Now tells the time for certificate validity checks and the body
	// rate clock. It must follow the wall clock closely, as the body rate
	// guard turns its readings into socket deadlines. (Optional) Defaults
	// to time.Now.
	Now func() time.Time
}

// TLSConfig sets the certificates a Server presents and the oldest TLS
// version it accepts. Cipher suites, curves and ALPN are fixed: TLS 1.3
// suites as Go chooses them, TLS 1.2 limited to ECDHE with AEAD (AES-GCM,
// ChaCha20-Poly1305), curves X25519MLKEM768, X25519 and P-256, ALPN "h2"
// then "http/1.1".
type TLSConfig struct {
	// Certificates are the certificate/key file pairs to serve, chosen
	// per handshake by SNI (see the certificate store in certs.go). The
	// first is the default, for clients that send no server name or one
	// no certificate covers. Required: at least one.
	Certificates []CertFiles
	// MinVersion is the oldest TLS version accepted: tls.VersionTLS12 or
	// tls.VersionTLS13. (Optional) Defaults to tls.VersionTLS12.
	MinVersion uint16
	// WatchDebounce is how long the certificate and key files must stay
	// unchanged after a change before they are reloaded, so that a
	// certificate and its key written one after the other are read
	// together. (Optional) Defaults to 1s. Negative turns watching off:
	// certificates then change only through Server.ReloadCertificates.
	WatchDebounce time.Duration
}

// CertFiles names a PEM certificate chain (leaf first) and the PEM
// private key of its leaf.
type CertFiles struct {
	CertFile, KeyFile string
}

// HTTP2Config tunes net/http's own HTTP/2 server.
type HTTP2Config struct {
	// MaxConcurrentStreams is how many streams a client may have open at
	// once on one connection. (Optional) Defaults to 250.
	MaxConcurrentStreams int
	// MaxResetsPerSecond closes a connection whose client cancels more
	// than this many streams (RST_STREAM before the handler finished) in
	// one second, the rapid reset attack (CVE-2023-44487). (Optional)
	// Defaults to 500: twice the default stream limit, so that a client
	// dropping every stream it may have open at once (a tab closed, a
	// connection lost) is never taken for an attacker, while an attack
	// (tens of thousands per second) is cut in milliseconds. Negative
	// turns the guard off.
	MaxResetsPerSecond int
}

// Limits bounds the connections of a Server and the pace of its clients.
type Limits struct {
	// MaxConns caps the client connections open at once (TCP connections
	// being handshaken count; QUIC connections share the budget). Extra
	// connections are closed as soon as they are accepted. (Optional)
	// Defaults to 10000; negative means unlimited.
	MaxConns int
	// MaxConnsPerIP caps the connections of one client address (an IPv6
	// client is counted by its /64). (Optional) Defaults to 256; negative
	// means unlimited.
	MaxConnsPerIP int
	// TLSHandshakeTimeout bounds a TLS handshake, from accept to its end.
	// (Optional) Defaults to 10s.
	TLSHandshakeTimeout time.Duration
	// MinBodyRate is the request body rate, in bytes per second, that a
	// client must sustain once MinBodyRateGrace has passed; a slower
	// body read fails with ErrSlowBody (and an HTTP/1 connection is
	// closed after the response). gRPC and CONNECT streams are exempt.
	// (Optional) Defaults to 240; negative turns the guard off.
	MinBodyRate int
	// MinBodyRateGrace is how long a request body may take before
	// MinBodyRate applies, counted from the start of the handler.
	// (Optional) Defaults to 5s (Kestrel's defaults, as for MinBodyRate).
	MinBodyRateGrace time.Duration
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.TLS != nil {
		t := *c.TLS
		t.Certificates = append([]CertFiles(nil), t.Certificates...)
		if t.MinVersion == 0 {
			t.MinVersion = tls.VersionTLS12
		}
		if t.WatchDebounce == 0 {
			t.WatchDebounce = DefaultCertWatchDebounce
		}
		c.TLS = &t
	}
	if c.HTTP3 != nil {
		h := c.HTTP3.withDefaults()
		c.HTTP3 = &h
	}
	c.HTTP2 = c.HTTP2.withDefaults()
	c.Limits = c.Limits.withDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ErrorLog == nil {
		c.ErrorLog = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c HTTP2Config) withDefaults() HTTP2Config {
	if c.MaxConcurrentStreams == 0 {
		c.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if c.MaxResetsPerSecond == 0 {
		c.MaxResetsPerSecond = DefaultMaxResetsPerSecond
	}
	return c
}

func (l Limits) withDefaults() Limits {
	if l.MaxConns == 0 {
		l.MaxConns = DefaultMaxConns
	}
	if l.MaxConnsPerIP == 0 {
		l.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if l.TLSHandshakeTimeout == 0 {
		l.TLSHandshakeTimeout = DefaultTLSHandshakeTimeout
	}
	if l.MinBodyRate == 0 {
		l.MinBodyRate = DefaultMinBodyRate
	}
	if l.MinBodyRateGrace == 0 {
		l.MinBodyRateGrace = DefaultMinBodyRateGrace
	}
	return l
}

// validate reports every problem of c at once.
func (c Config) validate() error {
	var errs []error
	if c.Handler == nil {
		errs = append(errs, errors.New("handler is nil: pass the http.Handler to serve"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"read header timeout", c.ReadHeaderTimeout},
		{"read timeout", c.ReadTimeout},
		{"write timeout", c.WriteTimeout},
		{"idle timeout", c.IdleTimeout},
		{"tls handshake timeout", c.Limits.TLSHandshakeTimeout},
		{"min body rate grace", c.Limits.MinBodyRateGrace},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s is %v: use 0 for the default or a positive duration", d.name, d.v))
		}
	}
	if c.MaxHeaderBytes < 0 {
		errs = append(errs, fmt.Errorf("max header bytes is %d: use 0 for the default (64 KiB) or a positive size", c.MaxHeaderBytes))
	}
	if c.HTTP2.MaxConcurrentStreams < 0 {
		errs = append(errs, fmt.Errorf("http2 max concurrent streams is %d: use 0 for the default (250) or a positive count", c.HTTP2.MaxConcurrentStreams))
	}
	if c.TLS != nil {
		errs = append(errs, c.TLS.validate())
	}
	if c.HTTP3 != nil {
		if c.TLS == nil {
			errs = append(errs, errors.New("http3 needs tls: QUIC always encrypts, so configure certificates"))
		}
		errs = append(errs, c.HTTP3.withDefaults().validate())
	}
	return errors.Join(errs...)
}

func (t *TLSConfig) validate() error {
	var errs []error
	if len(t.Certificates) == 0 {
		errs = append(errs, errors.New("tls has no certificates: give at least one certificate and key file pair"))
	}
	for i, cf := range t.Certificates {
		if cf.CertFile == "" || cf.KeyFile == "" {
			errs = append(errs, fmt.Errorf("tls certificate #%d: both the certificate file and the key file are needed (got %q and %q)", i+1, cf.CertFile, cf.KeyFile))
		}
	}
	switch t.MinVersion {
	case 0, tls.VersionTLS12, tls.VersionTLS13:
	default:
		errs = append(errs, fmt.Errorf("tls min version is %#04x: use 0 for the default (TLS 1.2), tls.VersionTLS12 or tls.VersionTLS13", t.MinVersion))
	}
	return errors.Join(errs...)
}
