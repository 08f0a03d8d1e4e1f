package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// This file validates a decoded, defaulted document: node settings here,
// upstreams and routes in validate_gateway.go, route conflicts in
// conflict.go. Every problem is collected, each at the line:col of the key
// or item at fault; nothing stops at the first.

// validator collects the problems of one document.
type validator struct {
	file    string
	origins origins
	errs    Errors
}

// errorf reports a problem at o. A value that already failed to decode is
// not reported again.
func (v *validator) errorf(o origin, format string, args ...any) {
	if o.bad {
		return
	}
	v.errs = append(v.errs, Error{File: v.file, Line: o.line, Col: o.col, Msg: fmt.Sprintf(format, args...)})
}

// at returns the origin of the first key that has one (see origins.place).
func (v *validator) at(keys ...any) origin { return v.origins.place(keys...) }

// show quotes a value for a message, hiding substituted values.
func (v *validator) show(key any, val string) string { return v.origins.show(key, val) }

// explain is err's message, without any part of the value when the value
// at key came from a variable.
func (v *validator) explain(key any, err error) string {
	var ve valueError
	if v.origins[key].subst && errors.As(err, &ve) {
		return ve.generic
	}
	return err.Error()
}

// enum checks that val is one of the values rules.go allows for field id.
func (v *validator) enum(key any, id, label, val string) {
	allowed := enumOf(id)
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	v.errorf(v.at(key), "%s %s is not valid: use one of %s", label, v.show(key, val), strings.Join(allowed, ", "))
}

func (v *validator) node(n *Node) {
	if n.Listen == "off" {
		if n.TLS == nil {
			v.errorf(v.at(&n.Listen, n), `node.listen is "off" and node.tls is not set: the node would serve nothing; set node.tls or a listen address`)
		}
	} else if err := checkListen(n.Listen); err != nil {
		v.errorf(v.at(&n.Listen, n), `node.listen %s %v, or "off"`, v.show(&n.Listen, n.Listen), err)
	}
	if n.TLS != nil {
		v.tls(n.TLS, n)
	}
	v.server(&n.Server, n)
	if l := n.Server.IPRateLimit; l != nil && l.Rate.Count <= 0 {
		v.errorf(v.at(&l.Rate, l, &n.Server, n), "node.server.ip_rate_limit needs a rate, e.g. rate: 200/s")
	}
	v.admin(n)
	if n.Cluster != nil {
		v.cluster(n.Cluster, n)
	}
	v.enum(&n.Log.Level, "Log.Level", "node.log.level", n.Log.Level)
	v.enum(&n.Log.Format, "Log.Format", "node.log.format", n.Log.Format)
	for i := range n.TrustedProxies {
		p := &n.TrustedProxies[i]
		if !isCIDROrIP(*p) {
			v.errorf(v.at(p, &n.TrustedProxies), "node.trusted_proxies entry %s is not a CIDR or an IP address (e.g. 10.0.0.0/8, 192.0.2.7)", v.show(p, *p))
		}
	}
}

// tls checks the HTTPS edge: its address, certificates and QUIC limits.
func (v *validator) tls(t *TLS, n *Node) {
	if err := checkListen(t.Listen); err != nil {
		v.errorf(v.at(&t.Listen, t, n), "node.tls.listen %s %v", v.show(&t.Listen, t.Listen), err)
	} else if n.Listen != "off" && samePort(n.Listen, t.Listen) {
		v.errorf(v.at(&t.Listen, t, n), "node.tls.listen %s uses the same port as node.listen %s: give HTTPS its own port (e.g. :8443)", v.show(&t.Listen, t.Listen), v.show(&n.Listen, n.Listen))
	}
	if len(t.Certificates) == 0 && !t.DevCertificate {
		v.errorf(v.at(&t.Certificates, t, n), "node.tls needs certificates (- {cert: FILE, key: FILE}) or dev_certificate: true for a local development CA")
	}
	for i := range t.Certificates {
		c := &t.Certificates[i]
		if c.Cert == "" {
			v.required(&c.Cert, c, fmt.Sprintf("node.tls.certificates[%d]", i), "cert")
		}
		if c.Key == "" {
			v.required(&c.Key, c, fmt.Sprintf("node.tls.certificates[%d]", i), "key")
		}
	}
	v.enum(&t.MinVersion, "TLS.MinVersion", "node.tls.min_version", t.MinVersion)
	h := &t.HTTP3
	if h.MaxStreams < 1 {
		v.errorf(v.at(&h.MaxStreams, h, t, n), "node.tls.http3.max_streams must be at least 1")
	}
	if h.StreamReceiveWindow > h.ConnectionReceiveWindow {
		v.errorf(v.at(&h.StreamReceiveWindow, h, t, n), "node.tls.http3.stream_receive_window (%v) is larger than connection_receive_window (%v)", h.StreamReceiveWindow, h.ConnectionReceiveWindow)
	}
}

