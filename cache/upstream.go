package cache

import "net/http"

// overrideHeaders are the request headers that let some upstreams answer
// for another host, scheme, port, path or method than the request line
// and Host say: the classic unkeyed inputs of cache poisoning (frameworks
// build absolute links and redirects from them, or route by them). This
// is the one list: a fill never sends them upstream unless the policy
// keys them (Key.Headers or Vary), and then each value has its own entry.
// The node's proxy sets fresh X-Forwarded-Host, X-Forwarded-Proto and
// Forwarded from the fill's Host and scheme. doc.go and the README's
// cache section name the same headers.
var overrideHeaders = []string{
	// host
	"X-Forwarded-Host", "X-Forwarded-Server", "X-Host", "X-Http-Host-Override", "X-Original-Host",
	"Forwarded",
	// scheme and port
	"X-Forwarded-Proto", "X-Forwarded-Scheme", "X-Forwarded-Ssl", "Front-End-Https", "X-Url-Scheme",
	"X-Forwarded-Port",
	// path
	"X-Original-Url", "X-Original-Uri", "X-Rewrite-Url", "X-Forwarded-Path", "X-Forwarded-Prefix",
	"X-Forwarded-Uri",
	// method
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
}

// fillDropped are client headers that concern the client's own copy, not
// the cache's request: its conditionals (the cache answers them) and its
// Cache-Control and Pragma (the cache's choice about client directives is
// in doc.go; forwarding them would let one client's no-cache reach
// upstream caches for everybody).
var fillDropped = []string{"If-None-Match", "If-Modified-Since", "Cache-Control", "Pragma"}

// upstreamRequest is the request a fill sends to next: r without a body,
// without the headers above, with the Host as the key has it (lower-case,
// no port, no trailing dot: the upstream must not see what the key leaves
// out), and conditional on stale's validators when there is a stale
// entry to revalidate. r itself is not touched.
func (p *policy) upstreamRequest(r *http.Request, stale *entry) *http.Request {
	out := *r
	out.Body, out.ContentLength, out.TransferEncoding = http.NoBody, 0, nil
	out.Host = normalizeHost(r.Host)
	out.Header = r.Header.Clone()
	if out.Header == nil {
		out.Header = make(http.Header)
	}
	for _, k := range overrideHeaders {
		if !p.keyed[k] {
			delete(out.Header, k)
		}
	}
	for _, k := range fillDropped {
		delete(out.Header, k)
	}
	if stale != nil && !stale.marker {
		if v := stale.header["Etag"]; len(v) > 0 {
			out.Header["If-None-Match"] = v
		}
		if v := stale.header["Last-Modified"]; len(v) > 0 {
			out.Header["If-Modified-Since"] = v
		}
	}
	return &out
}

// sentValidators reports whether a fill of stale was conditional.
func sentValidators(stale *entry) bool {
	return stale != nil && hasValidator(stale.header)
}
