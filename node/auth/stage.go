package auth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/exchange"
	"github.com/portico-gw/portico/problem"
)

// authenticator identifies the consumer of a request. It must be safe for
// concurrent use.
type authenticator interface {
	// authenticate returns r's identity, errNoCredentials when r carries
	// none, or errBadCredentials when they identify nobody. It removes
	// the credentials it read from r (which the pipeline owns: headers,
	// query), so they reach neither the upstream nor the access log.
	authenticate(r *http.Request) (exchange.Identity, error)
}

var (
	errNoCredentials  = errors.New("no credentials")
	errBadCredentials = errors.New("unknown credentials")
)

// stage is one route's authentication.
type stage struct {
	next      http.Handler
	authn     authenticator
	optional  bool
	challenge []string         // WWW-Authenticate value
	missing   string           // the credentials-missing detail
	ids       *identityHeaders // nil: no identity headers upstream
}

// New returns the authentication stage of a route with auth a in front of
// next, or next itself when a configures no authenticator. The stage
// answers 401 (credentials-missing, unless a.Optional; credentials-invalid)
// with a WWW-Authenticate challenge, and otherwise puts the identity into
// the request's exchange (left anonymous for an optional route's request
// without credentials). It modifies the request it is given — the
// pipeline's own copy — to drop the credentials it read.
func New(next http.Handler, a *config.Auth, keys *Keys) http.Handler {
	if a == nil || a.APIKey == nil {
		return next
	}
	k := a.APIKey
	s := &stage{
		next:     next,
		authn:    &apiKey{header: http.CanonicalHeaderKey(k.Header), query: k.Query, cookie: k.Cookie, keys: keys},
		optional: a.Optional,
		ids:      newIdentityHeaders(a.UpstreamHeaders),
	}
	// The challenge and the detail name every place a key is read from
	// (those whose names can be quoted as they are).
	challenge := `ApiKey header="` + k.Header + `"`
	places := []string{"the " + k.Header + " header"}
	if k.Query != "" && plainText(k.Query) {
		challenge += `, query="` + k.Query + `"`
		places = append(places, "the "+k.Query+" query parameter")
	}
	if k.Cookie != "" && plainText(k.Cookie) {
		challenge += `, cookie="` + k.Cookie + `"`
		places = append(places, "the "+k.Cookie+" cookie")
	}
	s.challenge = []string{challenge}
	where := places[0]
	if n := len(places); n > 1 {
		where = strings.Join(places[:n-1], ", ") + " or " + places[n-1]
	}
	s.missing = "This route needs an API key in " + where + "."
	return s
}

func (s *stage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchange.Of(r)
	id, err := s.authn.authenticate(r)
	switch {
	case err == nil:
		ex.Who = id
		if s.ids != nil {
			s.ids.set(r.Header, &id)
		}
		s.next.ServeHTTP(w, r)
		return
	case errors.Is(err, errNoCredentials) && s.optional:
		if s.ids != nil {
			s.ids.set(r.Header, &exchange.Identity{})
		}
		s.next.ServeHTTP(w, r)
		return
	}
	w.Header()["Www-Authenticate"] = s.challenge
	if errors.Is(err, errNoCredentials) {
		ex.FailDetail(w, problem.CredentialsMissing, s.missing)
	} else {
		ex.Fail(w, problem.CredentialsInvalid)
	}
}

// plainText reports whether s can go into a problem's JSON text and a
// quoted header parameter as is: printable ASCII without quotes or
// backslashes.
func plainText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
