// Package limit owns the rate-limit stages of the pipeline: a route's
// limits and its consumers' (their own, their group's and their plan's,
// and the plan's quota), asked of the limiter in one call per request,
// with the RateLimit-Policy and RateLimit headers and the 429 answers;
// and the per-address flood guard (node.server.ip_rate_limit) the node
// runs before routing.
//
// Plans compiles a snapshot's consumer limits once per config; New builds
// one route's stage over it; Shared is what every stage of a node shares
// for the node's life (the limiter, the decision counters, the formatted
// policy headers). The decisions themselves (GCRA, local and cluster-wide
// counters, quotas) are package limiter's, which this adapts; it imports
// limiter, node/config, node/exchange and problem only.
package limit
