package route

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/portico-gw/portico/node/config"
)

// testRoutes is one table exercising every rule of the package doc; tests
// refer to routes by name.
func testRoutes() []config.Route {
	r := func(name string, m config.Match, prio ...int) config.Route {
		rt := config.Route{Name: name, Match: m}
		if len(prio) > 0 {
			rt.Priority = prio[0]
		}
		return rt
	}
	paths := func(p ...string) []string { return p }
	return []config.Route{
		r("admin", config.Match{Paths: paths("/admin")}),
		r("public", config.Match{Paths: paths("/public/*")}),
		r("user", config.Match{Paths: paths("/users/{id}"), Methods: []string{"GET"}}),
		r("user-new", config.Match{Paths: paths("/users/new"), Methods: []string{"GET"}}),
		r("user-x", config.Match{Paths: paths("/users/{id}/x")}),
		r("user-del", config.Match{Paths: paths("/users/{uid}"), Methods: []string{"DELETE"}}),
		r("users-slash", config.Match{Paths: paths("/users/")}),
		r("files", config.Match{Paths: paths("/files/{path...}")}),
		r("api-prefix", config.Match{Paths: paths("/api/*")}),
		r("api-v2-header", config.Match{Paths: paths("/api/v2/{res}/{id}"), Headers: map[string]string{"x-version": "2"}}),
		r("api-v2", config.Match{Paths: paths("/api/v2/{res}/{id}")}),
		r("host-exact", config.Match{Hosts: []string{"api.example.com"}, Paths: paths("/users/{id}")}),
		r("host-wild", config.Match{Hosts: []string{"*.example.com"}, Paths: paths("/*")}),
		r("host-wild-long", config.Match{Hosts: []string{"*.eu.example.com"}, Paths: paths("/users/*")}),
		r("search-exact", config.Match{Paths: paths("/search"), Query: map[string]string{"q": "go lang"}}),
		r("search-any", config.Match{Paths: paths("/search"), Query: map[string]string{"q": "*"}}),
		r("search", config.Match{Paths: paths("/search")}),
		r("prio-low", config.Match{Paths: paths("/prio")}, 1),
		r("prio-high", config.Match{Paths: paths("/prio")}, 5),
		r("dup-first", config.Match{Paths: paths("/dup")}),
		r("dup-second", config.Match{Paths: paths("/dup")}),
		r("form", config.Match{Paths: paths("/form"), Methods: []string{"POST", "PUT"}}),
		r("root", config.Match{Paths: paths("/")}),
		r("m-any", config.Match{Paths: paths("/m")}),
		r("m-get", config.Match{Paths: paths("/m"), Methods: []string{"GET"}}),
		r("h-present", config.Match{Paths: paths("/h"), Headers: map[string]string{"X-Token": "*"}}),
		r("h-none", config.Match{Paths: paths("/h")}),
		r("encoded-slash", config.Match{Paths: paths("/a%2fb")}),
		r("multi", config.Match{Paths: paths("/one/{a}", "/two/{a}/{b}")}),
		r("deep-cond", config.Match{Paths: paths("/deep/{x}/leaf"), Headers: map[string]string{"X-Deep": "1"}}),
		r("deep-literal", config.Match{Paths: paths("/deep/lit/{y}")}),
		r("docs-prefix", config.Match{Paths: paths("/docs/*")}),
		r("docs", config.Match{Paths: paths("/docs")}),
	}
}

func mustRouter(t testing.TB, routes []config.Route) *Router {
	t.Helper()
	rt, err := New(routes)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return rt
}

