// Package exchange owns the per-request state that the stages of a
// route's chain share: the request id, when it started, the client's
// address, who the consumer is, the route, the path the upstream gets,
// what the upstream attempts cost, and which problem (if any) the gateway
// answered. It also owns the counting wrappers of the client's writer
// and body, so one allocation holds all of it.
//
// The node creates one Exchange per request (or per fill a peer asks this
// node for), attaches it to the request with With, and every stage reads
// it with Of; nothing calls back into the node for it. Stages write to
// the fields they own (auth: Who; the node's matcher: Route and
// UpstreamPath; the proxy's events: Target, UpstreamDuration, Retries) and
// read the others; a stage answers a problem with Fail so the access log
// learns its slug.
//
// It imports only problem. An Exchange is used by one request's
// goroutines: the handler's, and the transport's for the body count
// (atomic).
package exchange
