package edge

import "net/http"

// ambiguousFraming reports whether r is an HTTP/1 request after which the
// connection must end (RFC 9112 §6.1), because a parser in front of us
// may have framed its body differently and what follows on the
// connection may be a smuggled request:
//
//   - a chunked request body. RFC 9112 asks for the close only when the
//     request also carried Content-Length, but net/http deletes that
//     Content-Length before any handler sees the request, so the edge
//     cannot tell the two apart and closes after both. Keeping HTTP/1
//     keep-alive for chunked uploads is not worth a second parser of our
//     own, which is itself how desyncs arise.
//   - any HTTP/1.0 request: net/http ignores, and deletes, a
//     Transfer-Encoding on HTTP/1.0, which the RFC says must end the
//     connection.
//
// net/http refuses the other ambiguous forms itself (400 for differing
// Content-Lengths or a space before the colon, 501 for transfer codings
// other than one "chunked") and closes the connection. HTTP/2 and
// HTTP/3 frame bodies by frames, not by these headers, and a
// Transfer-Encoding field makes the request malformed (RFC 9113 §8.2.2,
// RFC 9114 §4.2): Go's HTTP/2 server answers that stream 400 without
// calling the handler (TestFraming_HTTP2RefusesTransferEncoding),
// quic-go resets it with H3_MESSAGE_ERROR; both go on serving the
// connection's other streams, which is right. Nothing to do there.
func ambiguousFraming(r *http.Request) bool {
	if r.ProtoMajor != 1 {
		return false
	}
	return r.ProtoMinor == 0 || len(r.TransferEncoding) > 0
}

// closeAfter makes net/http end the connection once w's response is sent:
// it honours a "Connection: close" set by the handler.
func closeAfter(w http.ResponseWriter) { w.Header().Set("Connection", "close") }
