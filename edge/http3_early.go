package edge

import (
	"context"
	"net/http"

	"github.com/quic-go/quic-go"

	"github.com/portico-gw/portico/problem"
)

// How a request is known to have come in 0-RTT (quic-go v0.65).
//
// quic-go does not mark streams or requests as early: its http3 server
// hands a request to the handler as soon as the stream data is
// decrypted, 0-RTT included ("it's the client's responsibility to
// decide which requests are eligible for 0-RTT"). What the server can
// see is the handshake state of the connection:
//
//   - The server's 1-RTT read keys are installed only when the client's
//     Finished has been verified, and quic-go closes
//     Conn.HandshakeComplete() at the end of handling that same packet,
//     before it decrypts any later packet. So stream data delivered
//     while HandshakeComplete() is still open came from 0-RTT packets,
//     and Conn.ConnectionState().Used0RTT is then true (set when the
//     server installed 0-RTT read keys while processing the ClientHello).
//   - r.TLS is a snapshot taken when the request headers were parsed;
//     r.TLS.HandshakeComplete == true there proves the request is not
//     early, which spares the check below on the common path.
//
// The guard looks when it is about to pass the request on. A request
// that arrived in 0-RTT but is looked at after the handshake completed
// is treated as 1-RTT, which is what RFC 8470 §5.1 asks: the completed
// handshake proves the client holds the keys, so it is no replay (a
// replayed first flight never completes its handshake), and Early-Data
// is only for requests forwarded before completion.

// h3ConnKey is the request-context key under which h3WithConn stores
// the request's *quic.Conn.
type h3ConnKey struct{}

// h3WithConn is the http3.Server's ConnContext: it makes the QUIC
// connection reachable from its requests.
func h3WithConn(ctx context.Context, c *quic.Conn) context.Context {
	return context.WithValue(ctx, h3ConnKey{}, c)
}

// h3InEarlyData reports whether r is being handled before its
// connection's handshake has completed, i.e. it came in 0-RTT data.
func h3InEarlyData(r *http.Request) bool {
	if r.TLS != nil && r.TLS.HandshakeComplete {
		return false
	}
	conn, ok := r.Context().Value(h3ConnKey{}).(*quic.Conn)
	if !ok {
		return false
	}
	select {
	case <-conn.HandshakeComplete():
		return false
	default:
		return conn.ConnectionState().Used0RTT
	}
}

// h3SafeMethod reports whether a request with method may be served from
// 0-RTT data, which an attacker can replay: only the safe methods of
// RFC 9110 §9.2.1.
func h3SafeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// h3EarlyDataGuard passes requests to next, except that a request in
// 0-RTT data with an unsafe method is answered 425 Too Early (RFC 8470
// §5.2: the client retries it after the handshake), and a safe one is
// passed on with "Early-Data: 1" (§5.1) so that upstreams can refuse it.
type h3EarlyDataGuard struct {
	next  http.Handler
	stats *h3Counters
}

var _ http.Handler = (*h3EarlyDataGuard)(nil)

func (g *h3EarlyDataGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h3InEarlyData(r) {
		if !h3SafeMethod(r.Method) {
			g.stats.tooEarly.Add(1)
			// No request id: the edge answers before the pipeline gives one.
			problem.Write(w, problem.TooEarly, "")
			return
		}
		g.stats.earlyData.Add(1)
		r.Header.Set("Early-Data", "1")
	}
	g.next.ServeHTTP(w, r)
}