// request builds a request; target is the raw request target and may hold
// escapes and a query.
func request(method, host, target string, header ...string) *http.Request {
	r := httptest.NewRequest(method, "http://"+host+target, nil)
	r.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

func routeName(routes []config.Route, res *Result) string {
	if res.Route < 0 {
		return ""
	}
	return routes[res.Route].Name
}

func TestRouter_Match(t *testing.T) {
	routes := testRoutes()
	rt := mustRouter(t, routes)
	tests := []struct {
		name   string
		req    *http.Request
		want   string // route name; "" when not Found
		status Status
		params map[string]string
	}{
		{name: "exact", req: request("GET", "example.org", "/admin"), want: "admin"},
		{name: "exact needs whole path", req: request("GET", "example.org", "/admin/x"), status: NotFound},
		{name: "prefix below", req: request("GET", "example.org", "/public/css/a.css"), want: "public"},
		{name: "prefix itself", req: request("GET", "example.org", "/public"), want: "public"},
		{name: "prefix with slash", req: request("GET", "example.org", "/public/"), want: "public"},
		{name: "prefix not a string prefix", req: request("GET", "example.org", "/publicity"), status: NotFound},
		{name: "param", req: request("GET", "example.org", "/users/42"), want: "user", params: map[string]string{"id": "42"}},
		{name: "literal beats param", req: request("GET", "example.org", "/users/new"), want: "user-new"},
		{name: "backtrack from literal on method", req: request("DELETE", "example.org", "/users/new"), want: "user-del", params: map[string]string{"uid": "new"}},
		{name: "backtrack from literal on depth", req: request("GET", "example.org", "/users/new/x"), want: "user-x", params: map[string]string{"id": "new"}},
		{name: "trailing slash is its own pattern", req: request("GET", "example.org", "/users/"), want: "users-slash"},
		{name: "param needs a segment", req: request("GET", "example.org", "/users"), status: NotFound},
		{name: "head served by get", req: request("HEAD", "example.org", "/users/42"), want: "user"},
		{name: "method not allowed", req: request("POST", "example.org", "/users/42"), status: MethodNotAllowed},
		{name: "catch-all bare", req: request("GET", "example.org", "/files"), want: "files", params: map[string]string{"path": ""}},
		{name: "catch-all slash", req: request("GET", "example.org", "/files/"), want: "files", params: map[string]string{"path": ""}},
		{name: "catch-all rest", req: request("GET", "example.org", "/files/a/b%2Fc/"), want: "files", params: map[string]string{"path": "a/b%2Fc/"}},
		{name: "prefix root", req: request("GET", "example.org", "/api"), want: "api-prefix"},
		{name: "param beats prefix", req: request("GET", "example.org", "/api/v2/users/1"), want: "api-v2", params: map[string]string{"res": "users", "id": "1"}},
		{name: "header condition first", req: request("GET", "example.org", "/api/v2/users/1", "X-Version", "2"), want: "api-v2-header"},
		{name: "header value exact", req: request("GET", "example.org", "/api/v2/users/1", "X-Version", "20"), want: "api-v2"},
		{name: "header any value of several", req: request("GET", "example.org", "/api/v2/users/1", "X-Version", "1", "X-Version", "2"), want: "api-v2-header"},
		{name: "prefix when param too short", req: request("GET", "example.org", "/api/v2/users"), want: "api-prefix"},
		{name: "exact host", req: request("GET", "api.example.com", "/users/7"), want: "host-exact", params: map[string]string{"id": "7"}},
		{name: "exact host with port", req: request("GET", "api.example.com:8443", "/users/7"), want: "host-exact"},
		{name: "exact host case and dot", req: request("GET", "API.Example.COM.", "/users/7"), want: "host-exact"},
		{name: "exact host falls to wildcard", req: request("GET", "api.example.com", "/other"), want: "host-wild"},
		{name: "wildcard one label", req: request("GET", "www.example.com", "/admin"), want: "host-wild"},
		{name: "wildcard many labels", req: request("GET", "a.b.example.com", "/x"), want: "host-wild"},
		{name: "longer wildcard first", req: request("GET", "x.eu.example.com", "/users/1"), want: "host-wild-long"},
		{name: "longer wildcard falls to shorter", req: request("GET", "x.eu.example.com", "/about"), want: "host-wild"},
		{name: "wildcard not the bare domain", req: request("GET", "example.com", "/admin"), want: "admin"},
		{name: "wildcard not a string suffix", req: request("GET", "badexample.com", "/x"), status: NotFound},
		{name: "ipv6 host with port", req: request("GET", "[::1]:8080", "/admin"), want: "admin"},
		{name: "query exact decoded", req: request("GET", "example.org", "/search?q=go+lang"), want: "search-exact"},
		{name: "query exact percent", req: request("GET", "example.org", "/search?x=1&q=go%20lang"), want: "search-exact"},
		{name: "query present", req: request("GET", "example.org", "/search?q=rust"), want: "search-any"},
		{name: "query present empty", req: request("GET", "example.org", "/search?q"), want: "search-any"},
		{name: "query other key", req: request("GET", "example.org", "/search?qq=go+lang"), want: "search"},
		{name: "query malformed escape", req: request("GET", "example.org", "/search?q=%zz"), want: "search-any"},
		{name: "priority", req: request("GET", "example.org", "/prio"), want: "prio-high"},
		{name: "duplicate first wins", req: request("GET", "example.org", "/dup"), want: "dup-first"},
		{name: "methods list", req: request("PUT", "example.org", "/form"), want: "form"},
		{name: "methods list refuses", req: request("GET", "example.org", "/form"), status: MethodNotAllowed},
		{name: "root", req: request("GET", "example.org", "/"), want: "root"},
		{name: "restricted before any", req: request("GET", "example.org", "/m"), want: "m-get"},
		{name: "any when restricted refuses", req: request("PATCH", "example.org", "/m"), want: "m-any"},
		{name: "header present empty", req: request("GET", "example.org", "/h", "X-Token", ""), want: "h-present"},
		{name: "header absent", req: request("GET", "example.org", "/h"), want: "h-none"},
		{name: "encoded slash one segment", req: request("GET", "example.org", "/a%2Fb"), want: "encoded-slash"},
		{name: "real slash differs", req: request("GET", "example.org", "/a/b"), status: NotFound},
		{name: "second path of a route", req: request("GET", "example.org", "/two/x/y"), want: "multi", params: map[string]string{"a": "x", "b": "y"}},
		{name: "conditions fail then literal", req: request("GET", "example.org", "/deep/lit/leaf"), want: "deep-literal", params: map[string]string{"y": "leaf"}},
		{name: "param deeper wins with header", req: request("GET", "example.org", "/deep/lit/leaf", "X-Deep", "1"), want: "deep-literal"},
		{name: "param route when literal lacks depth", req: request("GET", "example.org", "/deep/zz/leaf", "X-Deep", "1"), want: "deep-cond", params: map[string]string{"x": "zz"}},
		{name: "exact beats prefix at its root", req: request("GET", "example.org", "/docs"), want: "docs"},
		{name: "prefix below its root", req: request("GET", "example.org", "/docs/"), want: "docs-prefix"},
		{name: "nothing", req: request("GET", "example.org", "/nope"), status: NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, err := Normalize(tt.req.URL.EscapedPath())
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			want := tt.status
			if tt.want != "" {
				want = Found
			}
			var res Result
			got := rt.Match(tt.req, path, &res)
			if got != want || routeName(routes, &res) != tt.want {
				t.Fatalf("Match(%s %s%s) = %v, route %q; want %v, route %q",
					tt.req.Method, tt.req.Host, path, got, routeName(routes, &res), want, tt.want)
			}
			for name, v := range tt.params {
				if g := res.Get(name); g != v {
					t.Errorf("Get(%q) = %q, want %q", name, g, v)
				}
			}
			if tt.params != nil && res.Len() != len(tt.params) {
				t.Errorf("Len() = %d, want %d", res.Len(), len(tt.params))
			}
		})
	}
}

