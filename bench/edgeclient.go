package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// Protocol is how an edge client talks to a gateway over TLS.
type Protocol string

const (
	// ProtoH1 is HTTP/1.1 over TLS: one request at a time per connection.
	ProtoH1 Protocol = "h1"
	// ProtoH2 is HTTP/2 over TLS (ALPN h2): concurrent streams.
	ProtoH2 Protocol = "h2"
	// ProtoH3 is HTTP/3 over QUIC (UDP): concurrent streams.
	ProtoH3 Protocol = "h3"
)

// edgeDialer opens new client connections of one protocol to one
// address. Its zero hooks dial from this process's network namespace; the
// WAN scenario replaces them to dial through its emulated path. A dialer
// is safe for concurrent use.
type edgeDialer struct {
	proto Protocol
	addr  string      // host:port of the gateway
	tls   *tls.Config // trust and server name; cloned for every connection
	// early makes an h3 connection with DialEarly: a request sent with
	// http3.MethodGet0RTT goes out in 0-RTT when a session ticket allows.
	early bool
	// dialTCP opens the TCP connection under h1 and h2. (Optional) Defaults
	// to a net.Dialer with a 5s timeout.
	dialTCP func(ctx context.Context, network, addr string) (net.Conn, error)
	// listenUDP opens the UDP socket of one h3 connection. (Optional)
	// Defaults to an unconnected socket on an ephemeral port.
	listenUDP func() (net.PacketConn, error)
}

// edgeConn is one client connection. RoundTrip may be called by several
// goroutines at once (h2 and h3 multiplex; h1 queues them).
type edgeConn struct {
	rt interface {
		RoundTrip(*http.Request) (*http.Response, error)
	}
	// qc is the QUIC connection of an h3 connection, nil otherwise: it
	// says whether 0-RTT was used.
	qc    *quic.Conn
	close func() error
}

// used0RTT reports whether the connection's handshake used 0-RTT. It is
// only meaningful once a response has arrived.
func (c *edgeConn) used0RTT() bool {
	return c.qc != nil && c.qc.ConnectionState().Used0RTT
}

// dial opens one connection: TCP and TLS for h1 and h2 (the handshake is
// done when it returns), QUIC for h3 (with early, it returns before the
// handshake completes).
func (d *edgeDialer) dial(ctx context.Context) (*edgeConn, error) {
	if d.proto == ProtoH3 {
		return d.dialH3(ctx)
	}
	tr := &http.Transport{
		TLSClientConfig:    d.tls.Clone(),
		DialContext:        d.dialTCP,
		DisableCompression: true,
		Protocols:          new(http.Protocols),
		WriteBufferSize:    16 << 10,
		ReadBufferSize:     16 << 10,
	}
	if tr.DialContext == nil {
		tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	}
	switch d.proto {
	case ProtoH1:
		tr.Protocols.SetHTTP1(true)
	case ProtoH2:
		tr.Protocols.SetHTTP2(true)
	default:
		return nil, fmt.Errorf("unknown protocol %q", d.proto)
	}
	cc, err := tr.NewClientConn(ctx, "https", d.addr)
	if err != nil {
		return nil, fmt.Errorf("dialing %s over %s: %w", d.addr, d.proto, err)
	}
	return &edgeConn{rt: cc, close: cc.Close}, nil
}

func (d *edgeDialer) dialH3(ctx context.Context) (*edgeConn, error) {
	raddr, err := net.ResolveUDPAddr("udp", d.addr)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", d.addr, err)
	}
	listen := d.listenUDP
	if listen == nil {
		listen = func() (net.PacketConn, error) { return net.ListenUDP("udp", nil) }
	}
	pc, err := listen()
	if err != nil {
		return nil, fmt.Errorf("opening udp socket: %w", err)
	}
	// One socket per connection, as a browser has: the connections of a
	// load phase don't share one reader goroutine.
	qt := &quic.Transport{Conn: pc}
	tlsConf := d.tls.Clone()
	tlsConf.NextProtos = []string{http3.NextProtoH3}
	// A client accepts no bidirectional streams (as http3.Transport sets).
	qconf := &quic.Config{MaxIncomingStreams: -1}
	var qc *quic.Conn
	if d.early {
		qc, err = qt.DialEarly(ctx, raddr, tlsConf, qconf)
	} else {
		qc, err = qt.Dial(ctx, raddr, tlsConf, qconf)
	}
	if err != nil {
		_ = qt.Close()
		_ = pc.Close()
		return nil, fmt.Errorf("dialing %s over h3: %w", d.addr, err)
	}
	cc := (&http3.Transport{DisableCompression: true}).NewClientConn(qc)
	closeAll := func() error {
		err := qc.CloseWithError(0, "")
		// The socket first: the transport's Close then finds its reader
		// gone instead of waiting on a read deadline.
		return errors.Join(err, pc.Close(), qt.Close())
	}
	return &edgeConn{rt: cc, qc: qc, close: closeAll}, nil
}
