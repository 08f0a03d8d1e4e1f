package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// ErrSlowBody is wrapped by the error a request body's Read returns when
// the client sent it slower than Limits.MinBodyRate after the grace
// period. The error also wraps os.ErrDeadlineExceeded.
var ErrSlowBody = errors.New("edge: request body arrived slower than the minimum rate")

// guardBody returns r with its body wrapped by the minimum rate guard, or
// r itself when the request is exempt: no body, a CONNECT tunnel or a
// gRPC stream (long-lived by design), or the guard is off. The wrapped
// request is a shallow copy, so that the request net/http created keeps
// its own body, which net/http inspects after the handler.
//
// When the guard trips on HTTP/1, the deadline is left expired: net/http
// then fails to drain the rest of the body before writing the response,
// marks the connection "Connection: close" and closes it after the
// response, so the unread body is never parsed as a request.
func (s *Server) guardBody(w http.ResponseWriter, r *http.Request) *http.Request {
	if s.limits.MinBodyRate <= 0 || r.Body == nil || r.Body == http.NoBody ||
		r.Method == http.MethodConnect || strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		return r
	}
	b := &minRateBody{
		body:       r.Body,
		ctl:        *http.NewResponseController(w),
		start:      s.now(),
		grace:      s.limits.MinBodyRateGrace,
		rate:       float64(s.limits.MinBodyRate),
		resolution: min(time.Second, s.limits.MinBodyRateGrace/4),
	}
	if s.readTimeout > 0 {
		b.readLimit = b.start.Add(s.readTimeout)
	}
	tripped := new(atomic.Bool)
	b.onSlow = func() {
		tripped.Store(true)
		s.metrics.slowBodyCloses.Inc()
	}
	r2 := r.WithContext(context.WithValue(r.Context(), slowBodyKey{}, tripped))
	r2.Body = b
	return r2
}

// slowBodyKey is the request context key of the flag the guard sets when
// it cuts a body.
type slowBodyKey struct{}

// BodyTooSlow reports whether the request whose context (or a context
// derived from it) is ctx had its body cut for arriving slower than
// Limits.MinBodyRate. Handlers need it because on HTTP/1 the cut also
// cancels the request's context (net/http does on any read error from
// the client), so the error they see may be a cancellation rather than
// one wrapping ErrSlowBody.
func BodyTooSlow(ctx context.Context) bool {
	f, _ := ctx.Value(slowBodyKey{}).(*atomic.Bool)
	return f != nil && f.Load()
}

// minRateBody enforces a minimum body rate with read deadlines: before
// each Read, the n+1st byte must arrive by start + grace + (n+1)/rate.
// The deadline is moved in steps of resolution (at most 1s, a quarter of
// the grace) rather than on every Read, since on HTTP/2 each move is a
// message to the connection's goroutine; so a client is cut at most
// resolution later than the exact rule would. Deadlines are set through
// http.ResponseController, which works for HTTP/1 (the connection) and
// HTTP/2 (the stream); where it is not supported the guard is silently
// off. Read must not be called concurrently with itself (io.Reader's
// contract); Close may be called at any time.
type minRateBody struct {
	body       io.ReadCloser
	ctl        http.ResponseController
	start      time.Time
	grace      time.Duration
	rate       float64 // bytes per second
	resolution time.Duration
	readLimit  time.Time // the deadline ReadTimeout sets, which ours must not pass; or zero
	onSlow     func()

	n    int64
	set  time.Time // deadline in force; zero before the first Read
	ours bool      // set is ours, not readLimit
	off  bool      // deadlines unsupported
	done bool      // the body ended (EOF or error)
}

func (b *minRateBody) Read(p []byte) (int, error) {
	if b.done || b.off {
		return b.body.Read(p)
	}
	b.extend()
	n, err := b.body.Read(p)
	b.n += int64(n)
	if err == nil {
		return n, nil
	}
	// The body is over. The deadline is left as it is: at EOF, net/http
	// (HTTP/1) clears it itself before reading ahead for the next request.
	b.done = true
	if errors.Is(err, os.ErrDeadlineExceeded) && b.ours {
		b.onSlow()
		return n, fmt.Errorf("%w (%d bytes in %v, minimum %.0f bytes/s after %v): %w",
			ErrSlowBody, b.n, b.set.Sub(b.start).Round(time.Millisecond), b.rate, b.grace, err)
	}
	return n, err
}

// extend moves the read deadline when the next byte's due time has
// passed the one in force.
func (b *minRateBody) extend() {
	if !b.set.IsZero() && !b.ours {
		return // ReadTimeout comes first and is already in force
	}
	due := b.start.Add(b.grace + time.Duration(float64(b.n+1)/b.rate*float64(time.Second)))
	if !b.set.IsZero() && !due.After(b.set) {
		return
	}
	dl, ours := due.Add(b.resolution), true
	if !b.readLimit.IsZero() && b.readLimit.Before(dl) {
		dl, ours = b.readLimit, false
	}
	if err := b.ctl.SetReadDeadline(dl); err != nil {
		b.off = true // http.ErrNotSupported: no guard for this request
		return
	}
	b.set, b.ours = dl, ours
}

func (b *minRateBody) Close() error { return b.body.Close() }
