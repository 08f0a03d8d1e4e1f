package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

const (
	// transportBuffer sizes each connection's read and write buffers
	// (net/http's default is 4KiB): fewer syscalls for large bodies.
	transportBuffer = 32 << 10
	// idleConnTimeout closes keep-alive connections unused this long.
	idleConnTimeout = 90 * time.Second
)

// protocol is what an Upstream speaks to its targets (config:
// upstream.protocol).
type protocol uint8

const (
	protoHTTP1 protocol = iota // HTTP/1.1, or HTTP/2 when an https target offers it
	protoH2                    // HTTP/2 over TLS only, no fallback
	protoH2C                   // HTTP/2 over cleartext, prior knowledge
	protoH3                    // HTTP/3 over QUIC
)

func parseProtocol(s string) (protocol, error) {
	switch s {
	case "", "http1":
		return protoHTTP1, nil
	case "h2":
		return protoH2, nil
	case "h2c":
		return protoH2C, nil
	case "h3":
		return protoH3, nil
	}
	return 0, fmt.Errorf("unknown protocol %q: use http1, h2, h2c or h3", s)
}

// needsTLS reports whether the protocol only runs over TLS (https targets).
func (p protocol) needsTLS() bool { return p == protoH2 || p == protoH3 }

func (p protocol) String() string {
	return [...]string{"http1", "h2", "h2c", "h3"}[p]
}

// connectTimeoutKey is the context key under which a Handler passes its
// route's connect timeout (a *time.Duration) to the dialer, when it
// differs from the upstream's.
type connectTimeoutKey struct{}

// connectTimeout is the connect timeout for a dial under ctx: the route's
// when the Handler put one there, else def (the upstream's).
func connectTimeout(ctx context.Context, def time.Duration) time.Duration {
	if v, ok := ctx.Value(connectTimeoutKey{}).(*time.Duration); ok {
		return *v
	}
	return def
}

// connectFailed turns err, the failure of a connect bounded by dctx (a
// child of ctx with the connect timeout), into a connectError; a connect
// that ran out of time also matches ErrTimeout.
func connectFailed(ctx, dctx context.Context, addr string, timeout time.Duration, err error) error {
	var ne net.Error
	ours := errors.Is(dctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	if ours || (errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil) {
		err = &timeoutError{what: "connecting after " + timeout.String(), err: err}
	}
	return &connectError{addr: addr, err: err}
}

// dialer dials targets with a connect timeout taken from the request's
// context (the route's), falling back to the upstream's. It is shared by
// every connection of one Upstream and safe for concurrent use.
type dialer struct {
	net     net.Dialer
	connect time.Duration
	// h2TLS is the TLS config of protocol h2 handshakes (ALPN h2 and
	// http/1.1, so that an HTTP/1.1-only target completes the handshake
	// and says what it speaks); nil for other protocols.
	h2TLS *tls.Config
	// dial replaces net.DialContext in tests (a dial that never answers).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// DialContext dials addr. Its errors are connectErrors (a timeout also
// matches ErrTimeout): the caller knows nothing reached the target.
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	timeout := connectTimeout(ctx, d.connect)
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := d.dialTCP(dctx, network, addr)
	if err != nil {
		return nil, connectFailed(ctx, dctx, addr, timeout, err)
	}
	return conn, nil
}

func (d *dialer) dialTCP(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.dial != nil {
		return d.dial(ctx, network, addr)
	}
	return d.net.DialContext(ctx, network, addr)
}

// DialTLSH2 dials addr and completes the TLS handshake for protocol h2,
// both within one connect timeout, and refuses a target that does not
// select HTTP/2 by ALPN. Every error is a connectError: no request byte
// was sent.
func (d *dialer) DialTLSH2(ctx context.Context, network, addr string) (net.Conn, error) {
	timeout := connectTimeout(ctx, d.connect)
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := d.dialTCP(dctx, network, addr)
	if err != nil {
		return nil, connectFailed(ctx, dctx, addr, timeout, err)
	}
	tc := tls.Client(conn, tlsFor(d.h2TLS, addr))
	if err := tc.HandshakeContext(dctx); err != nil {
		conn.Close()
		return nil, connectFailed(ctx, dctx, addr, timeout, fmt.Errorf("tls handshake: %w", err))
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		tc.Close()
		return nil, &connectError{addr: addr, err: fmt.Errorf(
			"target %s did not negotiate HTTP/2 (ALPN %q): protocol h2 has no HTTP/1.1 fallback, use http1", addr, p)}
	}
	return tc, nil
}

// tlsFor clones base (nil: the system roots) for a connection to addr,
// naming addr's host as ServerName unless base names one, as net/http
// does.
func tlsFor(base *tls.Config, addr string) *tls.Config {
	var c *tls.Config
	if base != nil {
		c = base.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		c.ServerName = host
	}
	return c
}

// transportConfig is what newTransport needs from the upstream's config.
type transportConfig struct {
	connect      time.Duration
	maxIdle      int // per target
	maxConns     int // per target; 0: no cap
	protocol     protocol
	tlsConfig    *tls.Config
	forceHTTP1   bool // for upgrades to an h2, h2c or h3 upstream
	sharedDialer *dialer
}

// newTransport builds the TCP transport of one upstream. It never uses
// environment proxies, never asks for compression (the client's
// Accept-Encoding passes through instead), and speaks, by protocol:
// http1, HTTP/1.1 or HTTP/2 to https targets that offer it; h2c, HTTP/2
// with prior knowledge; h2, HTTP/2 over TLS and nothing else. forceHTTP1
// makes it speak HTTP/1.1 whatever the protocol (for upgrades).
func newTransport(c transportConfig) *http.Transport {
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           c.sharedDialer.DialContext,
		MaxIdleConnsPerHost:   c.maxIdle,
		MaxConnsPerHost:       c.maxConns,
		IdleConnTimeout:       idleConnTimeout,
		TLSHandshakeTimeout:   c.connect,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     !c.forceHTTP1,
		DisableCompression:    true,
		WriteBufferSize:       transportBuffer,
		ReadBufferSize:        transportBuffer,
	}
	if c.tlsConfig != nil {
		t.TLSClientConfig = c.tlsConfig.Clone()
	}
	switch {
	case c.forceHTTP1:
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	case c.protocol == protoH2C:
		// net/http speaks h2c itself since Go 1.24: unencrypted HTTP/2
		// for http targets, HTTP/2 by ALPN for https ones.
		t.Protocols = new(http.Protocols)
		t.Protocols.SetUnencryptedHTTP2(true)
		t.Protocols.SetHTTP2(true)
	case c.protocol == protoH2:
		// HTTP/2 only. net/http would fall back to HTTP/1.1 on a TLS
		// connection that negotiated it, so the handshake is ours, and it
		// refuses such a target.
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP2(true)
		t.DialTLSContext = c.sharedDialer.DialTLSH2
	}
	return t
}
