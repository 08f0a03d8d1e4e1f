package cache

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// KeyOf returns the cache key the Middleware uses for r under p, so that
// purges by key and tests agree with it. The key is one line of
// space-separated fields:
//
//		GET https://example.com/a/b?x=1&y=2 h:accept-language=en c:session=abc u:alice
//
//	  - the method;
//	  - the URL: scheme (https when r.TLS is set), lower-case host without
//	    its port or a trailing dot (routes ignore the port too, so every
//	    listener and every node of a cluster shares one entry; fills send
//	    the upstream this host, never the port, see upstreamRequest), the
//	    normalized path (escapes of unreserved
//	    characters decoded, other escapes upper-case, "//" collapsed, dot
//	    segments resolved: what the node forwards upstream) and the query
//	    with its parameters sorted by name (stable: repeated names keep
//	    their order) minus Key.IgnoreQuery;
//	  - "h:name=value" per Key.Headers, "c:name=value" per Key.Cookies and
//	    "u:id" for Key.Consumer, values query-escaped, names sorted. (The
//	    owner keys a peer's fill with the consumer in its Fill, which the
//	    asker got from Key.Consumer.)
//
// Purge by prefix matches the URL field. Vary (the policy's and the
// upstream's) never changes the key: variants are stored under secondary
// keys beside it. KeyOf returns "" when r's path is malformed (a bad
// escape, a control character or a backslash), which the Middleware sends
// around the cache. It is safe for concurrent use.
func KeyOf(r *http.Request, p Policy) string {
	c, err := compile(p)
	if err != nil {
		return ""
	}
	return c.keyOf(r)
}

func (p *policy) keyOf(r *http.Request) string {
	var consumer string
	if p.Key.Consumer != nil {
		consumer = p.Key.Consumer(r)
	}
	return p.key(r, consumer)
}

// key is r's key with consumer as its consumer part (used only when the
// policy keys by consumer): Key.Consumer(r) for a client's request, the
// asker's Fill.Consumer for a peer's fill, which carries no node state
// Key.Consumer could read.
func (p *policy) key(r *http.Request, consumer string) string {
	path, ok := normalizePath(r.URL.EscapedPath())
	if !ok {
		return ""
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := normalizeHost(r.Host)
	query := p.normalizeQuery(r.URL.RawQuery)
	var b strings.Builder
	b.Grow(len(r.Method) + len(scheme) + len(host) + len(path) + len(query) + 6 + p.extrasSize(r, consumer))
	b.WriteString(r.Method)
	b.WriteByte(' ')
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	b.WriteString(path)
	if query != "" {
		b.WriteByte('?')
		b.WriteString(query)
	}
	p.writeExtras(&b, r, consumer)
	return b.String()
}

// extrasSize guesses the bytes writeExtras adds, to size the builder.
func (p *policy) extrasSize(r *http.Request, consumer string) int {
	n := 0
	for _, h := range p.keyHeaders {
		n += len(h) + 4
		for _, v := range r.Header[h] {
			n += len(v) + 1
		}
	}
	for _, c := range p.keyCookies {
		n += len(c) + 16
	}
	if p.Key.Consumer != nil {
		n += len(consumer) + 8
	}
	return n
}

func (p *policy) writeExtras(b *strings.Builder, r *http.Request, consumer string) {
	for _, h := range p.keyHeaders {
		b.WriteString(" h:")
		b.WriteString(strings.ToLower(h))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(strings.Join(r.Header[h], ",")))
	}
	for _, name := range p.keyCookies {
		b.WriteString(" c:")
		b.WriteString(url.QueryEscape(name))
		b.WriteByte('=')
		if c, err := r.Cookie(name); err == nil {
			b.WriteString(url.QueryEscape(c.Value))
		}
	}
	if p.Key.Consumer != nil {
		b.WriteString(" u:")
		b.WriteString(url.QueryEscape(consumer))
	}
}

// KeyURL returns the URL field of a key ("https://example.com/a?x=1"):
// what a purge by prefix matches.
func KeyURL(key string) string {
	_, rest, _ := strings.Cut(key, " ")
	u, _, _ := strings.Cut(rest, " ")
	return u
}

// variantKey is the secondary key of r's variant of primary: the values of
// the vary headers (lower-case names), each value list joined by "," with
// the spaces around commas dropped.
func variantKey(primary string, vary []string, r *http.Request) string {
	var b strings.Builder
	b.WriteString(primary)
	for _, name := range vary {
		b.WriteString(" v:")
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(varyValue(r.Header.Values(name))))
	}
	return b.String()
}

