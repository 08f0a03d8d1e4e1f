package proxy

import (
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the address of the client that sent r: the immediate
// peer (r.RemoteAddr), or, when that peer is one of trusted, the rightmost
// address of X-Forwarded-For that is not trusted (the last hop that no
// trusted proxy vouches for). If every listed address is trusted, the
// leftmost is returned; an unparsable entry ends the walk at the address
// to its right. The result is the zero Addr only when RemoteAddr is not an
// address (e.g. in tests that leave it empty).
//
// Without X-Forwarded-For, the for= parameters of Forwarded (RFC 7239) are
// walked the same way: "for=192.0.2.1", quoted "[2001:db8::1]:4711" and
// ports are understood; an element that names no address (for=unknown, an
// obfuscated identifier such as for=_hidden, or no for= at all) ends the
// walk at the address to its right, since no trusted proxy vouches for
// what lies left of it. X-Forwarded-For wins when both are present: it is
// what most proxies and load balancers send, and the gateway appends to
// both alike, so a chain of Portico nodes keeps them in step.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	client := peerAddr(r.RemoteAddr)
	if !client.IsValid() || !isTrusted(client, trusted) {
		return client
	}
	values := r.Header["X-Forwarded-For"]
	if len(values) == 0 {
		if fwd := r.Header["Forwarded"]; len(fwd) > 0 {
			return walkForwarded(client, forwardedFors(fwd), trusted)
		}
	}
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var entry string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				entry, v = v[j+1:], v[:j]
			} else {
				entry, v = v, ""
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			a := parseForwardedAddr(entry)
			if !a.IsValid() {
				return client
			}
			client = a
			if !isTrusted(a, trusted) {
				return a
			}
		}
	}
	return client
}

// walkForwarded walks the for= values of Forwarded's elements (one per
// element, "" where an element has none) from the right, as ClientIP
// walks X-Forwarded-For.
func walkForwarded(client netip.Addr, fors []string, trusted []netip.Prefix) netip.Addr {
	for i := len(fors) - 1; i >= 0; i-- {
		a := parseForwardedAddr(fors[i])
		if !a.IsValid() {
			return client
		}
		client = a
		if !isTrusted(a, trusted) {
			return a
		}
	}
	return client
}

// forwardedFors returns the for= value of each element of Forwarded header
// lines (RFC 7239 §4: elements split by ",", pairs by ";", values tokens
// or quoted strings, names case-insensitive); "" for an element without
// one.
func forwardedFors(lines []string) []string {
	var out []string
	for _, s := range lines {
		val := ""
		for {
			s = strings.TrimLeft(s, " \t")
			if s == "" {
				break
			}
			switch s[0] {
			case ',':
				out, val = append(out, val), ""
				s = s[1:]
				continue
			case ';':
				s = s[1:]
				continue
			}
			end := strings.IndexAny(s, "=,;")
			if end < 0 || s[end] != '=' { // not a pair: skip it
				s = s[max(end, 0):]
				if end < 0 {
					s = ""
				}
				continue
			}
			name := strings.TrimSpace(s[:end])
			var v string
			v, s = forwardedValue(s[end+1:])
			if val == "" && strings.EqualFold(name, "for") {
				val = v
			}
		}
		out = append(out, val)
	}
	return out
}

// forwardedValue reads a token or quoted string from the start of s and
// returns it (unquoted) and the rest. An unterminated quote yields "".
func forwardedValue(s string) (v, rest string) {
	if !strings.HasPrefix(s, `"`) {
		end := strings.IndexAny(s, ",;")
		if end < 0 {
			end = len(s)
		}
		return strings.TrimSpace(s[:end]), s[end:]
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(s[i])
		}
	}
	return "", ""
}

// peerAddr parses a RemoteAddr ("ip:port", or a bare ip).
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}

// parseForwardedAddr parses an X-Forwarded-For entry: "ip", "ip:port",
// "[v6]" or "[v6]:port".
func parseForwardedAddr(s string) netip.Addr {
	if a := peerAddr(s); a.IsValid() {
		return a
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return peerAddr(s[1 : len(s)-1])
	}
	return netip.Addr{}
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// setForwarded sets X-Forwarded-For, -Proto, -Host and Forwarded on out.
// From a trusted peer, incoming values are kept: the peer's address is
// appended to X-Forwarded-For and an element to Forwarded, while
// X-Forwarded-Proto and -Host are passed through (they describe the
// original request; several lines are joined) and set only when absent.
// From anyone else, incoming values are discarded and fresh ones set.
// ReverseProxy has removed all four from out; they are read from in.
func (h *Handler) setForwarded(in, out *http.Request) {
	peer := peerAddr(in.RemoteAddr)
	trust := peer.IsValid() && isTrusted(peer, h.up.opts.TrustedProxies)
	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	// One backing array for the four header values: one allocation.
	vals := make([]string, 4)
	vals[1] = passOrSet(in.Header["X-Forwarded-Proto"], trust, proto)
	vals[2] = passOrSet(in.Header["X-Forwarded-Host"], trust, in.Host)
	vals[3] = forwardedElement(peer, proto, in.Host)
	if prior := in.Header["Forwarded"]; trust && len(prior) > 0 {
		vals[3] = strings.Join(prior, ", ") + ", " + vals[3]
	}
	if peer.IsValid() {
		vals[0] = addrText(in.RemoteAddr, peer)
		if prior := in.Header["X-Forwarded-For"]; trust && len(prior) > 0 {
			vals[0] = strings.Join(prior, ", ") + ", " + vals[0]
		}
		out.Header["X-Forwarded-For"] = vals[0:1:1]
	}
	out.Header["X-Forwarded-Proto"] = vals[1:2:2]
	out.Header["X-Forwarded-Host"] = vals[2:3:3]
	out.Header["Forwarded"] = vals[3:4:4]
}

func passOrSet(prior []string, trust bool, fresh string) string {
	if trust && len(prior) > 0 {
		return strings.Join(prior, ", ")
	}
	return fresh
}

// addrText is a.String(), taken from remote ("ip:port") without
// allocating when remote holds a plain IPv4 address (always canonical:
// netip refuses other spellings).
func addrText(remote string, a netip.Addr) string {
	if a.Is4() && !strings.HasPrefix(remote, "[") {
		if i := strings.LastIndexByte(remote, ':'); i >= 0 {
			return remote[:i]
		}
		return remote
	}
	return a.String()
}

// forwardedElement is one RFC 7239 element: for=, proto=, host=. An IPv6
// address is quoted in brackets; the host is always quoted (it may hold a
// port's colon, which a token cannot).
func forwardedElement(peer netip.Addr, proto, host string) string {
	var tmp [64]byte // for the address, without allocating
	var b strings.Builder
	b.Grow(len(`for="[]";proto=https;host=""`) + len("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255") + 2*len(host))
	b.WriteString("for=")
	switch {
	case !peer.IsValid():
		b.WriteString("unknown")
	case peer.Is6():
		b.WriteString(`"[`)
		b.Write(peer.AppendTo(tmp[:0]))
		b.WriteString(`]"`)
	default:
		b.Write(peer.AppendTo(tmp[:0]))
	}
	b.WriteString(";proto=")
	b.WriteString(proto)
	if host != "" {
		b.WriteString(`;host="`)
		for i := 0; i < len(host); i++ {
			if host[i] == '"' || host[i] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(host[i])
		}
		b.WriteByte('"')
	}
	return b.String()
}
