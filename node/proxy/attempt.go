package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// retrier is the RoundTripper under a Handler's ReverseProxy: it picks a
// target per try and retries on another one when the policy allows. It is
// a Handler seen from the transport side (like hraftd's `type fsm Store`).
// A retry only ever happens before RoundTrip returns, so never after the
// response started streaming to the client.
type retrier Handler

func (rt *retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	h := (*Handler)(rt)
	u := h.up
	now := u.opts.Now()
	if u.budget != nil {
		u.budget.request(now)
	}
	var tried targetSet
	orig := *req.URL // the rewritten path and query; each try adds its target
	t, probe, err := u.pick(req, &tried, now)
	if err != nil {
		return nil, err
	}
	retries := 0
	if replayable(req) {
		retries = u.retry.attempts
	}
	for n := 0; ; n++ {
		if len(u.targets) > 1 { // a lone target may be retried itself
			tried.add(t.index)
		}
		resp, err := h.send(req, &orig, t, probe, n > 0)
		if n >= retries || !u.retry.retryable(resp, err) {
			return resp, err
		}
		now = u.opts.Now()
		next, nextProbe, perr := u.pick(req, &tried, now)
		if perr != nil {
			return resp, err // every other target was tried or is out
		}
		if !u.budget.withdraw(now) {
			next.unpick(nextProbe)
			return resp, err
		}
		if resp != nil {
			discard(resp)
		}
		if err := u.retry.wait(req.Context(), n+1, u.opts.Rand()); err != nil {
			next.unpick(nextProbe)
			return nil, err
		}
		if req.Body != nil && req.Body != http.NoBody {
			body, err := req.GetBody()
			if err != nil {
				next.unpick(nextProbe)
				return nil, fmt.Errorf("replaying the request body: %w", err)
			}
			req.Body = body
		}
		t, probe = next, nextProbe
	}
}

// unpick gives back what pick reserved when the try is not sent after all.
func (t *target) unpick(probe bool) {
	if t.breaker != nil {
		t.breaker.release(probe)
	}
}

// send makes one try of req on t; orig is req's URL before any target was
// applied. The try gets its own context, so that its response-header
// timer can cancel it alone; the context lives until the response body is
// closed.
func (h *Handler) send(req *http.Request, orig *url.URL, t *target, probe, retry bool) (*http.Response, error) {
	u := h.up
	start := u.opts.Now()
	ctx, cancel := context.WithCancelCause(req.Context())
	if h.connect != nil {
		ctx = context.WithValue(ctx, connectTimeoutKey{}, h.connect)
	}
	x := &tryInFlight{h: h, t: t, cancel: cancel}
	out := req.WithContext(ctx)
	if retry {
		// An earlier try's transport may still read req.URL; the first try
		// owns it (ReverseProxy cloned it for us).
		out.URL = new(url.URL)
	}
	t.setURL(out.URL, orig)
	if out.Body != nil && out.Body != http.NoBody {
		x.reqBody = &requestBody{ReadCloser: out.Body, x: x}
		out.Body = x.reqBody
	} else {
		x.armHeaderTimer()
	}
	u.begin(t)
	resp, err := u.transportFor(out).RoundTrip(out)
	if x.settle() && err == nil {
		resp.Body.Close() // the timer fired as the headers arrived
		resp, err = nil, h.headerErr
	}
	if err == nil && resp.StatusCode == http.StatusSwitchingProtocols {
		err = checkUpgrade(req, resp)
	}
	end := u.opts.Now()
	if err != nil {
		err = classify(err, context.Cause(ctx))
		if x.clientFault(err) {
			err = &requestBodyError{err: err}
		}
		cancel(context.Canceled)
		u.end(t)
		u.judge(t, probe, 0, err, end)
		err = fmt.Errorf("proxying to %s: %w", t.raw, err)
		h.report(req, t, start, end, 0, err, retry)
		return nil, err
	}
	x.body = resp.Body
	resp.Body = x
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// ReverseProxy may end an upgrade without closing the body (e.g.
		// when the client connection cannot be hijacked); the end of the
		// request closes it in any case.
		context.AfterFunc(req.Context(), func() { x.Close() })
	}
	u.judge(t, probe, resp.StatusCode, nil, end)
	h.report(req, t, start, end, resp.StatusCode, nil, retry)
	return resp, nil
}

// checkUpgrade refuses a 101 response that ReverseProxy would refuse, so
// that the body is closed here, with its bookkeeping.
func checkUpgrade(req *http.Request, resp *http.Response) error {
	want, got := upgradeType(req.Header), upgradeType(resp.Header)
	_, writable := resp.Body.(io.ReadWriteCloser)
	if want != "" && httpguts.ValidHeaderFieldValue(got) && equalFold(want, got) && writable {
		return nil
	}
	resp.Body.Close()
	return fmt.Errorf("target switched protocol to %q when %q was requested", got, want)
}

func upgradeType(h http.Header) string {
	if !httpguts.HeaderValuesContainsToken(h["Connection"], "Upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i]|0x20, b[i]|0x20 // ASCII only: token characters
		if x != y {
			return false
		}
	}
	return true
}

