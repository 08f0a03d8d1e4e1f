package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// QUIC settings of protocol h3.
const (
	// h3IdleTimeout closes a QUIC connection that received nothing this
	// long; the peer's shorter idle timeout wins (quic-go's server: 30s).
	h3IdleTimeout = idleConnTimeout
	// h3KeepAlive is how often an idle connection PINGs its target, so
	// that a pooled connection survives quiet periods instead of costing
	// a new handshake. quic-go caps it at half the negotiated idle
	// timeout (15s against a 30s peer).
	h3KeepAlive = 30 * time.Second
)

// errH3Closed refuses a dial once the upstream has closed its socket.
var errH3Closed = errors.New("proxy: upstream closed")

// h3Transport speaks HTTP/3 to the targets of one upstream. It pools one
// QUIC connection per target (http3.Transport, keyed by host:port), all on
// one UDP socket, opened at the first dial. Handshakes use the connect
// timeout and never 0-RTT (early data could be replayed, and proxied
// requests need not be idempotent). Request bodies stream.
//
// One connection carries every request to its target, so the upstream's
// max_idle_conns_per_target and max_conns_per_target do not apply; past
// the target's stream limit (quic-go's server: 100), requests wait for a
// stream.
//
// close shuts the socket once no try is in flight (begin and end count
// them): a closed upstream lets its requests finish. It is safe for
// concurrent use.
type h3Transport struct {
	rt      *http3.Transport
	connect time.Duration // the upstream's; a route's comes in the context

	active  atomic.Int64 // tries in flight (begin/end)
	closing atomic.Bool  // close was called: shut when active drops to 0
	once    sync.Once

	mu     sync.Mutex
	udp    *net.UDPConn    // nil until the first dial
	qt     *quic.Transport // on udp
	closed bool
}

func newH3Transport(connect time.Duration, tlsConfig *tls.Config) *h3Transport {
	q := &h3Transport{connect: connect}
	q.rt = &http3.Transport{
		// Cloned again per connection, with the target's host as
		// ServerName unless this names one, and ALPN h3.
		TLSClientConfig: tlsConfig.Clone(),
		QUICConfig: &quic.Config{
			MaxIdleTimeout:     h3IdleTimeout,
			KeepAlivePeriod:    h3KeepAlive,
			MaxIncomingStreams: -1, // a server opens no request streams
		},
		Dial:               q.dial,
		DisableCompression: true,
	}
	return q
}

// RoundTrip sends req over the target's QUIC connection, dialling it
// first if needed. Errors are classified as the TCP transports' are:
// connectError when nothing reached the target, resetError when the
// target closed the connection before answering.
func (q *h3Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := q.rt.RoundTrip(req)
	if err != nil {
		return nil, classifyH3(req.URL.Host, err)
	}
	return resp, nil
}

// classifyH3 maps quic-go's failures of a request on addr to this
// package's kinds.
func classifyH3(addr string, err error) error {
	var ce *connectError
	if errors.As(err, &ce) {
		return err // from dial
	}
	if errors.Is(err, http3.ErrTransportClosed) || errors.Is(err, errH3Closed) {
		return &connectError{addr: addr, err: err}
	}
	var app *quic.ApplicationError
	var reset *quic.StatelessResetError
	var h3err *http3.Error
	if (errors.As(err, &app) && app.Remote) || errors.As(err, &reset) ||
		(errors.As(err, &h3err) && h3err.ErrorCode == http3.ErrCodeRequestRejected) {
		return &resetError{err: err}
	}
	return err
}

// dial opens a QUIC connection to addr for http3.Transport, within the
// connect timeout (the route's from ctx, else the upstream's). ctx is not
// the request's: http3.Transport shares a dial among the requests waiting
// for it, so a request that goes away does not cancel it. Its errors are
// connectErrors, timeouts also matching ErrTimeout.
func (q *h3Transport) dial(ctx context.Context, addr string, tlsConf *tls.Config, conf *quic.Config) (*quic.Conn, error) {
	timeout := connectTimeout(ctx, q.connect)
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := q.handshake(dctx, addr, tlsConf, conf, timeout)
	if err != nil {
		return nil, connectFailed(ctx, dctx, addr, timeout, err)
	}
	return conn, nil
}

func (q *h3Transport) handshake(ctx context.Context, addr string, tlsConf *tls.Config, conf *quic.Config,
	timeout time.Duration) (*quic.Conn, error) {
	qt, err := q.socket()
	if err != nil {
		return nil, err
	}
	to, err := resolveUDP(ctx, addr)
	if err != nil {
		return nil, err
	}
	// quic-go's own handshake timer must not cut the connect timeout
	// short (its default is 5s).
	conf = conf.Clone()
	conf.HandshakeIdleTimeout = timeout
	return qt.Dial(ctx, to, tlsConf, conf)
}

// socket returns the QUIC transport, opening its UDP socket (any port,
// both address families) on first use.
func (q *h3Transport) socket() (*quic.Transport, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, errH3Closed
	}
	if q.qt == nil {
		udp, err := net.ListenUDP("udp", nil)
		if err != nil {
			return nil, fmt.Errorf("opening a udp socket: %w", err)
		}
		q.udp, q.qt = udp, &quic.Transport{Conn: udp}
	}
	return q.qt, nil
}

// resolveUDP resolves host:port to the first address the resolver
// prefers.
func resolveUDP(ctx context.Context, addr string) (*net.UDPAddr, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return net.UDPAddrFromAddrPort(ap), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	p, err := net.DefaultResolver.LookupPort(ctx, "udp", port)
	if err != nil {
		return nil, fmt.Errorf("resolving port %q: %w", port, err)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolving %s: no address", host)
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(ips[0].Unmap(), uint16(p))), nil
}

// begin counts a try in flight; end, its end (response body closed).
func (q *h3Transport) begin() { q.active.Add(1) }

func (q *h3Transport) end() {
	// Paired with close: whichever of the two sees the other's write
	// shuts (both may; shut runs once).
	if q.active.Add(-1) == 0 && q.closing.Load() {
		q.shut()
	}
}

// close closes the connections and the socket once the tries in flight
// have ended (http3.Transport's CloseIdleConnections would also close a
// connection whose response body is still streaming). It is idempotent.
func (q *h3Transport) close() {
	q.closing.Store(true)
	if q.active.Load() == 0 {
		q.shut()
	}
}

// shut closes every QUIC connection and the UDP socket; a try that
// starts afterwards fails as a connect error.
func (q *h3Transport) shut() {
	q.once.Do(func() {
		// First, so that a dial in progress is cancelled and waited for;
		// it may not hold q.mu meanwhile.
		_ = q.rt.Close()
		q.mu.Lock()
		defer q.mu.Unlock()
		q.closed = true
		if q.qt != nil {
			_ = q.qt.Close()
			_ = q.udp.Close()
		}
	})
}
