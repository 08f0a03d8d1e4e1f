package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// OpenLoop sends requests at a fixed rate whatever the target's latency,
// as independent clients would: latency is measured at a known load. It
// uses vegeta's attacker with a constant pacer; vegeta adds workers when
// all are busy, so a slow target does not slow the sender (up to
// MaxWorkers). Latency runs from the moment a request is actually sent, so
// a sender that falls behind its schedule hides some queueing (coordinated
// omission); at the rates we use on loopback it does not fall behind.
type OpenLoop struct {
	// URL is the absolute URL every request GETs. Its host must be a
	// loopback address. (Required unless URLs is set)
	URL string
	// URLs, if not empty, are sent in turn (round robin) instead of URL;
	// each must be on loopback too.
	URLs []string
	// Rate is the number of requests sent per second. (Required)
	Rate int
	// Duration bounds the phase: no request starts after it. (Optional)
	// Defaults to 10s.
	Duration time.Duration
	// MaxRequests bounds the number of requests sent; zero means only
	// Duration bounds the phase.
	MaxRequests int64
	// Timeout bounds one request. (Optional) Defaults to 10s.
	Timeout time.Duration
	// Workers is the number of senders started up front. (Optional)
	// Defaults to 64.
	Workers int
	// MaxWorkers caps the senders (and so the connections) vegeta may add
	// when all are busy; past it the sender falls behind its schedule,
	// which shows as fewer requests than Rate×Duration. (Optional)
	// Defaults to 1024.
	MaxWorkers int
	// Done, if not nil, is incremented once per completed request.
	Done *atomic.Int64
	// Transport sends the requests; pass the same one to a warm-up and the
	// measured phase so the latter starts on warm connections. (Optional)
	// If nil, a tuned HTTP/1.1 transport is made and its connections
	// closed at the end of Run.
	Transport *http.Transport
	// Hit, if not nil, is asked about the header of every 2xx answer;
	// Result.Hits counts those it calls cache hits.
	Hit func(http.Header) bool
	// Headers, if not empty, are sent in turn like URLs: the n-th request
	// carries Headers[n % len(Headers)] (and URLs[n % len(URLs)]), for n up
	// to the longer list's length, then round again.
	Headers []http.Header
}

func (o OpenLoop) withDefaults() OpenLoop {
	if o.Duration <= 0 {
		o.Duration = defaultDuration
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Workers <= 0 {
		o.Workers = defaultWorkers
	}
	if o.MaxWorkers <= 0 {
		o.MaxWorkers = defaultMaxWorkers
	}
	if o.MaxWorkers < o.Workers {
		o.MaxWorkers = o.Workers
	}
	return o
}

// Run sends load until Duration has passed, MaxRequests were sent or ctx
// ends, and returns when every request in flight has completed.
func (o OpenLoop) Run(ctx context.Context) (*Result, error) {
	o = o.withDefaults()
	urls := o.URLs
	if len(urls) == 0 {
		urls = []string{o.URL}
	}
	for _, u := range urls {
		if err := checkLoopback(u); err != nil {
			return nil, err
		}
	}
	targets := make([]vegeta.Target, max(len(urls), len(o.Headers)))
	for i := range targets {
		targets[i] = vegeta.Target{Method: http.MethodGet, URL: urls[i%len(urls)]}
		if len(o.Headers) > 0 {
			targets[i].Header = o.Headers[i%len(o.Headers)]
		}
	}
	if o.Rate <= 0 {
		return nil, errors.New("open loop: rate must be positive")
	}
	tr := o.Transport
	if tr == nil {
		tr = newTransport(o.MaxWorkers)
		defer tr.CloseIdleConnections()
	}
	attacker := vegeta.NewAttacker(
		vegeta.Client(&http.Client{Transport: tr, Timeout: o.Timeout}),
		vegeta.Workers(uint64(o.Workers)),
		vegeta.MaxWorkers(uint64(o.MaxWorkers)),
		vegeta.MaxBody(0), // drain bodies without keeping them
		vegeta.Redirects(vegeta.NoFollow),
	)
	// Ctrl-C stops the attack; vegeta then closes the results channel
	// once its workers are done, which ends the loop below.
	stop := context.AfterFunc(ctx, func() { attacker.Stop() })
	defer stop()

	targeter := vegeta.NewStaticTargeter(targets...) // round robin
	res := newResult()
	start := time.Now()
	for r := range attacker.Attack(targeter, o.pacer(), o.Duration, "") {
		if ctx.Err() != nil {
			continue // cut short by the caller: not a measurement
		}
		res.record(r.Latency, int(r.Code), vegetaErrorKind(r))
		if o.Hit != nil && r.Code >= 200 && r.Code < 300 && o.Hit(r.Headers) {
			res.Hits++
		}
		if o.Done != nil {
			o.Done.Add(1)
		}
	}
	res.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("open loop: %w", err)
	}
	return res, nil
}

// pacer is the constant rate, stopped after MaxRequests hits when set.
func (o OpenLoop) pacer() vegeta.Pacer {
	rate := vegeta.ConstantPacer{Freq: o.Rate, Per: time.Second}
	if o.MaxRequests <= 0 {
		return rate
	}
	return cappedPacer{ConstantPacer: rate, limit: uint64(o.MaxRequests)}
}

// cappedPacer is a constant pacer that stops after limit hits.
type cappedPacer struct {
	vegeta.ConstantPacer
	limit uint64
}

func (p cappedPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits >= p.limit {
		return 0, true
	}
	return p.ConstantPacer.Pace(elapsed, hits)
}

// vegetaErrorKind classifies a vegeta result: a transport error has no
// status code; a non-2xx status is classified by record from the code.
func vegetaErrorKind(r *vegeta.Result) string {
	if r.Code == 0 {
		if r.Error == "" {
			return "other"
		}
		return errorTextKind(r.Error)
	}
	return ""
}
