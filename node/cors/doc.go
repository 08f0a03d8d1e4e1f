// Package cors owns a route's CORS stage (cross-origin resource sharing,
// the Fetch standard's protocol), built on github.com/rs/cors.
//
// New builds the stage once per snapshot from the route's config.CORS
// (rs/cors options precomputed there) and returns next unchanged when
// the route has none. It is the outermost stage of the route's chain:
//   - A preflight (OPTIONS with Origin and Access-Control-Request-Method)
//     is answered here, 204, and goes no further: not to the body limit,
//     authentication, rate limits, the cache or the upstream. Allowed
//     (origin, method, every requested header) it carries
//     Access-Control-Allow-Origin, -Methods, -Headers, -Credentials and
//     -Max-Age; refused, it is still 204 but without them, as rs/cors
//     answers (the browser then fails the request). Either way it carries
//     Vary: Origin, Access-Control-Request-Method,
//     Access-Control-Request-Headers.
//   - Any other request goes on. From an allowed origin its answer
//     carries Access-Control-Allow-Origin (and -Credentials,
//     -Expose-Headers), also when an inner stage answers a problem (401,
//     429, 502: the page can read why). From another origin, or without
//     one, it gets no CORS headers and is otherwise served as usual: the
//     browser enforces. Every answer carries Vary: Origin.
//   - The gateway owns the Access-Control-* response headers of a cors
//     route: those the upstream (or a cached entry) sends are dropped
//     when the answer's header is written, so none is ever doubled.
//
// The router's side (node/compile.go) makes the preflights of a cors
// route reach this stage even when its match.methods lacks OPTIONS.
//
// It imports node/config and rs/cors only (the stage rule).
package cors
