package config

import (
	"strings"
	"testing"
)

// twoRoutes returns okUpstream and routes a (line 5) and b (line 6), each
// given as the inside of a flow mapping.
func twoRoutes(a, b string) string {
	return y(okUpstream, "routes:",
		"  - {name: a, upstream: u, "+a+"}",
		"  - {name: b, upstream: u, "+b+"}")
}

func TestParse_Conflicts(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		// want is the conflict error, or "" when the routes don't conflict.
		want string
	}{
		{
			name: "same path",
			a:    `match: {paths: ["/users"]}`, b: `match: {paths: ["/users"]}`,
			want: `test.yaml:6:44: route "b" conflicts with route "a" at line 5: both match path "/users" at priority 0 with the same hosts, methods, headers and query; give one a higher priority or make their matches differ`,
		},
		{
			name: "parameter names differ",
			a:    `match: {paths: ["/u/{id}"]}`, b: `match: {paths: ["/x", "/u/{x}"]}`,
			want: `test.yaml:6:50: route "b" conflicts with route "a" at line 5: both match path "/u/{x}" (same as "/u/{id}") at priority 0 with the same hosts, methods, headers and query; give one a higher priority or make their matches differ`,
		},
		{
			name: "prefix and catch-all",
			a:    `match: {paths: ["/api/*"]}`, b: `match: {paths: ["/api/{rest...}"]}`,
			want: `test.yaml:6:44: route "b" conflicts with route "a" at line 5: both match path "/api/{rest...}" (same as "/api/*") at priority 0 with the same hosts, methods, headers and query; give one a higher priority or make their matches differ`,
		},
		{
			name: "both default paths",
			a:    `priority: 3`, b: `priority: 3`,
			want: `test.yaml:6:5: route "b" conflicts with route "a" at line 5: both match path "/*" at priority 3 with the same hosts, methods, headers and query; give one a higher priority or make their matches differ`,
		},
		{
			name: "encoded unreserved characters",
			a:    `match: {paths: ["/admin"]}`, b: `match: {paths: ["/%61dmin"]}`,
			want: `route "b" conflicts with route "a"`,
		},
		{
			name: "same exact host",
			a:    `match: {hosts: [a.com, b.com]}`, b: `match: {hosts: [c.com, b.com]}`,
			want: `route "b" conflicts with route "a"`,
		},
		{
			name: "same wildcard host",
			a:    `match: {hosts: ["*.a.com"]}`, b: `match: {hosts: ["*.a.com"]}`,
			want: `route "b" conflicts with route "a"`,
		},
		{
			name: "methods overlap",
			a:    `match: {methods: [GET, POST]}`, b: `match: {methods: [POST]}`,
			want: `route "b" conflicts with route "a"`,
		},
		{
			name: "any method overlaps",
			a:    `match: {methods: [GET]}`, b: `match: {}`,
			want: `route "b" conflicts with route "a"`,
		},
		{
			name: "same header, name case differs",
			a:    `match: {headers: {X-Env: beta}}`, b: `match: {headers: {x-env: beta}}`,
			want: `route "b" conflicts with route "a"`,
		},
		{
			name: "same query",
			a:    `match: {query: {v: "2"}}`, b: `match: {query: {v: "2"}}`,
			want: `route "b" conflicts with route "a"`,
		},
		{name: "different priority", a: `priority: 1`, b: `priority: 2`},
		{name: "different paths", a: `match: {paths: ["/a"]}`, b: `match: {paths: ["/b"]}`},
		{name: "exact path and prefix", a: `match: {paths: ["/api"]}`, b: `match: {paths: ["/api/*"]}`},
		{name: "template and catch-all", a: `match: {paths: ["/f/{x}"]}`, b: `match: {paths: ["/f/{x...}"]}`},
		{name: "trailing slash", a: `match: {paths: ["/a"]}`, b: `match: {paths: ["/a/"]}`},
		{name: "host and any host", a: `match: {hosts: [a.com]}`, b: `match: {}`},
		{name: "different hosts", a: `match: {hosts: [a.com]}`, b: `match: {hosts: [b.com]}`},
		{name: "wildcard and exact host", a: `match: {hosts: ["*.a.com"]}`, b: `match: {hosts: [x.a.com]}`},
		{name: "disjoint methods", a: `match: {methods: [GET]}`, b: `match: {methods: [POST]}`},
		{name: "header and none", a: `match: {headers: {X-Env: beta}}`, b: `match: {}`},
		{name: "header values differ", a: `match: {headers: {X-Env: beta}}`, b: `match: {headers: {X-Env: "*"}}`},
		{name: "query and none", a: `match: {query: {v: "2"}}`, b: `match: {}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, twoRoutes(tt.a, tt.b), nil)
			got := problems(t, err)
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("got errors:\n  %s\nwant none", strings.Join(got, "\n  "))
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("got errors:\n  %s\nwant one containing:\n  %s", strings.Join(got, "\n  "), tt.want)
			}
		})
	}
}

// TestParse_ConflictsReportedOncePerPair checks that routes sharing
// several equivalent paths give one error per pair of routes, and a path
// one error, naming the first route it conflicts with (n copies of a
// route give n-1 errors, not n²/2).
func TestParse_ConflictsReportedOncePerPair(t *testing.T) {
	doc := y(okUpstream, "routes:",
		`  - {name: a, upstream: u, match: {paths: ["/x", "/y"]}}`,
		`  - {name: b, upstream: u, match: {paths: ["/x", "/y"]}}`,
		`  - {name: c, upstream: u, match: {paths: ["/y"]}}`)
	_, err := parse(t, doc, nil)
	got := problems(t, err)
	want := []string{
		`test.yaml:6:44: route "b" conflicts with route "a" at line 5`,
		`test.yaml:7:44: route "c" conflicts with route "a" at line 5`,
	}
	if len(got) != len(want) {
		t.Fatalf("got errors:\n  %s\nwant %d", strings.Join(got, "\n  "), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}
