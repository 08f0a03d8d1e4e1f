package route

import (
	"slices"
	"strings"
	"testing"

	"github.com/portico-gw/portico/node/config"
)

func TestTemplate_Expand(t *testing.T) {
	tests := []struct {
		name     string
		pattern  string // route path pattern
		path     string // request path
		template string
		want     string
	}{
		{name: "param", pattern: "/users/{id}", path: "/users/42", template: "/v2/users/{id}", want: "/v2/users/42"},
		{name: "reordered", pattern: "/u/{a}/{b}", path: "/u/1/2", template: "/x/{b}/{a}", want: "/x/2/1"},
		{name: "inside a segment", pattern: "/u/{id}", path: "/u/7", template: "/u-{id}.json", want: "/u-7.json"},
		{name: "catch-all whole rest", pattern: "/files/{path...}", path: "/files/a/b%2Fc/", template: "/static/{path}", want: "/static/a/b%2Fc/"},
		{name: "catch-all dots syntax", pattern: "/files/{path...}", path: "/files/a/b", template: "/s/{path...}", want: "/s/a/b"},
		{name: "empty catch-all", pattern: "/files/{path...}", path: "/files", template: "/static/{path}", want: "/static/"},
		{name: "empty value between slashes", pattern: "/files/{path...}", path: "/files/", template: "/a/{path}/b", want: "/a/b"},
		{name: "value ending in slash", pattern: "/files/{path...}", path: "/files/x/", template: "/a/{path}/b", want: "/a/x/b"},
		{name: "escaped value kept", pattern: "/u/{id}", path: "/u/a%20b", template: "/v/{id}", want: "/v/a%20b"},
		{name: "unknown param empty", pattern: "/u/{id}", path: "/u/1", template: "/v/{other}", want: "/v/"},
		{name: "no params", pattern: "/u/{id}", path: "/u/1", template: "/fixed", want: "/fixed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := mustRouter(t, []config.Route{{Name: "r", Match: config.Match{Paths: []string{tt.pattern}}}})
			var res Result
			if st := rt.Match(request("GET", "x", tt.path), tt.path, &res); st != Found {
				t.Fatalf("Match(%q) = %v, want found", tt.path, st)
			}
			tpl, err := ParseTemplate(tt.template)
			if err != nil {
				t.Fatalf("ParseTemplate(%q): %v", tt.template, err)
			}
			if got := tpl.Expand(&res); got != tt.want {
				t.Errorf("Expand(%q with %q) = %q, want %q", tt.template, tt.path, got, tt.want)
			}
		})
	}
}

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		name, template string
		params         []string
		err            string // substring; "" for success
	}{
		{name: "params in order", template: "/a/{x}/{y...}", params: []string{"x", "y"}},
		{name: "literal", template: "/a", params: nil},
		{name: "relative", template: "a/{x}", err: `must start with "/"`},
		{name: "empty", template: "", err: `must start with "/"`},
		{name: "unclosed", template: "/a/{x", err: "unclosed"},
		{name: "nested", template: "/a/{x{y}}", err: "unclosed"},
		{name: "stray close", template: "/a/x}", err: `"}" without "{"`},
		{name: "bad name", template: "/a/{x-y}", err: "not an identifier"},
		{name: "empty name", template: "/a/{}", err: "not an identifier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := ParseTemplate(tt.template)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseTemplate(%q) error = %v, want %q", tt.template, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTemplate(%q): %v", tt.template, err)
			}
			if got := tpl.Params(); !slices.Equal(got, tt.params) {
				t.Errorf("Params() = %q, want %q", got, tt.params)
			}
		})
	}
}

func TestTemplate_ExpandAllocs(t *testing.T) {
	rt := mustRouter(t, []config.Route{{Name: "r", Match: config.Match{Paths: []string{"/users/{id}"}}}})
	var res Result
	rt.Match(request("GET", "x", "/users/42"), "/users/42", &res)
	for _, tc := range []struct {
		template string
		want     float64
	}{{"/v2/users/{id}/profile", 1}, {"/fixed", 0}} {
		tpl, err := ParseTemplate(tc.template)
		if err != nil {
			t.Fatal(err)
		}
		if got := testing.AllocsPerRun(100, func() { tpl.Expand(&res) }); got != tc.want {
			t.Errorf("Expand(%q) allocs = %v, want %v", tc.template, got, tc.want)
		}
	}
}

func TestStripPrefix(t *testing.T) {
	tests := []struct {
		name, path, prefix, want string
	}{
		{name: "below", path: "/api/x", prefix: "/api", want: "/x"},
		{name: "deeper", path: "/api/x/y/", prefix: "/api", want: "/x/y/"},
		{name: "itself", path: "/api", prefix: "/api", want: "/"},
		{name: "itself with slash", path: "/api/", prefix: "/api", want: "/"},
		{name: "not on a boundary", path: "/apix", prefix: "/api", want: "/apix"},
		{name: "other path", path: "/web/x", prefix: "/api", want: "/web/x"},
		{name: "prefix with trailing slash", path: "/api/x", prefix: "/api/", want: "/x"},
		{name: "prefix trailing slash itself", path: "/api", prefix: "/api/", want: "/"},
		{name: "root prefix", path: "/api/x", prefix: "/", want: "/api/x"},
		{name: "empty prefix", path: "/api/x", prefix: "", want: "/api/x"},
		{name: "multi-segment prefix", path: "/a/b/c", prefix: "/a/b", want: "/c"},
		{name: "encoded slash is not a boundary", path: "/api%2Fx", prefix: "/api", want: "/api%2Fx"},
		{name: "empty path", path: "", prefix: "/api", want: "/"},
		{name: "relative path", path: "api/x", prefix: "/api", want: "/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StripPrefix(tt.path, tt.prefix); got != tt.want {
				t.Errorf("StripPrefix(%q, %q) = %q, want %q", tt.path, tt.prefix, got, tt.want)
			}
		})
	}
}
