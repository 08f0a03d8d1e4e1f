package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// admission counts the client connections of one Server, in all and per
// client address, against Limits.MaxConns and MaxConnsPerIP. Its methods
// may be called from many goroutines at once.
type admission struct {
	maxConns, maxPerIP int // <= 0: unlimited

	mu    sync.Mutex
	conns int
	perIP map[netip.Addr]int // by clientKey
}

// admit takes a connection slot for a client at remote, for TCP and QUIC
// alike. It returns release, to call when the connection ends (more than
// once is harmless), and reason ""; or no release and the reason for the
// refusal, "max_conns" or "max_conns_per_ip", which it counts in
// connections_refused_total. The caller closes a refused connection.
func (s *Server) admit(remote net.Addr) (release func(), reason string) {
	a := &s.admission
	key := clientKey(remote)
	a.mu.Lock()
	switch {
	case a.maxConns > 0 && a.conns >= a.maxConns:
		reason = refusedMaxConns
	case a.maxPerIP > 0 && a.perIP[key] >= a.maxPerIP:
		reason = refusedMaxConnsPerIP
	default:
		a.conns++
		a.perIP[key]++
	}
	a.mu.Unlock()
	if reason != "" {
		s.metrics.connRefused(reason)
		return nil, reason
	}
	var released atomic.Bool
	return func() {
		if !released.CompareAndSwap(false, true) {
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		a.conns--
		if a.perIP[key]--; a.perIP[key] <= 0 {
			delete(a.perIP, key)
		}
	}, ""
}

// clientKey is what MaxConnsPerIP counts by: the IPv4 address, or the
// /64 of an IPv6 one (a single client usually holds a whole /64, and
// could otherwise take a new address per connection). Addresses that are
// not IP share the zero key.
func clientKey(a net.Addr) netip.Addr {
	ip, ok := addrIP(a)
	if !ok {
		return netip.Addr{}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// trackedConn is an admitted TCP connection (under the *tls.Conn, if
// TLS). Its Close releases the admission slot and ends the connection's
// metrics, once. It carries the per-connection state of the request
// guards. Its methods may be called from many goroutines at once.
type trackedConn struct {
	net.Conn
	release func()
	metrics *metrics

	closeOnce sync.Once
	settled   atomic.Bool // the protocol is known and counted in connections_total
	mu        sync.Mutex
	proto     string // counted as open under this label; "" before opened or after close
	closed    bool

	resets resetWindow

	// Rejections by net/http (rejected.go): waiting is set between
	// requests, until a handler runs; writesWaiting and statusWaiting
	// describe what was written in that time.
	waiting       atomic.Bool
	h2            atomic.Bool // the connection speaks HTTP/2 (proto is cleared at close)
	writesWaiting atomic.Int32
	statusWaiting atomic.Int32
}

// Write writes to the connection, noting what net/http writes with no
// handler running (see rejected.go).
func (c *trackedConn) Write(b []byte) (int, error) {
	if c.waiting.Load() {
		c.noteWrite(b)
	}
	return c.Conn.Write(b)
}

// Close closes the connection and, the first time, releases its slot.
func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(c.ended)
	return err
}

// CloseWrite half-closes the connection when the underlying one can:
// net/http does so before closing a connection whose client may still be
// sending, so that the client reads the answer instead of a reset.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom lets net/http use the underlying connection's ReadFrom
// (sendfile, splice) for cleartext responses.
func (c *trackedConn) ReadFrom(r io.Reader) (int64, error) {
	if c.waiting.Load() {
		// Never with net/http (it writes error responses with Write),
		// but then a write is a write.
		c.writesWaiting.Add(1)
	}
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

func (c *trackedConn) ended() {
	c.release()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.proto == "" {
		return
	}
	if !c.settled.Load() {
		c.metrics.connSettled(c.proto)
	}
	c.metrics.connClosed(c.proto)
	c.proto = ""
}

// opened counts the connection as open under proto; settled says whether
// proto is final (see metrics about h2c).
func (c *trackedConn) opened(proto string, settled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.proto = proto
	c.h2.Store(proto == protoH2)
	c.settled.Store(settled)
	if settled {
		c.metrics.connOpened(proto)
	} else {
		c.metrics.connOpenedUnsettled(proto)
	}
}

// requestSeen settles the connection's protocol from its first request.
func (c *trackedConn) requestSeen(protoMajor int) {
	if c.settled.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.settled.Load() {
		return
	}
	proto := protoH1
	if protoMajor == 2 {
		proto = protoH2
	}
	c.metrics.connMoved(c.proto, proto)
	c.metrics.connSettled(proto)
	c.proto = proto
	c.h2.Store(proto == protoH2)
	c.settled.Store(true)
}

// trackedOf returns the trackedConn under c, a connection Serve accepted.
func trackedOf(c net.Conn) *trackedConn {
	switch c := c.(type) {
	case *trackedConn:
		return c
	case *tls.Conn:
		tc, _ := c.NetConn().(*trackedConn)
		return tc
	}
	return nil
}

// listener wraps a Serve listener: it admits connections against the
// limits and, for TLS, completes each handshake on its own goroutine
// before handing the *tls.Conn to http.Server, which then sees ALPN and
// speaks HTTP/2 or HTTP/1.1. Accept is called by http.Server's loop only;
// Close may be called at any time and waits for the goroutines.
type listener struct {
	net.Listener
	s       *Server
	tlsConf *tls.Config // nil: cleartext

	ready     chan acceptResult // TLS: handshaken connections
	ctx       context.Context   // cancelled by Close: aborts handshakes
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

type acceptResult struct {
	conn net.Conn
	err  error
}

func (s *Server) newListener(ln net.Listener, tlsConf *tls.Config) *listener {
	l := &listener{Listener: ln, s: s, tlsConf: tlsConf, ready: make(chan acceptResult)}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	if l.tlsConf != nil {
		l.wg.Add(1)
		go l.acceptTLS()
	}
	return l
}

// Accept returns the next admitted (and, for TLS, handshaken) connection.
func (l *listener) Accept() (net.Conn, error) {
	if l.tlsConf != nil {
		select {
		case r := <-l.ready:
			return r.conn, r.err
		case <-l.ctx.Done():
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
		}
	}
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tc := l.admitConn(c); tc != nil {
			tc.opened(protoH1, !l.s.h2c)
			return tc, nil
		}
	}
}

// admitConn wraps c in a trackedConn, or closes it and returns nil when
// a limit refuses it.
func (l *listener) admitConn(c net.Conn) *trackedConn {
	release, reason := l.s.admit(c.RemoteAddr())
	if reason != "" {
		_ = c.Close()
		return nil
	}
	return &trackedConn{Conn: c, release: release, metrics: l.s.metrics}
}

// acceptTLS is the TLS accept loop: it admits connections and starts a
// handshake goroutine for each. Accept errors are passed on to
// http.Server, which retries temporary ones and closes the listener on
// the others.
func (l *listener) acceptTLS() {
	defer l.wg.Done()
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case l.ready <- acceptResult{err: err}:
			case <-l.ctx.Done():
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if tc := l.admitConn(c); tc != nil {
			l.wg.Add(1)
			go l.handshake(tc)
		}
	}
}

// handshake runs the TLS handshake of tc within TLSHandshakeTimeout and
// queues the connection for Accept, or counts why it failed and closes it.
func (l *listener) handshake(tc *trackedConn) {
	defer l.wg.Done()
	conn := tls.Server(tc, l.tlsConf)
	ctx, cancel := context.WithTimeout(l.ctx, l.s.limits.TLSHandshakeTimeout)
	err := conn.HandshakeContext(ctx)
	cancel()
	if err != nil {
		if l.ctx.Err() == nil { // not our own Close
			reason := handshakeFailure(err)
			l.s.metrics.handshakeError(reason)
			l.s.errorLog.Debug("tls handshake failed", "remote", tc.RemoteAddr().String(), "reason", reason, "err", err)
			if reason == hsNotTLS {
				answerPlaintext(err)
			}
		}
		_ = conn.Close()
		return
	}
	proto := protoH1
	if conn.ConnectionState().NegotiatedProtocol == "h2" {
		proto = protoH2
	}
	tc.opened(proto, true)
	select {
	case l.ready <- acceptResult{conn: conn}:
	case <-l.ctx.Done():
		_ = conn.Close()
	}
}

// Close stops accepting, aborts the handshakes in progress and waits for
// the listener's goroutines. It is idempotent.
func (l *listener) Close() error {
	l.closeOnce.Do(func() {
		l.cancel()
		l.closeErr = l.Listener.Close()
		l.wg.Wait()
	})
	return l.closeErr
}

// handshakeFailure maps a handshake error to its metric reason.
func handshakeFailure(err error) string {
	var rhe tls.RecordHeaderError
	var op *net.OpError
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return hsTimeout
	case errors.As(err, &rhe):
		return hsNotTLS
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return hsEOF
	case errors.As(err, &op) && op.Op == "remote error":
		// The client's alert, e.g. "tls: bad certificate" or "tls:
		// unknown certificate authority" when it does not trust us.
		switch a := op.Err.Error(); {
		case strings.Contains(a, "certificate"):
			return hsBadCertificate
		case strings.Contains(a, "protocol version"):
			return hsProtocolVersion
		}
		return hsClientAlert
	}
	// Failures crypto/tls detects itself carry no type; their texts are
	// stable ("tls: client offered only unsupported versions", "tls: no
	// cipher suite supported by both client and server", "tls: no ECDHE
	// curve supported by both client and server").
	switch msg := err.Error(); {
	case strings.Contains(msg, "unsupported versions"), strings.Contains(msg, "protocol version"):
		return hsProtocolVersion
	case strings.Contains(msg, "no cipher suite"), strings.Contains(msg, "curve supported"):
		return hsNoSharedCipher
	}
	return hsOther
}

// answerPlaintext answers a client that sent plain HTTP to the TLS port
// with a 400 that says so, as net/http does, when the bytes read look
// like a request.
func answerPlaintext(err error) {
	var rhe tls.RecordHeaderError
	if !errors.As(err, &rhe) || rhe.Conn == nil {
		return
	}
	switch string(rhe.RecordHeader[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		_ = rhe.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(rhe.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
	}
}
