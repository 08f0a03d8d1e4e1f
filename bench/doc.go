// Package bench is Portico's benchmark harness: it starts a backend
// (`portico demo-upstream`), the gateway (`portico serve`) and peer proxies
// (nginx, HAProxy) as separate processes on loopback, drives them with a
// closed-loop or open-loop load generator, samples their CPU time from /proc
// and portico's allocation counter from its /metrics, and writes a table,
// bench-results.json and bench-report.md. Its protocols scenario loads a
// TLS portico and Caddy over HTTP/1.1, HTTP/2 and HTTP/3; its wan scenario
// times new connections through an emulated WAN (a user-space netem
// between two TUN devices, the clients in a network namespace of their
// own). Its cluster scenario starts a 5-node portico cluster instead and
// times config writes until applied on every node, failure detection of a
// killed node, and idle CPU and memory. Its cache scenario loads cache hits
// of a portico with a cached route against nginx proxy_cache and the
// HAProxy cache; its cache-cluster scenario starts a 3-node cluster and
// times hits a node fetches from a key's owner against the owner's own.
// Its ratelimit scenarios load a plain route, a local limit and global
// limits (async, strict, on a 3-node cluster) that never deny, for the
// throughput, CPU and latency a decision costs. Every cluster scenario
// runs on one skeleton (runCluster, clusterrun.go): start the nodes, wait
// for the cluster, apply documents, load a node, stop them all.
//
// It owns load generation (ClosedLoop, OpenLoop), process orchestration and
// CPU pinning, the scenario list (Scenarios) and the report writers. It does
// not own the gateway: it drives the binary as a black box through its CLI,
// admin API and data port, so it imports nothing of ours (its tests check
// the generated configs against node/config). Main is the entry
// point of `portico bench`.
//
// Everything it starts is a child process that is killed when the run ends,
// and every request it sends goes to an address of this machine: loopback,
// or the wan scenario's emulated gateway address.
package bench
