package config

import (
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file holds what is particular to a route's cors section: its
// defaults and its validation (types.go has the fields).

// defaultCORSMethods are the methods a route that takes any method
// allows cross-origin by default: the CORS-safelisted ones.
var defaultCORSMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost}

// defaultCORSHeaders are the request headers allowed by default besides
// the route's API key header: what fetch and XMLHttpRequest add most.
var defaultCORSHeaders = []string{"Accept", "Content-Type", "X-Requested-With"}

// applyDefaults fills the lists a cors section of route r leaves empty
// (see the fields of CORS). r's own defaults (auth's header) are applied.
func (c *CORS) applyDefaults(r *Route) {
	if len(c.AllowMethods) == 0 {
		if len(r.Match.Methods) == 0 {
			c.AllowMethods = slices.Clone(defaultCORSMethods)
		} else {
			c.AllowMethods = slices.Clone(r.Match.Methods)
			if slices.Contains(c.AllowMethods, http.MethodGet) && !slices.Contains(c.AllowMethods, http.MethodHead) {
				c.AllowMethods = append(c.AllowMethods, http.MethodHead)
			}
		}
	}
	if len(c.AllowHeaders) == 0 {
		c.AllowHeaders = slices.Clone(defaultCORSHeaders)
		if a := r.Auth; a != nil && a.APIKey != nil && a.APIKey.Header != "" &&
			!slices.ContainsFunc(c.AllowHeaders, func(h string) bool { return strings.EqualFold(h, a.APIKey.Header) }) {
			c.AllowHeaders = append(c.AllowHeaders, a.APIKey.Header)
		}
	}
}

// cors checks a route's cors section: origins, methods, header names,
// credentials against "*", and max_age in whole seconds.
func (v *validator) cors(c *CORS, label string) {
	if len(c.AllowOrigins) == 0 {
		v.required(&c.AllowOrigins, c, label+": cors", "allow_origins")
	}
	anyOrigin := false
	for i := range c.AllowOrigins {
		o := &c.AllowOrigins[i]
		at := v.at(o, &c.AllowOrigins, c)
		if *o == "*" {
			anyOrigin = true
			if len(c.AllowOrigins) > 1 {
				v.errorf(at, `%s: cors.allow_origins lists "*" with other origins: write ["*"] for any origin, or list the origins`, label)
			}
			continue
		}
		if err := checkOrigin(*o); err != nil {
			v.errorf(at, "%s: cors.allow_origins entry %s %s", label, v.show(o, *o), v.explain(o, err))
		}
	}
	if c.AllowCredentials && anyOrigin {
		v.errorf(v.at(&c.AllowCredentials, c), `%s: cors.allow_credentials can't be used with allow_origins ["*"]: the CORS protocol forbids credentials for any origin (browsers refuse the answer); list the origins`, label)
	}
	for i := range c.AllowMethods {
		m := &c.AllowMethods[i]
		at := v.at(m, &c.AllowMethods, c)
		switch {
		case *m == "*" || !isToken(*m):
			v.errorf(at, "%s: cors.allow_methods entry %s is not an HTTP method: list the methods, e.g. [GET, POST]", label, v.show(m, *m))
		case strings.ToUpper(*m) != *m:
			err := valueError{"must be upper case (" + strconv.Quote(strings.ToUpper(*m)) + ")", "must be upper case"}
			v.errorf(at, "%s: cors.allow_methods entry %s %s", label, v.show(m, *m), v.explain(m, err))
		}
	}
	for _, list := range []struct {
		name  string
		addr  *[]string
		items []string
	}{{"allow_headers", &c.AllowHeaders, c.AllowHeaders}, {"expose_headers", &c.ExposeHeaders, c.ExposeHeaders}} {
		for i := range list.items {
			h := &list.items[i]
			at := v.at(h, list.addr, c)
			switch {
			case !isToken(*h) || strings.Contains(*h, "*") && *h != "*":
				v.errorf(at, "%s: cors.%s entry %s is not a header name (or \"*\")", label, list.name, v.show(h, *h))
			case *h == "*" && list.name == "expose_headers" && c.AllowCredentials:
				v.errorf(at, `%s: cors.expose_headers "*" exposes every header only without credentials (with allow_credentials browsers read it as a header named "*"): list the headers`, label)
			}
		}
	}
	if d := c.MaxAge.D(); d%time.Second != 0 {
		v.errorf(v.at(&c.MaxAge, c), "%s: cors.max_age %v is not whole seconds: browsers read Access-Control-Max-Age in seconds (e.g. 10m, 600s)", label, d)
	}
}

// checkOrigin checks an origin of allow_origins other than "*":
// scheme://host[:port], the host possibly "*.domain" or an [IPv6]
// address, no path, query, fragment or user info.
func checkOrigin(s string) error {
	if s == "null" {
		return errors.New(`can't be allowed: "null" is the origin of sandboxed frames and local files, which any page can make; list real origins`)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !validScheme(scheme) {
		return errors.New("must be scheme://host[:port], e.g. https://app.example.com")
	}
	if scheme != strings.ToLower(scheme) {
		return valueError{"must be lower case (" + strconv.Quote(strings.ToLower(scheme)+"://"+rest) + ")", "must be lower case"}
	}
	if i := strings.IndexAny(rest, "/?#@"); i >= 0 {
		if rest[i] == '/' {
			return errors.New(`must not have a path: an origin is scheme://host[:port] (drop the trailing "/")`)
		}
		return errors.New("must be scheme://host[:port] only: no user info, query or fragment")
	}
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return errors.New("has an unclosed [IPv6] address")
		}
		host, port = rest[1:end], rest[end+1:]
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() || a.Zone() != "" {
			return errors.New("has an invalid [IPv6] address")
		}
		if port != "" && port[0] != ':' {
			return errors.New("must be scheme://host[:port]")
		}
		port = strings.TrimPrefix(port, ":")
	} else {
		if i := strings.LastIndexByte(rest, ':'); i >= 0 {
			host, port = rest[:i], rest[i+1:]
		}
		switch {
		case host == "*":
			return errors.New(`needs a domain after the wildcard, as in https://*.example.com (or allow_origins: ["*"] for any origin)`)
		case strings.Contains(strings.TrimPrefix(host, "*."), "*"):
			return errors.New(`may use a wildcard only as the whole first label of the host, as in https://*.example.com`)
		}
		if err := checkHost(host); err != nil {
			return err
		}
	}
	if port != "" || strings.HasSuffix(rest, ":") {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return errors.New("has an invalid port: use 1 to 65535")
		}
	}
	return nil
}

// validScheme reports whether s is a URI scheme: a letter, then letters,
// digits, "+", "-" or ".".
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}
