package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"

	"github.com/portico-gw/portico/node/exchange"
)

// apiKey finds the consumer by the SHA-256 of an API key sent in a
// header or, if configured, a query parameter or a cookie (the first of
// the three that carries one).
type apiKey struct {
	header string // canonical
	query  string // "" when the query is not read
	cookie string // "" when cookies are not read
	keys   *Keys
}

var _ authenticator = (*apiKey)(nil)

func (a *apiKey) authenticate(r *http.Request) (exchange.Identity, error) {
	key := r.Header.Get(a.header)
	r.Header.Del(a.header)
	// The parameter's name may come percent-encoded ("api%5Fkey"): only a
	// query with neither the plain name nor an escape skips the parse.
	if rq := r.URL.RawQuery; a.query != "" && rq != "" && (strings.Contains(rq, a.query) || strings.IndexByte(rq, '%') >= 0) {
		v, rest, found := cutQueryParam(r.URL.RawQuery, a.query)
		if found {
			u := *r.URL // r's URL may be shared with the server's request
			u.RawQuery = rest
			r.URL = &u
			if key == "" {
				key = v
			}
		}
	}
	if a.cookie != "" {
		if v, found := cutCookies(r.Header, a.cookie); found && key == "" {
			key = v
		}
	}
	if key == "" {
		return exchange.Identity{}, errNoCredentials
	}
	sum := sha256.Sum256([]byte(key))
	id, ok := a.keys.byHash(&sum)
	if !ok {
		return exchange.Identity{}, errBadCredentials
	}
	id.KeyID = hex.EncodeToString(sum[:8])
	return id, nil
}

// cutQueryParam removes every name=value pair of name from the raw query
// rq, keeping the others byte for byte, and returns the first value
// (unescaped).
func cutQueryParam(rq, name string) (value, rest string, found bool) {
	var kept []string
	for part := range strings.SplitSeq(rq, "&") {
		k, v, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == name {
			if !found {
				value, _ = url.QueryUnescape(v)
			}
			found = true
			continue
		}
		kept = append(kept, part)
	}
	return value, strings.Join(kept, "&"), found
}

// cutCookies removes every cookie called name from h's Cookie header
// lines, keeping the other cookies byte for byte (a line left empty is
// dropped), and returns the first one's value (without its quotes).
func cutCookies(h http.Header, name string) (value string, found bool) {
	lines := h["Cookie"]
	hit := false
	for _, l := range lines {
		if strings.Contains(l, name) {
			hit = true
			break
		}
	}
	if !hit {
		return "", false
	}
	kept := make([]string, 0, len(lines))
	for _, l := range lines {
		var parts []string
		cut := false
		for part := range strings.SplitSeq(l, ";") {
			k, v, _ := strings.Cut(part, "=")
			if strings.TrimSpace(k) == name {
				if !found {
					value = strings.TrimSpace(v)
					if len(value) > 1 && value[0] == '"' && value[len(value)-1] == '"' {
						value = value[1 : len(value)-1]
					}
				}
				found, cut = true, true
				continue
			}
			parts = append(parts, part)
		}
		if !cut {
			kept = append(kept, l)
			continue
		}
		if rest := strings.TrimLeft(strings.Join(parts, ";"), " "); strings.TrimSpace(rest) != "" {
			kept = append(kept, rest)
		}
	}
	if !found {
		return "", false
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
	} else {
		h["Cookie"] = kept // a new slice: the lines h held are not changed
	}
	return value, true
}
