package config

import (
	"slices"
	"testing"
	"time"
)

func TestCORS_Errors(t *testing.T) {
	tests := []errorCase{
		{name: "origins missing", doc: routeDoc("cors: {max_age: 10m}"),
			want: `test.yaml:7:5: route "r": cors is missing "allow_origins"`},
		{name: "credentials with any origin", doc: routeDoc("cors:", `  allow_origins: ["*"]`, "  allow_credentials: true"),
			want: `test.yaml:9:7: route "r": cors.allow_credentials can't be used with allow_origins ["*"]: the CORS protocol forbids credentials for any origin (browsers refuse the answer); list the origins`},
		{name: "star with others", doc: routeDoc("cors:", `  allow_origins: ["https://a.example", "*"]`),
			want: `test.yaml:8:44: route "r": cors.allow_origins lists "*" with other origins: write ["*"] for any origin, or list the origins`},
		{name: "origin with path", doc: routeDoc("cors:", "  allow_origins:", "    - https://app.example.com/"),
			want: `test.yaml:9:11: route "r": cors.allow_origins entry "https://app.example.com/" must not have a path: an origin is scheme://host[:port] (drop the trailing "/")`},
		{name: "origin without scheme", doc: routeDoc("cors: {allow_origins: [app.example.com]}"),
			want: `test.yaml:7:28: route "r": cors.allow_origins entry "app.example.com" must be scheme://host[:port], e.g. https://app.example.com`},
		{name: "wildcard inside a label", doc: routeDoc("cors: {allow_origins: [\"https://api-*.example.com\"]}"),
			want: `test.yaml:7:28: route "r": cors.allow_origins entry "https://api-*.example.com" may use a wildcard only as the whole first label of the host, as in https://*.example.com`},
		{name: "bare wildcard host", doc: routeDoc("cors: {allow_origins: [\"https://*\"]}"),
			want: `test.yaml:7:28: route "r": cors.allow_origins entry "https://*" needs a domain after the wildcard, as in https://*.example.com (or allow_origins: ["*"] for any origin)`},
		{name: "null origin", doc: routeDoc("cors: {allow_origins: [\"null\"]}"),
			want: `test.yaml:7:28: route "r": cors.allow_origins entry "null" can't be allowed: "null" is the origin of sandboxed frames and local files, which any page can make; list real origins`},
		{name: "bad port", doc: routeDoc("cors: {allow_origins: [\"http://localhost:0\"]}"),
			want: `test.yaml:7:28: route "r": cors.allow_origins entry "http://localhost:0" has an invalid port: use 1 to 65535`},
		{name: "upper-case host", doc: routeDoc("cors: {allow_origins: [\"https://App.example.com\"]}"),
			want: `test.yaml:7:28: route "r": cors.allow_origins entry "https://App.example.com" must be lower case ("app.example.com")`},
		{name: "method lower case", doc: routeDoc("cors: {allow_origins: [\"https://a.example\"], allow_methods: [get]}"),
			want: `test.yaml:7:66: route "r": cors.allow_methods entry "get" must be upper case ("GET")`},
		{name: "method star", doc: routeDoc("cors: {allow_origins: [\"https://a.example\"], allow_methods: [\"*\"]}"),
			want: `test.yaml:7:66: route "r": cors.allow_methods entry "*" is not an HTTP method: list the methods, e.g. [GET, POST]`},
		{name: "header name", doc: routeDoc("cors: {allow_origins: [\"https://a.example\"], allow_headers: [\"X Token\"]}"),
			want: `test.yaml:7:66: route "r": cors.allow_headers entry "X Token" is not a header name (or "*")`},
		{name: "expose star with credentials", doc: routeDoc("cors: {allow_origins: [\"https://a.example\"], allow_credentials: true, expose_headers: [\"*\"]}"),
			want: `test.yaml:7:92: route "r": cors.expose_headers "*" exposes every header only without credentials (with allow_credentials browsers read it as a header named "*"): list the headers`},
		{name: "max_age fraction", doc: routeDoc("cors:", `  allow_origins: ["https://a.example"]`, "  max_age: 1500ms"),
			want: `test.yaml:9:7: route "r": cors.max_age 1.5s is not whole seconds: browsers read Access-Control-Max-Age in seconds (e.g. 10m, 600s)`},
		{name: "unknown key", doc: routeDoc("cors: {allow_origin: [\"*\"]}"),
			want: `test.yaml:7:12: unknown key "allow_origin" in cors (did you mean "allow_origins"?)`},
		{name: "max_age not a duration", doc: routeDoc("cors: {allow_origins: [\"*\"], max_age: 600}"),
			want: `test.yaml:7:43: "max_age": invalid duration "600": use a number with a unit, e.g. 500ms, 30s, 5m`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.doc, tt.env)
			checkOneError(t, err, tt.want)
		})
	}
}

func TestCORS_Accepted(t *testing.T) {
	for _, o := range []string{"*", "https://app.example.com", "http://localhost:3000", "https://*.example.com",
		"https://*.example.com:8443", "http://127.0.0.1:8080", "http://[::1]:5173", "capacitor://localhost"} {
		doc := routeDoc("cors:", "  allow_origins: [\""+o+"\"]")
		if _, err := parse(t, doc, nil); err != nil {
			t.Errorf("origin %q: %v", o, err)
		}
	}
}

func TestCORS_Defaults(t *testing.T) {
	tests := []struct {
		name                   string
		extra                  []string
		wantMethods, wantHeads []string
	}{
		{"any method", nil, []string{"GET", "HEAD", "POST"}, []string{"Accept", "Content-Type", "X-Requested-With"}},
		{"route methods, HEAD with GET", []string{"match: {methods: [GET, PUT]}"}, []string{"GET", "PUT", "HEAD"}, []string{"Accept", "Content-Type", "X-Requested-With"}},
		{"the API key header", []string{"auth: {api_key: {}}"}, []string{"GET", "HEAD", "POST"}, []string{"Accept", "Content-Type", "X-Requested-With", "X-API-Key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, routeDoc(append(tt.extra, "cors: {allow_origins: [\"https://a.example\"], max_age: 10m}")...), nil)
			c := f.Gateway.Routes[0].CORS
			if !slices.Equal(c.AllowMethods, tt.wantMethods) || !slices.Equal(c.AllowHeaders, tt.wantHeads) {
				t.Errorf("methods %v headers %v, want %v %v", c.AllowMethods, c.AllowHeaders, tt.wantMethods, tt.wantHeads)
			}
			if c.MaxAge.D() != 10*time.Minute || c.AllowCredentials || len(c.ExposeHeaders) != 0 {
				t.Errorf("cors = %+v", c)
			}
		})
	}
}
