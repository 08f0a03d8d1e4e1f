package auth_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/portico-gw/portico/node/auth"
	"github.com/portico-gw/portico/node/config"
)

// send sends GET url+target with the header lines h (each value its own
// line) and returns the answer.
func (s *server) send(t *testing.T, target string, h http.Header) answer {
	t.Helper()
	req, err := http.NewRequest("GET", s.url+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: res.StatusCode, challenge: strings.Join(res.Header.Values("Www-Authenticate"), "|"), seen: <-s.seen}
	if res.StatusCode != 200 {
		if err := json.Unmarshal(body, &a.problem); err != nil {
			t.Fatalf("%s: %d %q: %v", target, res.StatusCode, body, err)
		}
	}
	return a
}

// defaultIDs is upstream_headers: {} after config's defaults.
func defaultIDs() *config.UpstreamHeaders {
	return &config.UpstreamHeaders{Consumer: "X-Consumer-Name", Group: "X-Consumer-Groups", Anonymous: "X-Anonymous-Consumer"}
}

// TestUpstreamHeaders: the identity headers carry the consumer found,
// replacing every value the client sent under those names; anonymous
// requests get none of them but the anonymous marker; a route without
// the option leaves such headers as the client sent them.
func TestUpstreamHeaders(t *testing.T) {
	keys := testKeys()
	key := &config.APIKeyAuth{Header: "X-API-Key"}
	forged := http.Header{
		"X-Consumer-Name":      {"root", "admin"},
		"X-Consumer-Groups":    {"staff", "ops"},
		"X-Anonymous-Consumer": {"false"},
	}
	with := func(h http.Header, k, v string) http.Header {
		c := h.Clone()
		if c == nil {
			c = http.Header{}
		}
		c.Set(k, v)
		return c
	}
	cases := []struct {
		name string
		auth *config.Auth
		sent http.Header
		want map[string][]string // nil: absent
	}{
		{name: "consumer with a group", auth: &config.Auth{APIKey: key, UpstreamHeaders: defaultIDs()},
			sent: with(nil, "X-API-Key", aliceKey),
			want: map[string][]string{"X-Consumer-Name": {"alice"}, "X-Consumer-Groups": {"staff"}, "X-Anonymous-Consumer": nil}},
		{name: "forged values, repeated, are replaced", auth: &config.Auth{APIKey: key, UpstreamHeaders: defaultIDs()},
			sent: with(forged, "X-API-Key", aliceKey),
			want: map[string][]string{"X-Consumer-Name": {"alice"}, "X-Consumer-Groups": {"staff"}, "X-Anonymous-Consumer": nil}},
		{name: "a consumer without a group: a forged group is removed", auth: &config.Auth{APIKey: key, UpstreamHeaders: defaultIDs()},
			sent: with(forged, "X-API-Key", bobKey),
			want: map[string][]string{"X-Consumer-Name": {"bob"}, "X-Consumer-Groups": nil, "X-Anonymous-Consumer": nil}},
		{name: "anonymous on an optional route", auth: &config.Auth{APIKey: key, Optional: true, UpstreamHeaders: defaultIDs()},
			sent: forged,
			want: map[string][]string{"X-Consumer-Name": nil, "X-Consumer-Groups": nil, "X-Anonymous-Consumer": {"true"}}},
		{name: "custom names", auth: &config.Auth{APIKey: key, Optional: true,
			UpstreamHeaders: &config.UpstreamHeaders{Consumer: "x-user", Group: "X-Team", Anonymous: "X-Guest"}},
			sent: with(http.Header{"X-User": {"root"}, "X-Team": {"ops"}, "X-Guest": {"no"}, "X-Consumer-Name": {"kept"}}, "X-API-Key", aliceKey),
			want: map[string][]string{"X-User": {"alice"}, "X-Team": {"staff"}, "X-Guest": nil, "X-Consumer-Name": {"kept"}}},
		{name: "without the option: the client's headers pass", auth: &config.Auth{APIKey: key, Optional: true},
			sent: forged,
			want: map[string][]string{"X-Consumer-Name": {"root", "admin"}, "X-Consumer-Groups": {"staff", "ops"}, "X-Anonymous-Consumer": {"false"}}},
		{name: "without the option: nothing added", auth: &config.Auth{APIKey: key},
			sent: with(nil, "X-API-Key", aliceKey),
			want: map[string][]string{"X-Consumer-Name": nil, "X-Consumer-Groups": nil, "X-Anonymous-Consumer": nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := serve(t, auth.New(recorder{}, c.auth, keys))
			a := s.send(t, "/p", c.sent)
			if a.status != 200 || !a.seen.nextRan {
				t.Fatalf("got %d %+v, want 200 from next", a.status, a.problem)
			}
			for k, want := range c.want {
				if got := a.seen.header[k]; !slices.Equal(got, want) {
					t.Errorf("next got %s: %q, want %q", k, got, want)
				}
			}
		})
	}

	// A refused request never reaches next, whatever it forged.
	s := serve(t, auth.New(recorder{}, &config.Auth{APIKey: key, UpstreamHeaders: defaultIDs()}, keys))
	if a := s.send(t, "/p", forged); a.status != 401 || a.seen.nextRan {
		t.Errorf("no key with forged identity headers: %d (next ran: %v), want 401", a.status, a.seen.nextRan)
	}
}

