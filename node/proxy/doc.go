// Package proxy owns the upstream side of the gateway: pools of targets
// (Upstream), how a target is picked (round robin, least connections,
// smooth weighted, random, consistent hash), how targets are judged
// (passive ejection, active probes, a circuit breaker per target), the
// tuned transport per pool, retries with a budget, and the reverse proxy
// itself (Handler, one per route), built on httputil.ReverseProxy.
//
// It does not own routing, path rewriting templates, status codes or
// logging of requests: the caller hands in the upstream path
// (HandlerOptions.Path) and an ErrorHandler that maps the errors this
// package returns to a status in one place:
//
//	errors.Is(err, ErrNoHealthyTarget) → 503
//	errors.Is(err, ErrTimeout)         → 504
//	errors.Is(err, context.Canceled)   → 499 (the client went away)
//	anything else                      → 502
//
// A timeout error never wraps context.Canceled, so the order of these
// checks does not matter.
//
// It imports the standard library and node/config only.
package proxy
