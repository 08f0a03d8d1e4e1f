// Package node is the composition root of one Portico gateway node. It
// loads the config, compiles each snapshot into a request pipeline (router,
// per-route stages, upstream pools), swaps pipelines atomically on reload,
// serves the edge and admin listeners and runs the node's lifecycle
// (start, reload, drain, stop).
//
// It owns the one place where gateway errors become HTTP statuses and
// application/problem+json bodies (problem.go), and the adapters that wire
// the leaf packages (edge, and later cluster, cache, limiter) together. It
// may import every package of this module except cmd and bench.
//
// Concurrency: a Node's exported methods may be called from any goroutine.
// Requests always finish on the pipeline they started with; Reload and
// ApplyGateway serialize among themselves.
package node
