// Package edge owns Portico's client-facing listeners: it serves any
// http.Handler on a net.Listener with connection-level limits (header and
// idle timeouts, header size), counts open connections, and drains them
// on Shutdown.
//
// It does not route, proxy or decide statuses: the handler it is given
// does (node builds it). This first cut serves HTTP/1.1 over TCP; TLS,
// HTTP/2, HTTP/3 (quic-go) and Alt-Svc come later and belong here too.
// It imports nothing of Portico's: the standard library (and later
// golang.org/x/net and quic-go) only.
package edge
