package proxy

import (
	"crypto/tls"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"time"
)

// Options are the dependencies of an Upstream (and of the Handlers built
// on it). The zero value is usable.
type Options struct {
	// Logger receives what this package logs itself: active health
	// transitions, and body-copy errors of the reverse proxy. If nil,
	// nothing is logged.
	Logger *slog.Logger
	// Now is the clock for passive ejection, the circuit breaker, the retry
	// budget and Attempt timings. If nil, time.Now is used.
	Now func() time.Time
	// Rand returns uniformly random numbers for the random balancer and
	// backoff jitter; it is called from many goroutines at once. If nil,
	// math/rand/v2.Uint64 is used.
	Rand func() uint64
	// Events is told about every attempt (try) to a target. If nil, no one
	// is told.
	Events Events
	// TrustedProxies are the peers whose X-Forwarded-* and Forwarded
	// headers are believed (appended to, and used by ClientIP for
	// balance: hash with hash_on client_ip). If empty, none is trusted.
	TrustedProxies []netip.Prefix
	// TLSClientConfig is used for https targets, by every protocol
	// (cloned per connection; its NextProtos are replaced by what the
	// protocol offers: h2 and http/1.1 for h2, h3 for h3). ServerName
	// defaults to the target's host. If nil, the system roots are used.
	// HTTP/3 needs TLS 1.3.
	TLSClientConfig *tls.Config
}

// Events is told about attempts. Attempt is called once per try, from the
// request's goroutine, when the try's outcome is known (response headers
// or an error); it must not block. r is the outbound request (a clone of
// the incoming one: same context, so request-scoped values are there).
type Events interface {
	Attempt(r *http.Request, a Attempt)
}

// Attempt describes one try of a request on one target.
type Attempt struct {
	// Upstream is the upstream's name; Target the target's URL.
	Upstream, Target string
	// Start is when the try began; Duration how long until its response
	// headers (or its error) arrived.
	Start    time.Time
	Duration time.Duration
	// Status is the target's response status, 0 when Err is set.
	Status int
	// Err is why the try failed without a response (classified: see the
	// package comment).
	Err error
	// Retry is true when this try is a retry (not the request's first).
	Retry bool
}

// HandlerOptions tune one route's Handler. The zero value is usable.
type HandlerOptions struct {
	// Path returns the escaped upstream path for a request, without the
	// target's base path (which is prefixed) and without the query (which
	// is passed as is). If nil, the request's escaped path is used as is.
	Path func(*http.Request) string
	// ErrorHandler writes the response when a request could not be proxied,
	// before anything was written. err is classified (see the package
	// comment); r is usually the outbound clone of the request (same
	// context). If nil, a plain 502 is written and the error logged.
	ErrorHandler func(http.ResponseWriter, *http.Request, error)
	// FlushInterval is how often a response body is flushed to the client
	// while it is copied. Server-sent events and bodies of unknown length
	// are flushed after every write regardless. If zero, a body is flushed
	// when the 32KiB copy buffer fills; negative flushes after every write.
	FlushInterval time.Duration
}

// withDefaults fills the nil fields of o.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Uint64
	}
	return o
}
