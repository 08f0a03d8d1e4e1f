// Package observe is the gateway's monitoring stage: Prometheus metrics
// (metrics.go, route.go, upstream.go) and the per-request JSON access log
// (accesslog.go, entry.go). Tracing and alarms join it later, each in its
// own file named by concept.
//
// It owns the metric names, labels and buckets, and the access-log line
// format. It does not own what is measured: node times requests and fills
// an Entry, proxy reports upstream attempts, edge supplies the open
// connection count. Nothing here decides HTTP statuses or reads config
// files; it takes config.AccessLog as plain data.
//
// No global state: every Metrics lives on the registry it is given, so
// several nodes run in one process, and an AccessLog owns its one flush
// goroutine, which Close stops.
//
// It may import the standard library, prometheus/client_golang and
// node/config, nothing else of this module.
package observe
