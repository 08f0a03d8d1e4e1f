package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/node/auth"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/exchange"
	"github.com/portico-gw/portico/problem"
)

const (
	aliceKey = "alice-key-1"
	bobKey   = "bob-key-2"
	plainKey = "plain-key-3" // configured without "sha256:": never accepted
)

// keyHash is what a consumer's api_keys holds for key.
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// keyID is the KeyID an identity found by key carries.
func keyID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])[:16]
}

func testKeys() *auth.Keys {
	return auth.NewKeys(&config.Gateway{Consumers: []config.Consumer{
		{Name: "alice", Group: "staff", Plan: "gold", APIKeys: []string{keyHash(aliceKey)}},
		{Name: "bob", APIKeys: []string{"sha256:not-hex", keyHash(bobKey)}},
		{Name: "carol", APIKeys: []string{plainKey, "sha256:" + strings.Repeat("zz", 32)}},
	}})
}

// seen is what one request looked like to the stage's next handler and,
// after the stage, to the handler that made its exchange.
type seen struct {
	nextRan    bool
	who        exchange.Identity // the exchange's, after the stage
	header     http.Header       // the request headers next got
	rawQuery   string            // the query next got
	outerQuery string            // the server's request's query, after the stage
	problem    problem.Type
}

type seenKey struct{}

// recorder is the stage's next: it notes what it got in the request's
// seen (a pointer type, so New's pass-through can be compared).
type recorder struct{}

func (recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := r.Context().Value(seenKey{}).(*seen)
	s.nextRan = true
	s.header = r.Header.Clone()
	s.rawQuery = r.URL.RawQuery
	_, _ = io.WriteString(w, "ok")
}

type server struct {
	url  string
	seen chan *seen
}

