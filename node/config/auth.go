package config

import (
	"net/http"
	"strings"
)

// This file holds what is particular to a route's auth section: its
// defaults and its validation (types.go has the fields).

// Default names of the identity headers (upstream_headers: {}).
const (
	defaultConsumerHeader  = "X-Consumer-Name"
	defaultGroupHeader     = "X-Consumer-Groups"
	defaultAnonymousHeader = "X-Anonymous-Consumer"
)

// reservedUpstreamHeaders can't carry the identity: the hop-by-hop
// headers (RFC 9110 section 7.6.1; the proxy drops them), and those that
// frame or address the request.
var reservedUpstreamHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Host": true, "Content-Length": true,
}

// applyDefaults fills an auth section's defaults: the API key header,
// and the identity headers' names when upstream_headers is present.
func (a *Auth) applyDefaults() {
	if a.APIKey != nil {
		setString(&a.APIKey.Header, "X-API-Key")
	}
	if h := a.UpstreamHeaders; h != nil {
		setString(&h.Consumer, defaultConsumerHeader)
		setString(&h.Group, defaultGroupHeader)
		setString(&h.Anonymous, defaultAnonymousHeader)
	}
}

// auth checks route r's auth section a: a method, header, query and
// cookie names, and the identity headers' names.
func (v *validator) auth(a *Auth, r *Route, label string) {
	k := a.APIKey
	if k == nil {
		v.errorf(v.at(a, r), "%s: auth needs a method: api_key: {} (header X-API-Key)", label)
	} else {
		if !isToken(k.Header) {
			v.errorf(v.at(&k.Header, k), "%s: auth.api_key.header %s is not a valid header name", label, v.show(&k.Header, k.Header))
		}
		if k.Cookie != "" && !isToken(k.Cookie) {
			v.errorf(v.at(&k.Cookie, k), "%s: auth.api_key.cookie %s is not a valid cookie name", label, v.show(&k.Cookie, k.Cookie))
		}
	}
	h := a.UpstreamHeaders
	if h == nil {
		return
	}
	seen := map[string]string{}
	if k != nil && isToken(k.Header) {
		seen[http.CanonicalHeaderKey(k.Header)] = "api_key.header"
	}
	for _, f := range []struct {
		name string
		val  *string
	}{{"consumer", &h.Consumer}, {"group", &h.Group}, {"anonymous", &h.Anonymous}} {
		at := v.at(f.val, h)
		canon := http.CanonicalHeaderKey(*f.val)
		switch {
		case !isToken(*f.val):
			v.errorf(at, "%s: auth.upstream_headers.%s %s is not a valid header name", label, f.name, v.show(f.val, *f.val))
		case reservedUpstreamHeaders[canon]:
			v.errorf(at, "%s: auth.upstream_headers.%s %s can't carry the identity: it is a hop-by-hop or framing header; use a name of your own, e.g. %s",
				label, f.name, v.show(f.val, *f.val), defaultConsumerHeader)
		case seen[canon] != "":
			v.errorf(at, "%s: auth.upstream_headers.%s %s is the same header as auth.%s (names ignore case): use distinct names",
				label, f.name, v.show(f.val, *f.val), strings.TrimPrefix(seen[canon], "auth."))
		default:
			seen[canon] = "upstream_headers." + f.name
		}
	}
}