// TestRouter_PathTricks checks that a path cannot dodge a route by
// disguising itself: each request goes through Normalize as the gateway
// does, and must reach the route its canonical path names.
func TestRouter_PathTricks(t *testing.T) {
	routes := testRoutes()
	rt := mustRouter(t, routes)
	tests := []struct {
		name, target, want string
	}{
		{name: "dotdot", target: "/public/../admin", want: "admin"},
		{name: "encoded dotdot", target: "/public/%2e%2e/admin", want: "admin"},
		{name: "half encoded dotdot", target: "/public/.%2E/admin", want: "admin"},
		{name: "dot", target: "/./admin", want: "admin"},
		{name: "double slash", target: "//admin", want: "admin"},
		{name: "encoded letter", target: "/%61dmin", want: "admin"},
		{name: "dotdot above root", target: "/../../admin", want: "admin"},
		{name: "encoded slash stays below public", target: "/public/..%2Fadmin", want: "public"},
		{name: "lower-case encoded slash", target: "/a%2fb", want: "encoded-slash"},
		{name: "dotdot into prefix", target: "/admin/../public/x", want: "public"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request("GET", "example.org", "/")
			r.URL.RawPath, r.URL.Path = tt.target, tt.target // as a server parses the raw target
			path, err := Normalize(tt.target)
			if err != nil {
				t.Fatalf("Normalize(%q): %v", tt.target, err)
			}
			var res Result
			if st := rt.Match(r, path, &res); st != Found || routeName(routes, &res) != tt.want {
				t.Errorf("Match(%q → %q) = %v, route %q; want route %q", tt.target, path, st, routeName(routes, &res), tt.want)
			}
		})
	}
}

