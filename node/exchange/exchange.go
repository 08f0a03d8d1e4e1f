package exchange

import (
	"context"
	"net/http"
	"net/netip"
	"time"

	"github.com/portico-gw/portico/problem"
)

// Exchange is one request's state. The zero value is usable; Init sets
// what every request has.
type Exchange struct {
	// Rec wraps the client's writer and Body the client's request body;
	// they live here so that one allocation holds the whole exchange.
	Rec  Recorder
	Body BodyCount

	// ID is the request id (X-Request-Id), echoed in problem bodies.
	ID string
	// Start is when the gateway took the request.
	Start time.Time
	// Route is the matched route's name ("" before routing or when no
	// route matched).
	Route string
	// UpstreamPath is the escaped path the upstream gets: the normalized
	// request path after strip_prefix or rewrite.
	UpstreamPath string
	// Who is the consumer, once a route's authenticator found one.
	Who Identity
	// Problem is the problem the gateway answered with (0: none).
	Problem problem.Type

	// What the upstream attempts cost: the last target tried, the time
	// spent in attempts, and how many were retries.
	Target           string
	UpstreamDuration time.Duration
	Retries          int

	resolve func(*http.Request) netip.Addr
	addr    netip.Addr
	addrSet bool
}

// Identity is who a request comes from, as a route's authenticator found
// it. It never holds a credential.
type Identity struct {
	// Consumer is the consumer's name; "" when anonymous.
	Consumer string
	// Group and Plan are the consumer's group and plan ("" for none).
	Group, Plan string
	// KeyID identifies the credential without revealing it (for API keys
	// the first 16 hex digits of its SHA-256), for limits by api_key.
	KeyID string
}

// Anonymous reports whether no consumer was identified.
func (id *Identity) Anonymous() bool { return id.Consumer == "" }

// Init prepares ex for a request: w is the client's writer, id the
// request id, start the time it arrived, and resolve finds the client's
// address (trusted proxies considered) the first time ClientAddr is
// asked.
func (ex *Exchange) Init(w http.ResponseWriter, id string, start time.Time, resolve func(*http.Request) netip.Addr) {
	ex.Rec.ResponseWriter = w
	ex.ID, ex.Start, ex.resolve = id, start, resolve
}

// ClientAddr is the client's address, resolved once per request (invalid
// when there is none).
func (ex *Exchange) ClientAddr(r *http.Request) netip.Addr {
	if !ex.addrSet {
		if ex.resolve != nil {
			ex.addr = ex.resolve(r)
		}
		ex.addrSet = true
	}
	return ex.addr
}

// Fail answers t with its default detail and records it for the log.
func (ex *Exchange) Fail(w http.ResponseWriter, t problem.Type) {
	ex.Problem = t
	problem.Write(w, t, ex.ID)
}

// FailDetail answers t with a more precise detail (plain text).
func (ex *Exchange) FailDetail(w http.ResponseWriter, t problem.Type, detail string) {
	ex.Problem = t
	problem.WriteDetail(w, t, detail, ex.ID)
}

// Attempt records one upstream attempt: its target, how long it took and
// whether it was a retry.
func (ex *Exchange) Attempt(target string, d time.Duration, retry bool) {
	ex.Target = target
	ex.UpstreamDuration += d
	if retry {
		ex.Retries++
	}
}

type key struct{}

// With returns a shallow copy of r that carries ex. The copy is the
// pipeline's own: stages may replace its URL or headers.
func With(r *http.Request, ex *Exchange) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), key{}, ex))
}

// Of returns the exchange r carries, or nil outside a pipeline.
func Of(r *http.Request) *Exchange {
	ex, _ := r.Context().Value(key{}).(*Exchange)
	return ex
}

// UpstreamPath is the path the upstream gets for r: its exchange's, or
// r's own path outside a pipeline. It is the proxy's Path option.
func UpstreamPath(r *http.Request) string {
	if ex := Of(r); ex != nil {
		return ex.UpstreamPath
	}
	return r.URL.EscapedPath()
}
