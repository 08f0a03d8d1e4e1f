package cache

import "net/http"

// overrideHeaders make some frameworks answer for another URL, method or
// host than the request line says (the classic unkeyed inputs of cache
// poisoning). A fill never sends them upstream.
var overrideHeaders = []string{
	"X-Original-Url", "X-Rewrite-Url",
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
	"X-Forwarded-Server", "X-Host",
}

// forwardingHeaders describe the client-side host, scheme, port or prefix;
// upstreams build absolute URLs and redirects from them. A fill drops them
// unless the policy keys them (Key.Headers or Vary): the node's proxy then
// sets fresh X-Forwarded-Host/-Proto and Forwarded from what it knows.
var forwardingHeaders = []string{
	"X-Forwarded-Host", "X-Forwarded-Scheme", "X-Forwarded-Proto",
	"X-Forwarded-Port", "X-Forwarded-Prefix", "Forwarded",
}

// fillDropped are client headers that concern the client's own copy, not
// the cache's request: its conditionals (the cache answers them) and its
// Cache-Control and Pragma (the cache's choice about client directives is
// in doc.go; forwarding them would let one client's no-cache reach
// upstream caches for everybody).
var fillDropped = []string{"If-None-Match", "If-Modified-Since", "Cache-Control", "Pragma"}

// upstreamRequest is the request a fill sends to next: r without a body,
// without the headers above, and conditional on stale's validators when
// there is a stale entry to revalidate. r's own headers are not touched.
func (p *policy) upstreamRequest(r *http.Request, stale *entry) *http.Request {
	out := *r
	out.Body, out.ContentLength, out.TransferEncoding = http.NoBody, 0, nil
	out.Header = r.Header.Clone()
	if out.Header == nil {
		out.Header = make(http.Header)
	}
	for _, k := range overrideHeaders {
		delete(out.Header, k)
	}
	for _, k := range forwardingHeaders {
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