func TestRouter_Allowed(t *testing.T) {
	routes := testRoutes()
	rt := mustRouter(t, routes)
	tests := []struct {
		name string
		req  *http.Request
		want []string
	}{
		{name: "get and delete", req: request("POST", "example.org", "/users/42"), want: []string{"DELETE", "GET", "HEAD"}},
		{name: "literal and param", req: request("POST", "example.org", "/users/new"), want: []string{"DELETE", "GET", "HEAD"}},
		{name: "no get no head", req: request("GET", "example.org", "/form"), want: []string{"POST", "PUT"}},
		{name: "a route allows all", req: request("GET", "example.org", "/m"), want: nil},
		{name: "no route", req: request("GET", "example.org", "/nope"), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rt.Allowed(tt.req, tt.req.URL.EscapedPath())
			if !slices.Equal(got, tt.want) {
				t.Errorf("Allowed(%s) = %q, want %q", tt.req.URL.Path, got, tt.want)
			}
		})
	}
}

func TestNew_Errors(t *testing.T) {
	route := func(m config.Match) []config.Route { return []config.Route{{Name: "r", Match: m}} }
	p := func(s string) config.Match { return config.Match{Paths: []string{s}} }
	h := func(s string) config.Match { return config.Match{Hosts: []string{s}} }
	tests := []struct {
		name   string
		routes []config.Route
		want   string // substring of the error
	}{
		{name: "relative pattern", routes: route(p("users")), want: `must start with "/"`},
		{name: "empty segment", routes: route(p("/a//b")), want: "empty segment"},
		{name: "unclosed param", routes: route(p("/{id")), want: "mixes text"},
		{name: "mixed segment", routes: route(p("/a{id}")), want: "mixes text"},
		{name: "bad name", routes: route(p("/{1x}")), want: "not an identifier"},
		{name: "empty name", routes: route(p("/{}")), want: "not an identifier"},
		{name: "repeated name", routes: route(p("/{a}/{a}")), want: "appears twice"},
		{name: "catch-all not last", routes: route(p("/{p...}/x")), want: "must be the last"},
		{name: "prefix not last", routes: route(p("/*/x")), want: "must be the last"},
		{name: "too many params", routes: route(p("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}")), want: "at most 8"},
		{name: "dot segment", routes: route(p("/a/../b")), want: "dot segment"},
		{name: "bad escape", routes: route(p("/a%zz")), want: "invalid percent-escape"},
		{name: "empty host", routes: route(h("")), want: "empty"},
		{name: "inner wildcard", routes: route(h("a.*.com")), want: "whole leading label"},
		{name: "double wildcard", routes: route(h("*.*.com")), want: "only one"},
		{name: "host port", routes: route(h("example.com:80")), want: "ports are not allowed"},
		{name: "empty method", routes: route(config.Match{Methods: []string{""}}), want: "method"},
		{name: "method with space", routes: route(config.Match{Methods: []string{"GET POST"}}), want: "method"},
		{name: "bad header name", routes: route(config.Match{Headers: map[string]string{"X Y": "x"}}), want: "header"},
		{name: "empty header name", routes: route(config.Match{Headers: map[string]string{"": "x"}}), want: "header"},
		{name: "empty query name", routes: route(config.Match{Query: map[string]string{"": "x"}}), want: "query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.routes)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `route "r"`) {
				t.Errorf("New() error = %v, want one naming route \"r\" and containing %q", err, tt.want)
			}
		})
	}
}

