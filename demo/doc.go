// Package demo is Portico's built-in demo upstream: an httpbin-like
// http.Handler that `make run`, the tests of other packages and the
// benchmarks put behind the gateway.
//
// It owns the demo endpoints (echo, status, delay, bytes, cache, stream,
// SSE, WebSocket echo; see New) and nothing else: it opens no listener
// (the caller serves it, e.g. with httptest or the edge package) and knows
// nothing of the gateway's config. It imports only the standard library
// and github.com/coder/websocket.
//
// The hot endpoints, /bytes/{n} and /status/{code}, allocate little per
// request so that a benchmark measures the gateway rather than its
// upstream.
package demo
