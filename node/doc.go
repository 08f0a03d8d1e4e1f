// Package node is the composition root of one Portico gateway node. It
// loads the config, compiles each snapshot into a pipeline (the router and
// one chain of stages per route, compile.go), swaps pipelines atomically
// on reload, serves the edge and admin listeners, and runs the node's
// lifecycle (start, reload, drain, stop).
//
// A request's way (pipeline.go): ServeHTTP loads the snapshot, makes the
// request's exchange (node/exchange), matches a route (flood guard, TRACE
// refused, path normalization, router), runs that route's chain, and
// records the exchange in metrics and the access log. A chain is built
// once per snapshot, innermost first, by compileRoute: the fill chain (the
// upstream proxy; a cache owner runs it directly for a peer's fill), the
// cache, rate limits (node/limit), authentication (node/auth), the body
// limit (node/guard), CORS (node/cors; the router also takes a cors
// route's preflights, preflightRoutes). Each stage is its own package with a constructor
// that returns next unchanged when the route does not use it; adding a
// stage is one package and one line in compileRoute.
//
// It also owns the one place where pipeline errors become problems
// (statusOf in problem.go; the problems themselves are package problem's
// table), and the adapters that wire the leaf packages (edge, cluster,
// cache, limiter) and node/admin to the node. It may import every package
// of this module except cmd and bench.
//
// Concurrency: a Node's exported methods may be called from any goroutine.
// Requests always finish on the pipeline they started with; Reload and
// ApplyGateway serialize among themselves.
package node