// serve runs h on a loopback server the way the node does: one exchange
// per request, attached with exchange.With. Every request sends one seen.
func serve(t *testing.T, h http.Handler) *server {
	t.Helper()
	s := &server{seen: make(chan *seen, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := &exchange.Exchange{}
		ex.Init(w, "rid-1", time.Now(), nil)
		rec := &seen{}
		r = r.WithContext(context.WithValue(r.Context(), seenKey{}, rec))
		h.ServeHTTP(w, exchange.With(r, ex))
		rec.who, rec.problem, rec.outerQuery = ex.Who, ex.Problem, r.URL.RawQuery
		s.seen <- rec
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

type answer struct {
	status    int
	challenge string
	problem   struct {
		Type, Detail string
		RequestID    string `json:"request_id"`
	}
	seen *seen
}

// get sends GET url+target (a raw path and query, sent as is) with the
// header X-API-Key: key when key is not empty.
func (s *server) get(t *testing.T, target, key string) answer {
	t.Helper()
	h := http.Header{}
	if key != "" {
		h["X-Api-Key"] = []string{key}
	}
	return s.send(t, target, h)
}

func TestStage(t *testing.T) {
	keys := testKeys()
	alice := exchange.Identity{Consumer: "alice", Group: "staff", Plan: "gold", KeyID: keyID(aliceKey)}
	bob := exchange.Identity{Consumer: "bob", KeyID: keyID(bobKey)}
	const (
		withQuery  = `ApiKey header="X-API-Key", query="api_key"`
		headerOnly = `ApiKey header="X-API-Key"`
		missingQ   = "This route needs an API key in the X-API-Key header or the api_key query parameter."
		missingH   = "This route needs an API key in the X-API-Key header."
		invalid    = "The API key is not known."
	)
	routes := map[string]http.Handler{
		"query":    auth.New(recorder{}, &config.Auth{APIKey: &config.APIKeyAuth{Header: "X-API-Key", Query: "api_key"}}, keys),
		"header":   auth.New(recorder{}, &config.Auth{APIKey: &config.APIKeyAuth{Header: "X-API-Key"}}, keys),
		"optional": auth.New(recorder{}, &config.Auth{APIKey: &config.APIKeyAuth{Header: "X-API-Key"}, Optional: true}, keys),
		// A query name that cannot be quoted is read but not announced.
		"oddquery": auth.New(recorder{}, &config.Auth{APIKey: &config.APIKeyAuth{Header: "X-API-Key", Query: `k"ey`}}, keys),
	}
	cases := []struct {
		name, route, target, key string
		// allowed:
		who   exchange.Identity
		query string // what next gets
		// refused:
		slug, detail, challenge string
	}{
		{name: "header key", route: "query", target: "/p?a=1", key: aliceKey, who: alice, query: "a=1"},
		{name: "header key, no query", route: "header", target: "/p", key: bobKey, who: bob},
		{name: "query key, others kept byte for byte", route: "query", target: "/p?a=1&api_key=" + aliceKey + "&b=%2Fx+y&c&d=%zz",
			who: alice, query: "a=1&b=%2Fx+y&c&d=%zz"},
		{name: "query key only", route: "query", target: "/p?api_key=" + bobKey, who: bob, query: ""},
		{name: "repeated query key: all removed, first used", route: "query",
			target: "/p?api_key=" + aliceKey + "&x=1&api_key=" + bobKey + "&api_key=nobody", who: alice, query: "x=1"},
		{name: "escaped value", route: "query", target: "/p?api_key=alice%2Dkey%2D1&z=%41", who: alice, query: "z=%41"},
		{name: "escaped name beside the plain one: both removed", route: "query",
			target: "/p?api%5Fkey=" + bobKey + "&api_key=" + aliceKey, who: bob, query: ""},
		{name: "header wins over query", route: "query", target: "/p?api_key=" + aliceKey + "&q=1", key: bobKey, who: bob, query: "q=1"},
		{name: "header wins even when wrong", route: "query", target: "/p?api_key=" + aliceKey, key: "wrong",
			slug: "credentials-invalid", detail: invalid, challenge: withQuery},
		{name: "no key", route: "query", target: "/p?a=1",
			slug: "credentials-missing", detail: missingQ, challenge: withQuery},
		{name: "empty query value", route: "query", target: "/p?api_key=",
			slug: "credentials-missing", detail: missingQ, challenge: withQuery},
		{name: "a longer parameter name is not the key", route: "query", target: "/p?my_api_key=" + aliceKey,
			slug: "credentials-missing", detail: missingQ, challenge: withQuery},
		{name: "unknown key in the query", route: "query", target: "/p?api_key=nobody",
			slug: "credentials-invalid", detail: invalid, challenge: withQuery},
		{name: "unknown key", route: "header", target: "/p", key: "nobody",
			slug: "credentials-invalid", detail: invalid, challenge: headerOnly},
		{name: "key not configured as a hash", route: "header", target: "/p", key: plainKey,
			slug: "credentials-invalid", detail: invalid, challenge: headerOnly},
		{name: "query not read without query", route: "header", target: "/p?api_key=" + aliceKey,
			slug: "credentials-missing", detail: missingH, challenge: headerOnly},
		{name: "optional: none is anonymous", route: "optional", target: "/p?x=1", query: "x=1"},
		{name: "optional: a key identifies", route: "optional", target: "/p", key: aliceKey, who: alice},
		{name: "optional: a wrong key is refused", route: "optional", target: "/p", key: "nobody",
			slug: "credentials-invalid", detail: invalid, challenge: headerOnly},
		{name: "unquotable query name: read", route: "oddquery", target: `/p?k"ey=` + aliceKey + "&n=2", who: alice, query: "n=2"},
		{name: "unquotable query name: not announced", route: "oddquery", target: "/p",
			slug: "credentials-missing", detail: missingH, challenge: headerOnly},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := serve(t, routes[c.route])
			a := s.get(t, c.target, c.key)
			_, outer, _ := strings.Cut(c.target, "?")
			if a.seen.outerQuery != outer {
				t.Errorf("the server's request's query became %q, want %q untouched", a.seen.outerQuery, outer)
			}
			if c.slug != "" {
				if a.status != 401 || a.seen.nextRan || !strings.HasSuffix(a.problem.Type, "#"+c.slug) ||
					a.problem.Detail != c.detail || a.problem.RequestID != "rid-1" {
					t.Fatalf("got %d %+v (next ran: %v), want 401 #%s %q", a.status, a.problem, a.seen.nextRan, c.slug, c.detail)
				}
				if a.challenge != c.challenge {
					t.Errorf("WWW-Authenticate = %q, want %q", a.challenge, c.challenge)
				}
				want := map[string]problem.Type{"credentials-missing": problem.CredentialsMissing, "credentials-invalid": problem.CredentialsInvalid}[c.slug]
				if a.seen.problem != want || !a.seen.who.Anonymous() {
					t.Errorf("exchange: problem %v who %+v, want %v and anonymous", a.seen.problem, a.seen.who, want)
				}
				return
			}
			if a.status != 200 || !a.seen.nextRan {
				t.Fatalf("got %d %+v, want 200 from next", a.status, a.problem)
			}
			if a.challenge != "" || a.seen.problem != 0 {
				t.Errorf("allowed with WWW-Authenticate %q, problem %v", a.challenge, a.seen.problem)
			}
			if a.seen.who != c.who {
				t.Errorf("identity %+v, want %+v", a.seen.who, c.who)
			}
			if a.seen.rawQuery != c.query {
				t.Errorf("next got query %q, want %q", a.seen.rawQuery, c.query)
			}
			if v, ok := a.seen.header["X-Api-Key"]; ok {
				t.Errorf("next got the credential header %q", v)
			}
			for _, key := range []string{aliceKey, bobKey} {
				if strings.Contains(a.seen.rawQuery, key) || strings.Contains(a.seen.who.KeyID, key) {
					t.Errorf("the key %q reached next (query %q, key id %q)", key, a.seen.rawQuery, a.seen.who.KeyID)
				}
			}
		})
	}
}

// TestCustomHeader: the configured header is read in any case, deleted
// before next, and named as configured in the challenge.
func TestCustomHeader(t *testing.T) {
	h := auth.New(recorder{}, &config.Auth{APIKey: &config.APIKeyAuth{Header: "x-portico-key"}}, testKeys())
	s := serve(t, h)

	req, _ := http.NewRequest("GET", s.url+"/p", nil)
	req.Header.Set("X-Portico-Key", aliceKey)
	req.Header.Set("X-API-Key", bobKey) // not this route's header: kept
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	got := <-s.seen
	if res.StatusCode != 200 || got.who.Consumer != "alice" {
		t.Fatalf("custom header: %d, who %+v, want 200 alice", res.StatusCode, got.who)
	}
	if _, ok := got.header["X-Portico-Key"]; ok || got.header.Get("X-Api-Key") != bobKey {
		t.Errorf("next got headers %v, want X-Portico-Key removed and X-Api-Key kept", got.header)
	}

	a := s.get(t, "/p", "")
	if a.status != 401 || a.challenge != `ApiKey header="x-portico-key"` ||
		a.problem.Detail != "This route needs an API key in the x-portico-key header." {
		t.Errorf("no key: %d %q %q", a.status, a.challenge, a.problem.Detail)
	}
}

func TestNewPassThrough(t *testing.T) {
	next := http.NewServeMux() // a pointer: comparable
	for name, a := range map[string]*config.Auth{
		"nil auth":          nil,
		"no api_key":        {},
		"optional, no kind": {Optional: true},
	} {
		if h := auth.New(next, a, testKeys()); h != http.Handler(next) {
			t.Errorf("%s: New returned %T, want next itself", name, h)
		}
	}
	if h := auth.New(next, &config.Auth{APIKey: &config.APIKeyAuth{Header: "X-API-Key"}}, testKeys()); h == http.Handler(next) {
		t.Error("with an api_key: New returned next, want a stage")
	}
}

func TestKeysIdentity(t *testing.T) {
	keys := testKeys()
	cases := []struct {
		name string
		want exchange.Identity
		ok   bool
	}{
		{"alice", exchange.Identity{Consumer: "alice", Group: "staff", Plan: "gold"}, true},
		{"bob", exchange.Identity{Consumer: "bob"}, true},
		{"carol", exchange.Identity{Consumer: "carol"}, true}, // known, even without a usable key
		{"dave", exchange.Identity{}, false},
		{"", exchange.Identity{}, false},
	}
	for _, c := range cases {
		if got, ok := keys.Identity(c.name); got != c.want || ok != c.ok {
			t.Errorf("Identity(%q) = %+v, %v; want %+v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
	if keys := auth.NewKeys(&config.Gateway{}); keys == nil {
		t.Fatal("NewKeys of no consumers: nil")
	} else if _, ok := keys.Identity("alice"); ok {
		t.Error("no consumers: alice found")
	}
}