// server checks the connection limits (the decoder refuses counts below
// -1, which means no limit).
func (v *validator) server(s *Server, n *Node) {
	if s.MaxConcurrentStreams < 1 {
		v.errorf(v.at(&s.MaxConcurrentStreams, s, n), "node.server.max_concurrent_streams must be at least 1")
	}
	if s.MaxConns > 0 && s.MaxConnsPerIP > s.MaxConns {
		v.errorf(v.at(&s.MaxConnsPerIP, s, n), "node.server.max_conns_per_ip (%d) is larger than max_conns (%d)", s.MaxConnsPerIP, s.MaxConns)
	}
}

// samePort reports whether two listen addresses would clash: same port
// and the same host, or either on every interface.
func samePort(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb || pa == "0" {
		return false
	}
	return ha == hb || ha == "" || hb == "" || ha == "0.0.0.0" || hb == "0.0.0.0" || ha == "::" || hb == "::"
}

// admin checks the admin listener: a host:port or "off", and a token
// unless only this host can reach it.
func (v *validator) admin(n *Node) {
	a := &n.Admin
	if a.Listen == "off" {
		return
	}
	if err := checkListen(a.Listen); err != nil {
		v.errorf(v.at(&a.Listen, a, n), `node.admin.listen %s %v, or "off"`, v.show(&a.Listen, a.Listen), err)
		return
	}
	switch {
	case a.Token == redactedValue:
		v.errorf(v.at(&a.Token, a, n), "node.admin.token is %q, copied from a redacted config: set the real token", redactedValue)
	case isLoopback(a.Listen):
	case a.Token == "":
		v.errorf(v.at(&a.Listen, a, n), `node.admin.listen %s is reachable from other hosts, so the admin API needs a token: set node.admin.token (e.g. token: "${PORTICO_ADMIN_TOKEN}") or listen on 127.0.0.1`, v.show(&a.Listen, a.Listen))
	case len(a.Token) < MinAdminToken:
		// The message never quotes the token.
		v.errorf(v.at(&a.Token, a, n), "node.admin.token has %d characters; an admin API reachable from other hosts (node.admin.listen %s) needs at least %d (make one with `openssl rand -hex 16`)", len(a.Token), v.show(&a.Listen, a.Listen), MinAdminToken)
	}
	if t := a.TLS; t != nil {
		if t.Cert == "" {
			v.required(&t.Cert, t, "node.admin.tls", "cert")
		}
		if t.Key == "" {
			v.required(&t.Key, t, "node.admin.tls", "key")
		}
	}
}

// MinAdminToken is the shortest node.admin.token a non-loopback admin
// API accepts: a guessable token is no token.
const MinAdminToken = 16

// checkListen checks a listen address: "host:port" or ":port" with a
// numeric port (0 asks the system for a free one).
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf(`must be host:port, e.g. ":8080" or "127.0.0.1:8080"`)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n > 65535 {
		return fmt.Errorf("has an invalid port: use a number from 0 to 65535")
	}
	if hasSpaceOrControl(host) {
		return fmt.Errorf("has an invalid host")
	}
	return nil
}

