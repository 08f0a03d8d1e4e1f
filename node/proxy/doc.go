// Package proxy owns the upstream side of the gateway: pools of targets
// (Upstream), how a target is picked (round robin, least connections,
// smooth weighted, random, consistent hash), how targets are judged
// (passive ejection, active probes, a circuit breaker per target), the
// tuned transport per pool, retries with a budget, and the reverse proxy
// itself (Handler, one per route), built on httputil.ReverseProxy.
//
// An upstream speaks one protocol to its targets (config: protocol):
// http1 (HTTP/1.1, or HTTP/2 when an https target offers it by ALPN), h2
// (HTTP/2 over TLS, refusing a target that does not negotiate it), h2c
// (cleartext HTTP/2) or h3 (HTTP/3 over QUIC, quic-go's http3.Transport).
// WebSocket upgrades to an h2, h2c or h3 upstream go over HTTP/1.1 (TLS on
// TCP for h2 and h3). Timeouts, retries, balancing, health and the
// breaker work the same on each: the protocol is only the transport
// under the retrier, and its errors are classified alike (a failed TCP
// dial, TLS handshake of h2 or QUIC handshake is a connect error).
//
// It does not own routing, path rewriting templates, status codes or
// logging of requests: the caller hands in the upstream path
// (HandlerOptions.Path) and an ErrorHandler that maps the errors this
// package returns to a status in one place:
//
//	errors.As(err, **http.MaxBytesError) → 413 (the client's body)
//	errors.Is(err, ErrNoHealthyTarget) → 503
//	errors.Is(err, ErrTimeout)         → 504
//	errors.Is(err, context.Canceled)   → 499 (the client went away)
//	errors.Is(err, ErrRequestBody)     → 400 (the client's body)
//	anything else                      → 502
//
// A timeout error never wraps context.Canceled, so the order of the
// middle checks does not matter; the body limit comes first.
//
// What counts against a target (passive health, the breaker) is the
// target's failures only: a client's fault (ErrRequestBody, leaving early)
// never does and is never retried. Only the upgrades a route allows
// (route.upgrades, default websocket) reach a target; h2c never does.
//
// It imports the standard library, node/config, problem (its default
// error answer), cluster/ring (the rendezvous ranking of balance: hash),
// golang.org/x/net's httpguts and quic-go (for h3) only.
package proxy
