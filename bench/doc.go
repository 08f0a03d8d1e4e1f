// Package bench is Portico's benchmark harness: it starts a backend
// (`portico demo-upstream`), the gateway (`portico serve`) and peer proxies
// (nginx, HAProxy) as separate processes on loopback, drives them with a
// closed-loop or open-loop load generator, samples their CPU time from /proc
// and portico's allocation counter from its /metrics, and writes a table,
// bench-results.json and bench-report.md. Its cluster scenario starts a
// 5-node portico cluster instead and times config writes until applied on
// every node, failure detection of a killed node, and idle CPU and memory.
//
// It owns load generation (ClosedLoop, OpenLoop), process orchestration and
// CPU pinning, the scenario list (Scenarios) and the report writers. It does
// not own the gateway: it drives the binary as a black box through its CLI,
// admin API and data port, so it imports nothing of ours (its tests check
// the generated configs against node/config). Main is the entry
// point of `portico bench`.
//
// Everything it starts is a child process that is killed when the run ends,
// and every request it sends goes to a loopback address.
package bench
