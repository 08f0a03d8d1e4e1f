package edge

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Protocol labels of the connection and request metrics.
const (
	protoH1 = "h1"
	protoH2 = "h2"
	protoH3 = "h3"
)

// Reasons a connection is refused (connections_refused_total{reason}).
const (
	refusedMaxConns      = "max_conns"
	refusedMaxConnsPerIP = "max_conns_per_ip"
)

// Reasons a TLS handshake fails (tls_handshake_errors_total{reason}): a
// fixed set, so that scanners cannot grow the label space.
const (
	hsTimeout         = "timeout"          // TLSHandshakeTimeout passed
	hsEOF             = "eof"              // the client went away
	hsNotTLS          = "not_tls"          // plaintext (usually HTTP) on a TLS port
	hsProtocolVersion = "protocol_version" // no TLS version in common
	hsNoSharedCipher  = "no_shared_cipher" // no cipher suite or curve in common
	hsBadCertificate  = "bad_certificate"  // the client rejected our certificate
	hsClientAlert     = "client_alert"     // the client sent any other alert
	hsOther           = "other"
)

// metrics holds one Server's collectors. Every method may be called from
// many goroutines at once.
//
// The metric names, all prefixed portico_edge_:
//
//	connections_open{proto}              gauge: h1|h2|h3 connections open now
//	connections_total{proto}             counter: connections opened
//	requests_total{proto}                counter: requests, by HTTP major version
//	tls_handshake_errors_total{reason}   counter: failed TLS handshakes (reasons above)
//	connections_refused_total{reason}    counter: max_conns|max_conns_per_ip
//	rejected_requests_total{reason}      counter: HTTP/1 requests net/http refused before
//	                                     any handler ran (reasons in rejected.go)
//	rapid_reset_closes_total             counter: HTTP/2 connections closed for rapid reset
//	slow_body_closes_total               counter: request bodies cut for MinBodyRate
//	cert_reloads_total{result}           counter: ok|error
//	cert_expiry_timestamp_seconds{name}  gauge: earliest NotAfter of each configured
//	                                     chain, named by its leaf's first SAN
//
// A TCP connection is counted once its protocol is known: a TLS one after
// ALPN, a cleartext one as h1 when accepted. With H2C on, a cleartext
// connection is moved from h1 to h2 on its first HTTP/2 request, and
// counted in connections_total when that first request arrives (or when
// it closes without one, as h1).
type metrics struct {
	open     map[string]prometheus.Gauge
	total    map[string]prometheus.Counter
	requests [4]prometheus.Counter // by HTTP major version; [0] unused

	handshakeErrors  *prometheus.CounterVec
	refused          *prometheus.CounterVec
	rejectedReqs     *prometheus.CounterVec
	rapidResetCloses prometheus.Counter
	slowBodyCloses   prometheus.Counter
	certReloads      *prometheus.CounterVec
	certExpiry       *prometheus.GaugeVec
}

// newMetrics builds the collectors and registers them with reg, if not nil.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "portico", "edge"
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: ns, Subsystem: sub, Name: name, Help: help}
	}
	openVec := prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("connections_open", "Client connections open now, by protocol (h1, h2, h3).")), []string{"proto"})
	totalVec := prometheus.NewCounterVec(prometheus.CounterOpts(opts("connections_total", "Client connections opened, by protocol (h1, h2, h3).")), []string{"proto"})
	reqVec := prometheus.NewCounterVec(prometheus.CounterOpts(opts("requests_total", "Requests received, by protocol (h1, h2, h3).")), []string{"proto"})
	m := &metrics{
		open:             map[string]prometheus.Gauge{},
		total:            map[string]prometheus.Counter{},
		handshakeErrors:  prometheus.NewCounterVec(prometheus.CounterOpts(opts("tls_handshake_errors_total", "Failed TLS handshakes, by reason.")), []string{"reason"}),
		refused:          prometheus.NewCounterVec(prometheus.CounterOpts(opts("connections_refused_total", "Connections closed at accept by a connection limit, by reason.")), []string{"reason"}),
		rejectedReqs:     prometheus.NewCounterVec(prometheus.CounterOpts(opts("rejected_requests_total", "HTTP/1 requests refused by the HTTP parser before any handler ran (malformed, headers too large, unsupported transfer coding, expectation or version), by reason.")), []string{"reason"}),
		rapidResetCloses: prometheus.NewCounter(prometheus.CounterOpts(opts("rapid_reset_closes_total", "HTTP/2 connections closed for cancelling streams too fast (rapid reset)."))),
		slowBodyCloses:   prometheus.NewCounter(prometheus.CounterOpts(opts("slow_body_closes_total", "Request bodies cut off for arriving below the minimum rate."))),
		certReloads:      prometheus.NewCounterVec(prometheus.CounterOpts(opts("cert_reloads_total", "Certificate reloads, by result (ok, error).")), []string{"result"}),
		certExpiry:       prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("cert_expiry_timestamp_seconds", "Earliest NotAfter in each served certificate chain, in Unix seconds, by the leaf's first name.")), []string{"name"}),
	}
	for _, p := range []string{protoH1, protoH2, protoH3} {
		m.open[p] = openVec.WithLabelValues(p)
		m.total[p] = totalVec.WithLabelValues(p)
	}
	for major, p := range map[int]string{1: protoH1, 2: protoH2, 3: protoH3} {
		m.requests[major] = reqVec.WithLabelValues(p)
	}
	for _, r := range []string{hsTimeout, hsEOF, hsNotTLS, hsProtocolVersion, hsNoSharedCipher, hsBadCertificate, hsClientAlert, hsOther} {
		m.handshakeErrors.WithLabelValues(r)
	}
	for _, r := range []string{refusedMaxConns, refusedMaxConnsPerIP} {
		m.refused.WithLabelValues(r)
	}
	for _, r := range rejectReasons {
		m.rejectedReqs.WithLabelValues(r)
	}
	m.certReloads.WithLabelValues("ok")
	m.certReloads.WithLabelValues("error")
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{openVec, totalVec, reqVec, m.handshakeErrors, m.refused, m.rejectedReqs,
		m.rapidResetCloses, m.slowBodyCloses, m.certReloads, m.certExpiry} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering edge metrics: %w", err)
		}
	}
	return m, nil
}

