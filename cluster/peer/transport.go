package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Defaults applied by NewTransport to zero (or negative) ClientConfig
// fields.
const (
	DefaultTimeout          = 5 * time.Second
	DefaultMaxResponseBytes = 64 << 20
	// idleConnTimeout is below the server's IdleTimeout (see ServerConfig).
	idleConnTimeout = 90 * time.Second
	// pingAfter sends an HTTP/2 PING on a connection that has been silent
	// this long, and pingTimeout drops it if no answer comes: a peer that
	// vanished behind NAT is noticed before a request waits on it.
	pingAfter   = 30 * time.Second
	pingTimeout = 10 * time.Second
)

// ErrResponseTooLarge is returned (wrapped) by the transport and by reads
// of a response body when a response exceeds ClientConfig.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("peer response too large")

// ClientConfig configures NewTransport. Zero or negative fields take
// their defaults.
type ClientConfig struct {
	// Timeout bounds dialling, the TLS handshake and, for a request whose
	// context has no deadline, the whole exchange up to closing the
	// response body. A context deadline, when set, wins. (Optional)
	// Defaults to 5s.
	Timeout time.Duration
	// MaxResponseBytes caps a response body: a declared Content-Length
	// above it fails the round trip, an undeclared one fails the read that
	// crosses it; both with ErrResponseTooLarge. (Optional) Defaults to
	// 64 MiB.
	MaxResponseBytes int64
	// MaxConnsPerHost caps connections to one peer. HTTP/2 multiplexes
	// requests on one connection and opens another only when the peer's
	// stream limit is reached. (Optional) Zero means no cap.
	MaxConnsPerHost int
}

func (c ClientConfig) withDefaults() ClientConfig {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.MaxConnsPerHost < 0 {
		c.MaxConnsPerHost = 0
	}
	return c
}

// pooledTransport is what transport needs of *http.Transport; tests
// substitute a recorder.
type pooledTransport interface {
	http.RoundTripper
	CloseIdleConnections()
}

// transport is the peer client: mutual TLS from Credentials, HTTP/2,
// deadlines and a response cap around an http.Transport.
type transport struct {
	base        pooledTransport
	timeout     time.Duration
	maxResponse int64
}

// NewTransport returns the RoundTripper for peer requests ("https://"
// URLs to a peer's host:port), presenting and checking c, which must not
// be nil. Connections are reused and requests multiplexed over HTTP/2;
// environment proxies are ignored and bodies are not transparently
// decompressed (what the peer sent is what the caller reads). The value
// also has CloseIdleConnections, which http.Client.CloseIdleConnections
// calls; use it on shutdown and after removing a key. It is safe for
// concurrent use.
func NewTransport(c *Credentials, cfg ClientConfig) http.RoundTripper {
	cfg = cfg.withDefaults()
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	dialer := &net.Dialer{Timeout: cfg.Timeout}
	return &transport{
		base: &http.Transport{
			DialContext:         dialer.DialContext,
			TLSClientConfig:     c.ClientTLS(),
			TLSHandshakeTimeout: cfg.Timeout,
			Protocols:           protocols,
			HTTP2:               &http.HTTP2Config{SendPingTimeout: pingAfter, PingTimeout: pingTimeout},
			MaxConnsPerHost:     cfg.MaxConnsPerHost,
			IdleConnTimeout:     idleConnTimeout,
			DisableCompression:  true,
		},
		timeout:     cfg.Timeout,
		maxResponse: cfg.MaxResponseBytes,
	}
}

// RoundTrip sends req over a peer connection. It never modifies req.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "https" {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, errors.New("peer: request URL must be https:// (peer traffic is always mutual TLS)")
	}
	cancel := context.CancelFunc(func() {})
	if _, ok := req.Context().Deadline(); !ok {
		var ctx context.Context
		ctx, cancel = context.WithTimeout(req.Context(), t.timeout)
		req = req.WithContext(ctx)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.ContentLength > t.maxResponse {
		_ = resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("peer: response from %s declares %d bytes, limit %d: %w", req.URL.Host, resp.ContentLength, t.maxResponse, ErrResponseTooLarge)
	}
	// The deadline covers reading the body too; closing the body releases
	// its timer.
	resp.Body = &limitedBody{rc: resp.Body, left: t.maxResponse, limit: t.maxResponse, cancel: cancel, host: req.URL.Host}
	return resp, nil
}

// CloseIdleConnections closes connections that carry no request.
func (t *transport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// limitedBody fails the read that takes a response past its cap and
// releases the request's deadline on Close.
type limitedBody struct {
	rc     io.ReadCloser
	left   int64 // bytes still allowed; -1 once the cap was crossed
	cancel context.CancelFunc
	host   string
	limit  int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.tooLarge()
	}
	// Read one byte beyond the cap so that a body of exactly the cap
	// succeeds and a bigger one is caught.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		n = int(b.left)
		b.left = -1
		return n, b.tooLarge()
	}
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) tooLarge() error {
	return fmt.Errorf("peer: response from %s exceeds %d bytes: %w", b.host, b.limit, ErrResponseTooLarge)
}

func (b *limitedBody) Close() error {
	err := b.rc.Close()
	b.cancel()
	return err
}

// Interface guards.
var (
	_ http.RoundTripper = (*transport)(nil)
	_ io.ReadCloser     = (*limitedBody)(nil)
)
