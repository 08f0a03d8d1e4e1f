package edge

import (
	"net/http"
	"sync"
	"time"
)

// The rapid reset guard (CVE-2023-44487).
//
// What net/http's bundled HTTP/2 server (h2_bundle.go) already does: it
// runs at most MaxConcurrentStreams handlers per connection at once, and
// queues the handlers of further streams; when that queue grows past four
// times the stream limit (streams opened and reset faster than handlers
// finish), it closes the connection with ENHANCE_YOUR_CALM
// ("too_many_early_resets"). That bounds memory and goroutines, but not
// work: a client that opens a stream and resets it at once, over and
// over, still starts a handler for each (which, in a gateway, starts an
// upstream request) and never holds a slot for long.
//
// The guard adds the missing bound on work: each connection counts the
// streams its client cancelled while their handler was running, and a
// connection that cancels more than HTTP2Config.MaxResetsPerSecond in one
// second is closed (rapid_reset_closes_total).

// resetWindow counts one connection's client-cancelled streams in fixed
// one-second windows. Its methods may be called from many goroutines at
// once.
type resetWindow struct {
	mu      sync.Mutex
	start   time.Time
	count   int
	tripped bool
}

// add counts one cancelled stream at now and reports whether the count
// in the current window went over max for the first time on this
// connection.
func (w *resetWindow) add(now time.Time, max int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.tripped {
		return false
	}
	if now.Sub(w.start) >= time.Second || now.Before(w.start) {
		w.start, w.count = now, 0
	}
	w.count++
	if w.count > max {
		w.tripped = true
		return true
	}
	return false
}

// checkReset runs after the handler of an HTTP/2 request: if the client
// cancelled the stream while the handler ran, it counts the reset and
// closes the connection when the guard trips. A request context also
// ends when the whole connection goes; those streams count too, which
// the default limit (twice the stream limit) absorbs, and a connection
// already closed is not counted again in the metric.
func (s *Server) checkReset(r *http.Request, tc *trackedConn) {
	if r.Context().Err() == nil || s.base.Err() != nil {
		return // finished normally, or cancelled by our own Shutdown
	}
	if !tc.resets.add(s.now(), s.maxResets) {
		return
	}
	tc.mu.Lock()
	closed := tc.closed
	tc.mu.Unlock()
	if closed {
		return
	}
	s.metrics.rapidResetCloses.Inc()
	s.errorLog.Debug("closing http2 connection: too many streams reset by the client",
		"remote", tc.RemoteAddr().String(), "max_per_second", s.maxResets)
	_ = tc.Close()
}