// connOpened counts a connection of proto (h1, h2 or h3) as open. The
// QUIC side calls it with "h3" once a connection is admitted.
func (m *metrics) connOpened(proto string) {
	if g, ok := m.open[proto]; ok {
		g.Inc()
		m.total[proto].Inc()
	}
}

// connClosed counts the end of a connection counted by connOpened.
func (m *metrics) connClosed(proto string) {
	if g, ok := m.open[proto]; ok {
		g.Dec()
	}
}

// connMoved moves an open connection from one protocol to another
// without counting it again in connections_total (h2c, see metrics).
func (m *metrics) connMoved(from, to string) {
	if from == to {
		return
	}
	if g, ok := m.open[from]; ok {
		g.Dec()
	}
	if g, ok := m.open[to]; ok {
		g.Inc()
	}
}

// connSettled counts in connections_total a connection whose protocol
// became known after connOpenedUnsettled.
func (m *metrics) connSettled(proto string) {
	if c, ok := m.total[proto]; ok {
		c.Inc()
	}
}

// connOpenedUnsettled counts a connection as open under proto, leaving
// connections_total to connSettled.
func (m *metrics) connOpenedUnsettled(proto string) {
	if g, ok := m.open[proto]; ok {
		g.Inc()
	}
}

// request counts one request of HTTP major version 1, 2 or 3.
func (m *metrics) request(protoMajor int) {
	if protoMajor > 0 && protoMajor < len(m.requests) {
		m.requests[protoMajor].Inc()
	}
}

func (m *metrics) handshakeError(reason string) { m.handshakeErrors.WithLabelValues(reason).Inc() }
func (m *metrics) connRefused(reason string)    { m.refused.WithLabelValues(reason).Inc() }
func (m *metrics) rejected(reason string)       { m.rejectedReqs.WithLabelValues(reason).Inc() }

// certReload counts a certificate reload by its result.
func (m *metrics) certReload(err error) {
	if err != nil {
		m.certReloads.WithLabelValues("error").Inc()
		return
	}
	m.certReloads.WithLabelValues("ok").Inc()
}

// certExpiries publishes the expiry of every chain of st, replacing those
// of the store before.
func (m *metrics) certExpiries(st *certStore) {
	earliest := map[string]time.Time{}
	for _, c := range st.chains {
		// Two chains may share a first name: keep the earlier expiry.
		if t, ok := earliest[c.name]; !ok || c.notAfter.Before(t) {
			earliest[c.name] = c.notAfter
		}
	}
	m.certExpiry.Reset()
	for name, t := range earliest {
		m.certExpiry.WithLabelValues(name).Set(float64(t.Unix()))
	}
}

// registerH3 registers the HTTP/3 server's own counters with reg (if not
// nil), read from its Stats when scraped (QUIC connections refused by a
// limit are in connections_refused_total already):
//
//	quic_retries_total             counter: QUIC Retry packets sent (address validation)
//	early_data_requests_total      counter: safe requests served from 0-RTT data
//	too_early_total                counter: unsafe requests in 0-RTT answered 425
func (m *metrics) registerH3(reg prometheus.Registerer, h3 *h3Server) error {
	if reg == nil {
		return nil
	}
	counter := func(name, help string, v func(h3Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "portico", Subsystem: "edge", Name: name, Help: help},
			func() float64 { return float64(v(h3.Stats())) })
	}
	for _, c := range []prometheus.Collector{
		counter("quic_retries_total", "QUIC Retry packets sent to validate client addresses (handshake floods).", func(s h3Stats) uint64 { return s.Retries }),
		counter("early_data_requests_total", "Safe-method requests served from 0-RTT early data.", func(s h3Stats) uint64 { return s.EarlyData }),
		counter("too_early_total", "Requests in 0-RTT early data refused with 425 Too Early (unsafe methods).", func(s h3Stats) uint64 { return s.TooEarly }),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registering edge metrics: %w", err)
		}
	}
	return nil
}