func varyValue(vals []string) string {
	if len(vals) == 1 && !strings.Contains(vals[0], ", ") {
		return strings.TrimSpace(vals[0])
	}
	var parts []string
	for _, v := range vals {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				parts = append(parts, f)
			}
		}
	}
	return strings.Join(parts, ",")
}

// normalizeHost lower-cases host and drops its port and a trailing dot:
// the host of a key, and the Host a fill sends upstream.
func normalizeHost(host string) string {
	host = stripPort(host)
	host = strings.TrimSuffix(host, ".")
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}

// stripPort drops the port of a Host header value: "[::1]:8443" → "[::1]",
// "example.com:8080" → "example.com". Routes match hosts without their
// port, so the port can't change which route (and upstream) answers; the
// nodes of a cluster, each on its own port, then share one key.
func stripPort(host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || strings.IndexByte(host[i:], ']') >= 0 {
		return host
	}
	if host[0] != '[' && strings.IndexByte(host[:i], ':') >= 0 {
		return host // a bare IPv6 address, no port
	}
	return host[:i]
}

// normalizeQuery sorts raw's parameters by name (stable), drops ignored and
// empty ones, and normalizes their escapes. It does not allocate when raw
// is already in that form.
func (p *policy) normalizeQuery(raw string) string {
	if raw == "" || p.ignoreAll {
		return ""
	}
	if p.ignore == nil && queryCanonical(raw) {
		return raw
	}
	var params []string
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		part = normalizeEscapes(part, true)
		if p.ignore != nil {
			name, _, _ := strings.Cut(part, "=")
			if dec, err := url.QueryUnescape(name); err == nil && p.ignore[dec] {
				continue
			}
		}
		params = append(params, part)
	}
	slices.SortStableFunc(params, func(a, b string) int {
		return strings.Compare(paramName(a), paramName(b))
	})
	return strings.Join(params, "&")
}

func paramName(p string) string {
	name, _, _ := strings.Cut(p, "=")
	return name
}

// queryCanonical reports whether raw has no empty parameter, no escape or
// byte to normalize and its names in order.
func queryCanonical(raw string) bool {
	prev := ""
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" || normalizeEscapes(part, true) != part {
			return false
		}
		name := paramName(part)
		if name < prev {
			return false
		}
		prev = name
	}
	return true
}

// normalizeEscapes decodes escapes of unreserved characters, upper-cases
// the others, encodes a "%" that starts no escape and bytes that may not
// appear raw (controls, space, non-ASCII and, in a path, '?' and '#'). It
// returns s itself when nothing changes.
func normalizeEscapes(s string, query bool) string {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) && !isUnreserved(unhex(s[i+1])<<4|unhex(s[i+2])) &&
				!isLowerHex(s[i+1]) && !isLowerHex(s[i+2]) {
				i += 2
				continue
			}
			break
		}
		if needsEscape(c, query) {
			break
		}
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(v) {
				b.WriteByte(v)
			} else {
				writeEscape(&b, v)
			}
			i += 2
		case c == '%' || needsEscape(c, query):
			writeEscape(&b, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func needsEscape(c byte, query bool) bool {
	if c <= ' ' || c >= 0x7f || c == '#' || c == '"' || c == '<' || c == '>' || c == '\\' || c == '`' ||
		c == '^' || c == '{' || c == '|' || c == '}' {
		return true
	}
	return !query && c == '?'
}

func writeEscape(b *strings.Builder, v byte) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(hex[v>>4])
	b.WriteByte(hex[v&15])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isLowerHex(c byte) bool { return 'a' <= c && c <= 'f' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// normalizePath returns the canonical form of an escaped path, as the
// node's router forwards it: escapes normalized (normalizeEscapes), runs of
// "/" collapsed, "." and ".." segments resolved (".." never above the
// root), a trailing slash kept. It refuses (false) a path that does not
// start with "/", a bad escape, a control character or a backslash, raw or
// encoded: the router answers those 400 and the cache stays out of it.
func normalizePath(p string) (string, bool) {
	if p == "" || p[0] != '/' {
		return "", false
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c < ' ' || c == 0x7f || c == '\\':
			return "", false
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return "", false
			}
			if v := unhex(p[i+1])<<4 | unhex(p[i+2]); v == 0 || v == '\\' {
				return "", false
			}
		}
	}
	p = normalizeEscapes(p, false)
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p, true
	}
	return resolveSegments(p), true
}

// resolveSegments collapses "//" and resolves dot segments of an
// escape-normalized path.
func resolveSegments(p string) string {
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	trailing := false
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case "":
			trailing = last
			continue
		case ".":
			trailing = last
			continue
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			trailing = last
			continue
		}
		out = append(out, s)
		trailing = false
	}
	res := "/" + strings.Join(out, "/")
	if trailing && len(out) > 0 {
		res += "/"
	}
	return res
}
