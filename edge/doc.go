// Package edge owns Portico's client-facing listeners: it serves any
// http.Handler over TCP as HTTP/1.1 and, with TLS, HTTP/2 chosen by ALPN
// (h2c with prior knowledge on cleartext when asked), using net/http's
// own HTTP/2 server. It owns what sits between a socket and the handler:
// TLS with several certificates chosen by SNI and reloaded when their
// files change (certs.go, certreload.go), a development CA (devca.go),
// connection limits in all and per client address, shared with QUIC, and
// the TLS handshake off the accept loop (listener.go), a minimum request
// body rate (bodyrate.go), the HTTP/2 rapid reset guard (reset.go),
// ending the connection after an HTTP/1 request whose body framing a
// parser in front could read differently (framing.go: request
// smuggling), counting and logging the requests net/http refuses before
// any handler runs (rejected.go), the portico_edge_* metrics
// (metrics.go), and draining on Shutdown.
// HTTP/3 over QUIC (quic-go) lives in http3*.go: ServeUDP serves it on
// the TCP listener's port number with the Server's certificates,
// connection limits and metrics, TLS responses advertise it with Alt-Svc,
// 0-RTT is accepted for safe methods only (425 Too Early otherwise), and
// Retry validates client addresses under handshake floods. One Server
// may serve cleartext (ServeCleartext), TLS (Serve) and QUIC (ServeUDP)
// listeners at once, under one set of limits.
//
// It does not route, proxy or decide statuses: the handler it is given
// does (node builds it); a body cut for slowness reaches the handler as a
// Read error wrapping ErrSlowBody. It imports nothing of Portico's: the
// standard library, golang.org/x/net, quic-go, fsnotify and the
// Prometheus client only.
package edge
