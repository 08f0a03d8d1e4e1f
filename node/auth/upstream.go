package auth

import (
	"net/http"

	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/exchange"
)

// identityHeaders are the request headers that carry a route's consumer
// to the upstream (auth.upstream_headers). The gateway owns them: what
// the client sent under these names never reaches the upstream.
type identityHeaders struct {
	consumer, group, anonymous string // canonical names
}

// newIdentityHeaders returns the identity headers of h (defaults
// applied by config), or nil when h is nil: the route sends none.
func newIdentityHeaders(h *config.UpstreamHeaders) *identityHeaders {
	if h == nil {
		return nil
	}
	return &identityHeaders{
		consumer:  http.CanonicalHeaderKey(h.Consumer),
		group:     http.CanonicalHeaderKey(h.Group),
		anonymous: http.CanonicalHeaderKey(h.Anonymous),
	}
}

// set overwrites the identity headers of h with id's: every value the
// client sent under these names (in any case) is removed, then the
// consumer's name and group (when it has one) are set, or, for an
// anonymous id, the anonymous marker. A name or group that is not a valid
// header value (control characters) is not sent.
func (ih *identityHeaders) set(h http.Header, id *exchange.Identity) {
	// The server canonicalizes the names it reads; Del covers a name a
	// stage may have added as is.
	h.Del(ih.consumer)
	h.Del(ih.group)
	h.Del(ih.anonymous)
	if id.Anonymous() {
		h[ih.anonymous] = []string{"true"}
		return
	}
	if validValue(id.Consumer) {
		h[ih.consumer] = []string{id.Consumer}
	}
	if id.Group != "" && validValue(id.Group) {
		h[ih.group] = []string{id.Group}
	}
}

// validValue reports whether s can be a header field's value as is
// (RFC 9110 section 5.5: no control characters but tab, no surrounding
// whitespace).
func validValue(s string) bool {
	if s == "" || s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
