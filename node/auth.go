package node

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/portico-gw/portico/cache"
	"github.com/portico-gw/portico/limiter"
	"github.com/portico-gw/portico/node/config"
)

// This file identifies consumers. A route with auth has an authenticator;
// API keys are the first kind, and JWT, HMAC or mTLS fit the same seam: a
// type with one method that finds the consumer and removes the
// credentials it read.

// consumer is a configured consumer compiled for requests: its group and
// plan resolved, their limits turned into rules.
type consumer struct {
	name, group, plan string
	// rules are the consumer's, its group's and its plan's limits.
	rules []limitRule
	// quota is the plan's quota keyed for this consumer; nil without one.
	quota *limiter.Request
}

// identity is who a request comes from, as the route's authenticator
// found it. It lives in the exchange for later stages and the log, and
// never holds a credential.
type identity struct {
	c *consumer // nil: anonymous
	// keyID is the first 16 hex digits of the API key's SHA-256, for
	// limits by api_key; never the key.
	keyID string
}

// name returns the consumer's name, "" when anonymous.
func (id *identity) name() string {
	if id.c == nil {
		return ""
	}
	return id.c.name
}

// authenticator identifies the consumer of a request. It must be safe for
// concurrent use.
type authenticator interface {
	// authenticate returns r's identity, errNoCredentials when r carries
	// none, or errBadCredentials when they identify nobody. It removes
	// the credentials it read from r (which the pipeline owns: headers,
	// query), so they reach neither the upstream nor the access log.
	authenticate(r *http.Request) (identity, error)
}

var (
	errNoCredentials  = errors.New("no credentials")
	errBadCredentials = errors.New("unknown credentials")
)

// consumerTable is every consumer of a snapshot, by name and by API key
// hash. Built once by compile, read-only after.
type consumerTable struct {
	byName map[string]*consumer
	byKey  map[[sha256.Size]byte]*consumer
}

// compileConsumers resolves groups and plans and indexes API key hashes
// ("sha256:HEX", validated by config).
func compileConsumers(g *config.Gateway) *consumerTable {
	groups := map[string]*config.ConsumerGroup{}
	for i := range g.ConsumerGroups {
		groups[g.ConsumerGroups[i].Name] = &g.ConsumerGroups[i]
	}
	plans := map[string]*config.Plan{}
	for i := range g.Plans {
		plans[g.Plans[i].Name] = &g.Plans[i]
	}
	t := &consumerTable{byName: map[string]*consumer{}, byKey: map[[sha256.Size]byte]*consumer{}}
	for _, cc := range g.Consumers {
		c := &consumer{name: cc.Name, group: cc.Group, plan: cc.Plan}
		c.rules = compileRules("consumer\x00"+cc.Name, cc.RateLimits)
		if cg := groups[cc.Group]; cg != nil {
			c.rules = append(c.rules, compileRules("group\x00"+cg.Name, cg.RateLimits)...)
		}
		if pl := plans[cc.Plan]; pl != nil {
			c.rules = append(c.rules, compileRules("plan\x00"+pl.Name, pl.RateLimits)...)
			if pl.Quota != nil {
				q := quotaRequest(pl.Name, pl.Quota, cc.Name)
				c.quota = &q
			}
		}
		t.byName[cc.Name] = c
		for _, k := range cc.APIKeys {
			var sum [sha256.Size]byte
			if h, ok := strings.CutPrefix(k, "sha256:"); ok {
				if _, err := hex.Decode(sum[:], []byte(h)); err == nil {
					t.byKey[sum] = c
				}
			}
		}
	}
	return t
}

// apiKeyAuth finds the consumer by the SHA-256 of an API key sent in a
// header or, if configured, a query parameter. A map lookup of the hash
// leaks nothing useful through timing: an attacker would need a
// preimage.
type apiKeyAuth struct {
	header string // canonical
	query  string // "" when the query is not read
	table  *consumerTable
}

var _ authenticator = (*apiKeyAuth)(nil)

func (a *apiKeyAuth) authenticate(r *http.Request) (identity, error) {
	key := r.Header.Get(a.header)
	r.Header.Del(a.header)
	if a.query != "" && r.URL.RawQuery != "" && strings.Contains(r.URL.RawQuery, a.query) {
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
	if key == "" {
		return identity{}, errNoCredentials
	}
	sum := sha256.Sum256([]byte(key))
	c, ok := a.table.byKey[sum]
	if !ok {
		return identity{}, errBadCredentials
	}
	return identity{c: c, keyID: hex.EncodeToString(sum[:8])}, nil
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

// routeAuth is a route's compiled auth: its authenticator and its 401
// answers.
type routeAuth struct {
	authn     authenticator
	optional  bool
	cached    bool   // the route caches: pass the consumer on to owners
	challenge string // WWW-Authenticate value
	missing   problem
}

// compileAuth builds a route's auth; nil when the route has none.
func compileAuth(a *config.Auth, table *consumerTable) *routeAuth {
	if a == nil || a.APIKey == nil {
		return nil
	}
	k := a.APIKey
	ra := &routeAuth{
		authn:     &apiKeyAuth{header: http.CanonicalHeaderKey(k.Header), query: k.Query, table: table},
		optional:  a.Optional,
		challenge: `ApiKey header="` + k.Header + `"`,
		missing:   probNoCredentials,
	}
	ra.missing.Detail = "This route needs an API key in the " + k.Header + " header."
	if k.Query != "" && plainText(k.Query) {
		ra.challenge += `, query="` + k.Query + `"`
		ra.missing.Detail = "This route needs an API key in the " + k.Header + " header or the " + k.Query + " query parameter."
	}
	return ra
}

// hdrConsumer carries the consumer from the node that authenticated a
// request to the owner that fills it from the shared cache (the
// credentials were removed before the cache saw the request). It is
// believed only on the cache's own requests (cache.FromPeer), dropped
// from every client request, and never sent upstream.
const hdrConsumer = "Portico-Consumer"

// authenticate runs the route's authenticator and puts the identity in
// the exchange. It returns false when it answered 401: credentials
// missing (unless optional) or unknown. A fill the cache sent from the
// node that authenticated the client carries the consumer instead.
func (n *Node) authenticate(w http.ResponseWriter, r *http.Request, p *pipeline, ra *routeAuth, ex *exchange) bool {
	if cache.FromPeer(r.Context()) {
		if c := p.consumers.byName[r.Header.Get(hdrConsumer)]; c != nil {
			ex.who = identity{c: c}
		}
		return true
	}
	id, err := ra.authn.authenticate(r)
	switch {
	case err == nil:
		ex.who = id
		if ra.cached {
			r.Header[hdrConsumer] = []string{id.c.name}
		}
		return true
	case errors.Is(err, errNoCredentials) && ra.optional:
		return true
	}
	w.Header().Set("WWW-Authenticate", ra.challenge)
	if errors.Is(err, errNoCredentials) {
		n.fail(w, ex, ra.missing)
	} else {
		n.fail(w, ex, probBadCredentials)
	}
	return false
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

// dropConsumerHeader removes hdrConsumer before next (the proxy): it is
// for the cache's owner, not for upstreams.
func dropConsumerHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delete(r.Header, hdrConsumer)
		next.ServeHTTP(w, r)
	})
}
