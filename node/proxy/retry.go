package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/portico-gw/portico/node/config"
)

// retryPolicy says when a failed try is retried on another target
// (config: upstream.retries).
type retryPolicy struct {
	attempts  int // retries after the first try; 0: never
	backoff   time.Duration
	onConnect bool // dial failures, resets before any response
	on5xx     bool // 502, 503, 504 from the target
}

// newRetryPolicy reads c as node/config leaves it (defaults applied) or as
// a hand-built config: enabled: false or attempts -1 turn retries off, a
// zero attempts is the default, and retries default to connect failures.
func newRetryPolicy(c config.Retries) (retryPolicy, error) {
	p := retryPolicy{attempts: c.Attempts, backoff: c.Backoff.D()}
	switch {
	case (c.Enabled != nil && !*c.Enabled) || p.attempts < 0:
		p.attempts = 0
	case p.attempts == 0:
		p.attempts = defaultAttempts
	}
	if p.backoff == 0 {
		p.backoff = defaultBackoff
	}
	if len(c.On) == 0 {
		p.onConnect = true
	}
	for _, on := range c.On {
		switch on {
		case "connect":
			p.onConnect = true
		case "5xx":
			p.on5xx = true
		default:
			return p, fmt.Errorf("unknown retries.on %q: use connect or 5xx", on)
		}
	}
	return p, nil
}

// retryable reports whether the outcome of a try calls for a retry. A
// client's fault (its request body) is never retried.
func (p retryPolicy) retryable(resp *http.Response, err error) bool {
	if err != nil {
		return p.onConnect && !errors.Is(err, ErrRequestBody) && isConnectFailure(err)
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return p.on5xx
	}
	return false
}

// maxBackoffDoublings caps the exponential growth: the 7th and later
// retries wait as long as the 7th.
const maxBackoffDoublings = 6

// delay is the wait before retry n (1-based): backoff doubled per retry,
// with "equal jitter" (half fixed, half random) so that clients that
// failed together do not retry together.
func (p retryPolicy) delay(n int, rnd uint64) time.Duration {
	if p.backoff <= 0 {
		return 0
	}
	d := p.backoff << min(n-1, maxBackoffDoublings)
	half := d / 2
	return half + time.Duration(rnd%uint64(half+1))
}

// replayable reports whether a request may be sent twice: its method is
// idempotent and its body is empty or can be produced again (GetBody).
func replayable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
	default:
		return false
	}
	return r.Body == nil || r.Body == http.NoBody || r.GetBody != nil
}

// wait sleeps before retry n, or returns why the request ended meanwhile.
func (p retryPolicy) wait(ctx context.Context, n int, rnd uint64) error {
	d := p.delay(n, rnd)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting to retry: %w", classify(ctx.Err(), context.Cause(ctx)))
	}
}

// discard drains a little of a response that is being replaced by a
// retry, so its connection can be reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
