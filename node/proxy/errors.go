package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
)

var (
	// ErrNoHealthyTarget means every target of the upstream is unhealthy,
	// ejected, drained (weight 0) or behind an open circuit.
	ErrNoHealthyTarget = errors.New("proxy: no healthy target")
	// ErrTimeout is matched (errors.Is) by every timeout this package
	// reports: connect, response header, total, and a request deadline.
	ErrTimeout = errors.New("proxy: timeout")
	// ErrRequestBody is matched (errors.Is) when a try failed because of
	// the client's request body: reading it failed (malformed chunking,
	// over the body limit, too slow, cut off) or it was still being read
	// when the try timed out. It wraps the read error, so errors.As finds
	// *http.MaxBytesError and the like. Such a failure is the client's: it
	// is never retried and never counts against the target.
	ErrRequestBody = errors.New("proxy: reading the request body")
)

// requestBodyError is a try that failed on the client's request body.
type requestBodyError struct{ err error }

func (e *requestBodyError) Error() string        { return "reading the request body: " + e.err.Error() }
func (e *requestBodyError) Unwrap() error        { return e.err }
func (e *requestBodyError) Is(target error) bool { return target == ErrRequestBody }

// timeoutError is a timeout of one kind (what). It matches ErrTimeout and
// net.Error's Timeout, and wraps only its cause (never context.Canceled),
// so a timeout is never mistaken for a client that went away.
type timeoutError struct {
	what string
	err  error
}

func (e *timeoutError) Error() string {
	if e.err == nil {
		return "proxy: timeout " + e.what
	}
	return "proxy: timeout " + e.what + ": " + e.err.Error()
}

func (e *timeoutError) Is(target error) bool { return target == ErrTimeout }
func (e *timeoutError) Unwrap() error        { return e.err }
func (e *timeoutError) Timeout() bool        { return true }
func (e *timeoutError) Temporary() bool      { return true }

// connectError is a failed dial to a target: nothing was sent, so any
// request may be retried on another target.
type connectError struct {
	addr string
	err  error
}

func (e *connectError) Error() string { return "connecting to " + e.addr + ": " + e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// resetError is a connection closed or reset by the target before any
// response, where the transport has no syscall error to say so (QUIC's
// CONNECTION_CLOSE and stateless reset, HTTP/3's REQUEST_REJECTED): it
// counts as a TCP reset does.
type resetError struct{ err error }

func (e *resetError) Error() string { return "connection closed by the target: " + e.err.Error() }
func (e *resetError) Unwrap() error { return e.err }

// classify turns what a transport returned for one attempt into the error
// this package reports. cause is context.Cause of the attempt's context
// (nil while it is live): when the attempt was cancelled, the cause says
// why (a timeout of ours, a request deadline, or the client leaving) and
// wins over whatever the transport made of the cancellation.
func classify(err, cause error) error {
	if cause != nil {
		err = cause
	}
	var te *timeoutError
	switch {
	case errors.As(err, &te):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return &timeoutError{what: "at the request deadline", err: err}
	case errors.Is(err, context.Canceled):
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &timeoutError{what: "talking to the target", err: err}
	}
	return err
}

// isConnectFailure reports whether err (already classified) means the
// target never got to answer: a failed or timed-out dial, or a connection
// reset or closed before any response. Such a failure is safe to retry for
// an idempotent request.
func isConnectFailure(err error) bool {
	var ce *connectError
	var re *resetError
	if errors.As(err, &ce) || errors.As(err, &re) {
		return true
	}
	if errors.Is(err, ErrTimeout) || errors.Is(err, context.Canceled) {
		return false // a dial timeout is wrapped in a connectError
	}
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// isClientGone reports whether err means the client's request ended (not a
// failure of the target).
func isClientGone(err error) bool {
	return errors.Is(err, context.Canceled) && !errors.Is(err, ErrTimeout)
}
