package proxy

import (
	"context"
	"crypto/tls"
	"errors"
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

// connectTimeoutKey is the context key under which a Handler passes its
// route's connect timeout (a *time.Duration) to the dialer, when it
// differs from the upstream's.
type connectTimeoutKey struct{}

// dialer dials targets with a connect timeout taken from the request's
// context (the route's), falling back to the upstream's. It is shared by
// every connection of one Upstream.
type dialer struct {
	net     net.Dialer
	connect time.Duration
	// dial replaces net.DialContext in tests (a dial that never answers).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// DialContext dials addr. Its errors are connectErrors (a timeout also
// matches ErrTimeout): the caller knows nothing reached the target.
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	timeout := d.connect
	if v, ok := ctx.Value(connectTimeoutKey{}).(*time.Duration); ok {
		timeout = *v
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := d.dial
	if dial == nil {
		dial = d.net.DialContext
	}
	conn, err := dial(dctx, network, addr)
	if err == nil {
		return conn, nil
	}
	if errors.Is(dctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		err = &timeoutError{what: "connecting after " + timeout.String(), err: err}
	}
	return nil, &connectError{addr: addr, err: err}
}

// transportConfig is what newTransport needs from the upstream's config.
type transportConfig struct {
	connect      time.Duration
	maxIdle      int // per target
	maxConns     int // per target; 0: no cap
	h2c          bool
	tlsConfig    *tls.Config
	forceHTTP1   bool // for upgrades to an h2c upstream
	sharedDialer *dialer
}

// newTransport builds the tuned transport of one upstream. It never uses
// environment proxies, never asks for compression (the client's
// Accept-Encoding passes through instead), and speaks HTTP/2 to https
// targets that offer it, or h2c (prior knowledge) when configured.
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
	if c.h2c && !c.forceHTTP1 {
		// net/http speaks h2c itself since Go 1.24: unencrypted HTTP/2
		// for http targets, HTTP/2 by ALPN for https ones.
		t.Protocols = new(http.Protocols)
		t.Protocols.SetUnencryptedHTTP2(true)
		t.Protocols.SetHTTP2(true)
	}
	if c.forceHTTP1 {
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return t
}