// TestCookieKey: a key in the configured cookie is read when neither the
// header nor the query carries one, and every cookie of that name is
// removed, the others kept byte for byte; the challenge and the detail
// name the cookie.
func TestCookieKey(t *testing.T) {
	keys := testKeys()
	h := auth.New(recorder{}, &config.Auth{APIKey: &config.APIKeyAuth{Header: "X-API-Key", Query: "api_key", Cookie: "pk"}}, keys)
	cases := []struct {
		name    string
		target  string
		sent    http.Header
		who     string   // "" with slug
		cookies []string // what next gets (nil: no Cookie header)
		slug    string
	}{
		{name: "cookie only", target: "/p", sent: http.Header{"Cookie": {"pk=" + aliceKey}}, who: "alice"},
		{name: "others kept byte for byte", target: "/p",
			sent: http.Header{"Cookie": {`a=1;  b="x y"; pk=` + aliceKey + `; c=%zz;d`}}, who: "alice",
			cookies: []string{`a=1;  b="x y"; c=%zz;d`}},
		{name: "first of the line", target: "/p", sent: http.Header{"Cookie": {"pk=" + bobKey + "; z=9"}}, who: "bob", cookies: []string{"z=9"}},
		{name: "quoted value", target: "/p", sent: http.Header{"Cookie": {`pk="` + bobKey + `"`}}, who: "bob"},
		{name: "repeated on several lines: all removed, first used", target: "/p",
			sent: http.Header{"Cookie": {"a=1; pk=" + aliceKey, "pk=nobody", "b=2; pk=" + bobKey}}, who: "alice",
			cookies: []string{"a=1", "b=2"}},
		{name: "a longer name is not the key", target: "/p",
			sent: http.Header{"Cookie": {"xpk=" + aliceKey + "; pkx=1"}}, slug: "credentials-missing", cookies: nil},
		{name: "header first, cookie removed", target: "/p",
			sent: http.Header{"X-Api-Key": {bobKey}, "Cookie": {"pk=" + aliceKey + "; s=1"}}, who: "bob", cookies: []string{"s=1"}},
		{name: "query before cookie", target: "/p?api_key=" + bobKey,
			sent: http.Header{"Cookie": {"pk=" + aliceKey}}, who: "bob"},
		{name: "wrong cookie key", target: "/p", sent: http.Header{"Cookie": {"pk=nobody"}}, slug: "credentials-invalid"},
		{name: "empty cookie key", target: "/p", sent: http.Header{"Cookie": {"pk=; s=1"}}, slug: "credentials-missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := serve(t, h)
			a := s.send(t, c.target, c.sent)
			if c.slug != "" {
				if a.status != 401 || a.seen.nextRan || !strings.HasSuffix(a.problem.Type, "#"+c.slug) {
					t.Fatalf("got %d %+v (next ran: %v), want 401 #%s", a.status, a.problem, a.seen.nextRan, c.slug)
				}
				if want := `ApiKey header="X-API-Key", query="api_key", cookie="pk"`; a.challenge != want {
					t.Errorf("WWW-Authenticate = %q, want %q", a.challenge, want)
				}
				if want := "This route needs an API key in the X-API-Key header, the api_key query parameter or the pk cookie."; c.slug == "credentials-missing" && a.problem.Detail != want {
					t.Errorf("detail %q, want %q", a.problem.Detail, want)
				}
				return
			}
			if a.status != 200 || a.seen.who.Consumer != c.who {
				t.Fatalf("got %d, who %+v, want 200 %s", a.status, a.seen.who, c.who)
			}
			if got := a.seen.header["Cookie"]; !slices.Equal(got, c.cookies) {
				t.Errorf("next got Cookie %q, want %q", got, c.cookies)
			}
		})
	}

	// Without the query: the detail names the header and the cookie.
	s := serve(t, auth.New(recorder{}, &config.Auth{APIKey: &config.APIKeyAuth{Header: "X-API-Key", Cookie: "pk"}}, keys))
	a := s.send(t, "/p", nil)
	if a.status != 401 || a.challenge != `ApiKey header="X-API-Key", cookie="pk"` ||
		a.problem.Detail != "This route needs an API key in the X-API-Key header or the pk cookie." {
		t.Errorf("header and cookie, no key: %d %q %q", a.status, a.challenge, a.problem.Detail)
	}
	// A route that reads no cookie leaves the Cookie header alone.
	s = serve(t, auth.New(recorder{}, &config.Auth{APIKey: &config.APIKeyAuth{Header: "X-API-Key"}}, keys))
	a = s.send(t, "/p", http.Header{"X-Api-Key": {aliceKey}, "Cookie": {"pk=" + bobKey}})
	if a.status != 200 || !slices.Equal(a.seen.header["Cookie"], []string{"pk=" + bobKey}) {
		t.Errorf("no cookie configured: %d, next got Cookie %q", a.status, a.seen.header["Cookie"])
	}
}