// isLoopback reports whether a listen address is reachable from this host
// only. An empty host listens on every interface.
func isLoopback(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func isCIDROrIP(s string) bool {
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// required reports an empty required field of an item: at its key when it
// is present but empty, at the item when the key is missing.
func (v *validator) required(key, item any, what, name string) {
	if o, ok := v.origins[key]; ok {
		v.errorf(o, "%s: %q must not be empty", what, name)
		return
	}
	v.errorf(v.at(item), "%s is missing %q", what, name)
}

// cluster checks the cluster section: addresses, seeds, voters and key.
func (v *validator) cluster(c *Cluster, n *Node) {
	for _, ep := range []struct {
		name string
		e    *Endpoint
	}{{"gossip", &c.Gossip}, {"raft", &c.Raft}, {"peer", &c.Peer}} {
		if err := checkListen(ep.e.Bind); err != nil {
			v.errorf(v.at(&ep.e.Bind, ep.e, c, n), "node.cluster.%s.bind %s %v", ep.name, v.show(&ep.e.Bind, ep.e.Bind), err)
		}
		if a := ep.e.Advertise; a != "" {
			if host, _, err := net.SplitHostPort(a); err != nil || host == "" || checkListen(a) != nil {
				v.errorf(v.at(&ep.e.Advertise, ep.e, c, n), "node.cluster.%s.advertise %s must be host:port with a host others can reach", ep.name, v.show(&ep.e.Advertise, a))
			}
		}
	}
	for i := range c.Join {
		j := &c.Join[i]
		if host, _, err := net.SplitHostPort(*j); err != nil || host == "" || checkListen(*j) != nil {
			v.errorf(v.at(j, &c.Join, c, n), "node.cluster.join entry %s must be host:port of another node's gossip address, e.g. \"10.0.0.2:7946\"", v.show(j, *j))
		}
	}
	if c.BootstrapExpect < 0 {
		v.errorf(v.at(&c.BootstrapExpect, c, n), "node.cluster.bootstrap_expect must be 0 (join an existing cluster) or the number of servers of a new cluster")
	}
	switch c.Voters {
	case 1, 3, 5, 7:
	default:
		v.errorf(v.at(&c.Voters, c, n), "node.cluster.voters must be 1, 3, 5 or 7 (an odd number keeps a majority possible)")
	}
	if c.BootstrapExpect > 0 && c.Server != nil && !*c.Server {
		v.errorf(v.at(&c.BootstrapExpect, c, n), "node.cluster.bootstrap_expect needs node.cluster.server: true (only servers bootstrap Raft)")
	}
	switch {
	case c.GossipKey == "" && c.GossipKeyFile == "":
		v.errorf(v.at(&c.GossipKey, c, n), "node.cluster needs a cluster key: set gossip_key (e.g. \"${PORTICO_GOSSIP_KEY}\"; make one with `portico keygen`) or gossip_key_file")
	case c.GossipKey != "" && c.GossipKeyFile != "":
		v.errorf(v.at(&c.GossipKeyFile, c, n), "node.cluster: set gossip_key or gossip_key_file, not both")
	case c.GossipKey == redactedValue:
		v.errorf(v.at(&c.GossipKey, c, n), "node.cluster.gossip_key is %q, copied from a redacted config: set the real cluster key", redactedValue)
	case c.GossipKey != "":
		if err := CheckKey(c.GossipKey); err != nil {
			v.errorf(v.at(&c.GossipKey, c, n), "node.cluster.gossip_key %v", err)
		}
	}
}

// CheckKey checks a cluster key: base64 (standard) of 16, 24 or 32
// bytes. The message never quotes the key.
func CheckKey(s string) error {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("is not base64: make a key with `portico keygen`")
	}
	switch len(b) {
	case 16, 24, 32:
		return nil
	}
	return fmt.Errorf("decodes to %d bytes; a key has 16, 24 or 32 (make one with `portico keygen`)", len(b))
}
