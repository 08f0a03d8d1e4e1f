package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/portico-gw/portico/problem"
)

// The admin API's defences against browsers. A page on any site can make
// a browser send requests to 127.0.0.1 (purge the cache with a
// cross-origin form post), and a page whose name resolves to 127.0.0.1 a
// moment later (DNS rebinding) can read and replace the config as if it
// were same-origin. So:
//
//   - Without a token (allowed on loopback addresses only), the admin API
//     answers only requests whose Host is a loopback name: localhost,
//     127.0.0.0/8 or [::1], with any port. A rebound name never is.
//   - With a token, any Host is accepted: probes and load balancers use
//     the node's IP or DNS name, and a page can't attach the token.
//   - Whatever the token, a browser's cross-site request is refused on
//     every method, reads included: Sec-Fetch-Site other than
//     "same-origin" or "none", or an Origin that is not the admin's own
//     (scheme://Host of the request). Clients that send neither (the CLI,
//     curl, Prometheus) pass.
//
// Refusals are 403 application/problem+json (admin-host-refused,
// admin-cross-origin).

// guard wraps the whole admin API (see above).
func guard(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" && !loopbackHost(r.Host) {
			problem.Write(w, problem.AdminHostRefused, "")
			return
		}
		if crossSite(r) {
			problem.Write(w, problem.AdminCrossOrigin, "")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names this machine only:
// localhost or a loopback IP, with or without a port.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// crossSite reports whether a browser sent r on behalf of another origin.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return !strings.EqualFold(origin, scheme+r.Host)
}

// requireToken lets through requests that carry "Authorization: Bearer
// token"; an empty token lets every request through.
func requireToken(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	// Sums of equal length are compared, so the time taken says nothing
	// of the token's length either.
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearerToken(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="portico-admin"`)
			problem.Write(w, problem.AdminUnauthorized, "")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// bearerToken returns the credentials of an "Authorization: Bearer X"
// header; the scheme ignores case (RFC 9110 §11.1).
func bearerToken(h string) (string, bool) {
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	cred = strings.TrimLeft(cred, " ")
	return cred, cred != ""
}
