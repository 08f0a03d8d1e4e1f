package edge

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// Reasons net/http refused an HTTP/1 request before any handler ran
// (rejected_requests_total{reason}), read from the status line it wrote.
// Over TLS the edge sees only ciphertext: such refusals count as
// rejectUnknown.
const (
	rejectBadRequest      = "bad_request"                   // 400: bad request line, header, Host, Content-Length ...
	rejectHeadersTooLarge = "headers_too_large"             // 431: over MaxHeaderBytes
	rejectTransferCoding  = "unsupported_transfer_encoding" // 501: a transfer coding other than one "chunked"
	rejectExpectation     = "expectation_failed"            // 417: an Expect other than 100-continue
	rejectVersion         = "http_version"                  // 505: an HTTP version other than 1.0 and 1.1
	rejectOther           = "other"                         // any other 4xx or 5xx
	rejectUnknown         = "unknown"                       // over TLS
)

var rejectReasons = []string{rejectBadRequest, rejectHeadersTooLarge, rejectTransferCoding,
	rejectExpectation, rejectVersion, rejectOther, rejectUnknown}

// rejectLogEvery is how often a refused request may be logged: the rest
// are counted in the next line's "suppressed".
const rejectLogEvery = 10 * time.Second

// How net/http refuses a request: after StateNew or StateIdle (the
// previous response is out) it reads a head, writes its error response
// straight to the connection with no handler involved, and closes. When
// the client merely left (EOF before any byte of a request) or was too
// slow (ReadHeaderTimeout), it closes without a word. A trackedConn
// therefore notes, from each StateNew or StateIdle until the next handler
// starts, what was written to it: on a cleartext connection the status
// line, on TLS only the number of writes (an error response, then the
// close_notify alert every server-side close sends; a silent close sends
// the alert only). A close with a 4xx/5xx status line, or over TLS two
// writes, in that window counts as a rejection, unless the server is
// shutting down. A request cut off mid-head counts too: net/http answers
// it 400 (the client is usually gone by then).

// awaitRequest marks c as between requests: no handler has run since.
func (c *trackedConn) awaitRequest() {
	c.writesWaiting.Store(0)
	c.statusWaiting.Store(0)
	c.waiting.Store(true)
}

// handlerRan marks the request being read as one a handler serves.
func (c *trackedConn) handlerRan() {
	if c.waiting.Load() {
		c.waiting.Store(false)
	}
}

// noteWrite records a write made while no handler ran: its status code,
// if b starts an HTTP/1 status line.
func (c *trackedConn) noteWrite(b []byte) {
	if c.writesWaiting.Add(1) == 1 && len(b) >= 12 && string(b[:7]) == "HTTP/1." && b[8] == ' ' {
		code := 0
		for _, d := range b[9:12] {
			if d < '0' || d > '9' {
				return
			}
			code = code*10 + int(d-'0')
		}
		c.statusWaiting.Store(int32(code))
	}
}

// rejection returns why net/http refused a request on c, which just
// closed, or "" if it did not.
func (c *trackedConn) rejection(overTLS bool) string {
	if !c.waiting.Load() {
		return ""
	}
	if c.h2.Load() {
		return ""
	}
	if overTLS {
		if c.writesWaiting.Load() >= 2 {
			return rejectUnknown
		}
		return ""
	}
	switch code := c.statusWaiting.Load(); {
	case code == http.StatusBadRequest:
		return rejectBadRequest
	case code == http.StatusRequestHeaderFieldsTooLarge:
		return rejectHeadersTooLarge
	case code == http.StatusNotImplemented:
		return rejectTransferCoding
	case code == http.StatusExpectationFailed:
		return rejectExpectation
	case code == http.StatusHTTPVersionNotSupported:
		return rejectVersion
	case code >= 400 && code <= 599:
		return rejectOther
	}
	return ""
}

// requestStates feeds ConnState changes of net/http into the rejection
// tracking of c's trackedConn, and counts and logs a rejection when the
// connection closes.
func (s *Server) requestStates(c net.Conn, state http.ConnState) {
	tc := trackedOf(c)
	if tc == nil || tc.h2.Load() {
		return // HTTP/2 refuses per stream, not by closing
	}
	switch state {
	case http.StateNew, http.StateIdle:
		tc.awaitRequest()
	case http.StateClosed:
		_, overTLS := c.(*tls.Conn)
		reason := tc.rejection(overTLS)
		if reason == "" || s.shuttingDown() {
			return
		}
		s.rejectLog.note(s, reason, c.RemoteAddr())
		s.metrics.rejected(reason) // after the log line: tests wait on the count
	}
}

func (s *Server) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

// rejectLog rate-limits the warnings about refused requests to one per
// rejectLogEvery.
type rejectLog struct {
	mu         sync.Mutex
	last       time.Time // of the last line; zero before the first
	suppressed int       // refusals not logged since
}

func (l *rejectLog) note(s *Server, reason string, remote net.Addr) {
	now := s.now()
	l.mu.Lock()
	if !l.last.IsZero() && now.Sub(l.last) < rejectLogEvery {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	addr := ""
	if remote != nil {
		addr = remote.String()
	}
	s.log.Warn("HTTP/1 request refused before routing: malformed, or over a protocol limit",
		"reason", reason, "remote", addr, "suppressed", suppressed,
		"metric", "portico_edge_rejected_requests_total")
}