func TestNew_MaxParams(t *testing.T) {
	routes := []config.Route{{Name: "eight", Match: config.Match{Paths: []string{"/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h...}"}}}}
	rt := mustRouter(t, routes)
	var res Result
	if st := rt.Match(request("GET", "x", "/1/2/3/4/5/6/7/8/9"), "/1/2/3/4/5/6/7/8/9", &res); st != Found {
		t.Fatalf("Match = %v, want found", st)
	}
	var got []string
	for name, v := range res.All() {
		got = append(got, name+"="+v)
	}
	want := []string{"a=1", "b=2", "c=3", "d=4", "e=5", "f=6", "g=7", "h=8/9"}
	if !slices.Equal(got, want) {
		t.Errorf("All() = %q, want %q", got, want)
	}
	if name, v := res.Param(7); name != "h" || v != "8/9" {
		t.Errorf("Param(7) = %q, %q; want h, 8/9", name, v)
	}
}

func TestRouter_NoRoutes(t *testing.T) {
	rt := mustRouter(t, nil)
	var res Result
	res.Route = 3
	if st := rt.Match(request("GET", "x", "/"), "/", &res); st != NotFound || res.Route != -1 {
		t.Errorf("Match = %v, Route %d; want not found, -1", st, res.Route)
	}
}

func TestRouter_DefaultPathIsEverything(t *testing.T) {
	routes := []config.Route{{Name: "all", Match: config.Match{Methods: []string{"GET"}}}}
	rt := mustRouter(t, routes)
	var res Result
	for _, p := range []string{"/", "/a", "/a/b/"} {
		if st := rt.Match(request("GET", "x", p), p, &res); st != Found {
			t.Errorf("Match(%q) = %v, want found", p, st)
		}
	}
}

func TestRouter_Match_Allocs(t *testing.T) {
	rt := mustRouter(t, testRoutes())
	tests := []struct {
		name string
		req  *http.Request
	}{
		{name: "params", req: request("GET", "example.org", "/two/x/y")},
		{name: "catch-all", req: request("GET", "example.org", "/files/a/b")},
		{name: "backtracking", req: request("DELETE", "example.org", "/users/new")},
		{name: "exact host with port", req: request("GET", "api.example.com:443", "/users/1")},
		{name: "wildcard host", req: request("GET", "x.eu.example.com", "/about")},
		{name: "query", req: request("GET", "example.org", "/search?a=b&q=go+lang")},
		{name: "header", req: request("GET", "example.org", "/api/v2/users/1", "X-Version", "2")},
		{name: "not allowed", req: request("POST", "example.org", "/users/1")},
		{name: "not found", req: request("GET", "example.org", "/nope/nope")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.req.URL.EscapedPath()
			var res Result
			if got := testing.AllocsPerRun(100, func() { rt.Match(tt.req, path, &res) }); got != 0 {
				t.Errorf("Match allocs = %v, want 0", got)
			}
		})
	}
}

func TestStatus_String(t *testing.T) {
	for st, want := range map[Status]string{Found: "found", NotFound: "not found", MethodNotAllowed: "method not allowed"} {
		if got := st.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", st, got, want)
		}
	}
}

func TestNew_CanonicalPatterns(t *testing.T) {
	routes := []config.Route{
		{Name: "first", Match: config.Match{Hosts: []string{"API.Example.com."}, Paths: []string{"/%61dmin/%7e"}}},
		{Name: "second", Match: config.Match{Hosts: []string{"api.example.com"}, Paths: []string{"/admin/~"}}},
	}
	rt := mustRouter(t, routes)
	var res Result
	if st := rt.Match(request("GET", "api.example.com", "/admin/~"), "/admin/~", &res); st != Found || routeName(routes, &res) != "first" {
		t.Errorf("Match = %v, route %q; want found, route \"first\"", st, routeName(routes, &res))
	}
}