// judge feeds one try's outcome to passive health and the breaker. A try
// ended by the client (it left, or its body failed) says nothing about the
// target. Passive health counts what health.passive.on lists; the breaker
// counts every failure of the target and its 5xx answers.
func (u *Upstream) judge(t *target, probe bool, status int, err error, now time.Time) {
	if err != nil && (isClientGone(err) || errors.Is(err, ErrRequestBody)) {
		t.unpick(probe)
		return
	}
	ns := now.UnixNano()
	if err != nil {
		u.warnFailure(t, err, ns)
	}
	u.passive.record(t, now, u.passive.failed(status, err), func() bool { return u.lastAvailable(t, ns) })
	if t.breaker != nil {
		t.breaker.record(now, probe, err != nil || status >= 500)
	}
}

// failureLogEvery is how often a target's failures are logged at warn at
// most: the first failure is, later ones within this interval are counted
// and their number logged with the next.
const failureLogEvery = 30 * time.Second

// warnFailure logs why a try on t failed (a TLS or connect failure, a
// reset, a timeout), at most once per target per failureLogEvery, so that
// a misconfigured target is visible at the default log level without a
// line per request.
func (u *Upstream) warnFailure(t *target, err error, now int64) {
	last := t.lastWarn.Load()
	if last != 0 && now-last < int64(failureLogEvery) {
		t.unlogged.Add(1)
		return
	}
	if !t.lastWarn.CompareAndSwap(last, now) {
		t.unlogged.Add(1)
		return
	}
	u.opts.Logger.Warn("upstream target failed", "upstream", u.name, "target", t.raw,
		"error", err, "not_logged_since", t.unlogged.Swap(0))
}

func (h *Handler) report(req *http.Request, t *target, start, end time.Time, status int, err error, retry bool) {
	if ev := h.up.opts.Events; ev != nil {
		ev.Attempt(req, Attempt{Upstream: h.up.name, Target: t.raw, Start: start,
			Duration: end.Sub(start), Status: status, Err: err, Retry: retry})
	}
}

// setURL sets out to in (path and query as rewritten) sent to t: t's
// scheme and host, t's base path before the path.
func (t *target) setURL(out, in *url.URL) {
	*out = *in
	out.Scheme, out.Host = t.url.Scheme, t.url.Host
	if t.url.Path != "" {
		out.Path = t.url.Path + in.Path
		if in.RawPath != "" || t.url.RawPath != "" {
			out.RawPath = t.url.EscapedPath() + in.EscapedPath()
		}
	}
}

// tryInFlight is one try in flight. Once the response headers are in, it is
// the response body handed to ReverseProxy (a ReadWriteCloser, so that a
// 101 upgrade works through it); closing it ends the try.
type tryInFlight struct {
	h       *Handler
	t       *target
	cancel  context.CancelCauseFunc
	body    io.ReadCloser
	reqBody *requestBody // nil for a request without a body
	closed  atomic.Bool

	mu      sync.Mutex
	timer   *time.Timer // the response-header timer, once armed
	settled bool        // RoundTrip returned: the timer may not be armed
}

// armHeaderTimer starts the wait for response headers: at the start of a
// try without a body, once the body is sent otherwise.
func (x *tryInFlight) armHeaderTimer() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.settled && x.timer == nil {
		x.timer = time.AfterFunc(x.h.header, x.expire)
	}
}

func (x *tryInFlight) expire() { x.cancel(x.h.headerErr) }

// settle stops the header timer once RoundTrip returned, and reports
// whether it had already fired.
func (x *tryInFlight) settle() (expired bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.settled = true
	return x.timer != nil && !x.timer.Stop()
}

func (x *tryInFlight) Read(p []byte) (int, error) { return x.body.Read(p) }

var errNotWritable = errors.New("proxy: response body is not writable")

// Write writes to an upgraded connection.
func (x *tryInFlight) Write(p []byte) (int, error) {
	if w, ok := x.body.(io.Writer); ok {
		return w.Write(p)
	}
	return 0, errNotWritable
}

// Close ends the try: the connection goes back to the pool (or closes),
// the target's in-flight count drops and the try's context is released.
// It is idempotent.
func (x *tryInFlight) Close() error {
	if !x.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := x.body.Close()
	x.h.up.end(x.t)
	x.cancel(context.Canceled)
	return err
}

// requestBody arms the response-header timer when the request body has
// been read to its end (the request is written), and notes the client's
// faults: a read error, or a read still waiting on the client.
type requestBody struct {
	io.ReadCloser
	x       *tryInFlight
	reading atomic.Bool // a Read is waiting on the client
	closed  atomic.Bool // the transport closed the body
	failed  atomic.Bool // a Read failed before the body was closed
}

func (b *requestBody) Read(p []byte) (int, error) {
	b.reading.Store(true)
	n, err := b.ReadCloser.Read(p)
	b.reading.Store(false)
	switch {
	case err == io.EOF:
		b.x.armHeaderTimer()
	case err != nil && !b.closed.Load():
		// After Close, a failed Read is the transport's doing (it gave
		// up on the try), not the client's.
		b.failed.Store(true)
	}
	return n, err
}

func (b *requestBody) Close() error {
	b.closed.Store(true)
	return b.ReadCloser.Close()
}

// clientFault reports whether err, a failed try, is the client's doing:
// its body could not be read, or the try timed out while the body was
// still being read from the client (a slow upload).
func (x *tryInFlight) clientFault(err error) bool {
	b := x.reqBody
	if b == nil {
		return false
	}
	return b.failed.Load() || (b.reading.Load() && errors.Is(err, ErrTimeout))
}
