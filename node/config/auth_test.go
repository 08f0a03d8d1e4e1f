package config

import "testing"

func TestAuth_Errors(t *testing.T) {
	tests := []errorCase{
		{name: "cookie name", doc: routeDoc("auth:", "  api_key: {cookie: \"my key\"}"),
			want: `test.yaml:8:17: route "r": auth.api_key.cookie "my key" is not a valid cookie name`},
		{name: "consumer header name", doc: routeDoc("auth:", "  api_key: {}", "  upstream_headers: {consumer: \"X Who\"}"),
			want: `test.yaml:9:26: route "r": auth.upstream_headers.consumer "X Who" is not a valid header name`},
		{name: "hop-by-hop", doc: routeDoc("auth:", "  api_key: {}", "  upstream_headers:", "    group: connection"),
			want: `test.yaml:10:9: route "r": auth.upstream_headers.group "connection" can't carry the identity: it is a hop-by-hop or framing header; use a name of your own, e.g. X-Consumer-Name`},
		{name: "host", doc: routeDoc("auth:", "  api_key: {}", "  upstream_headers: {anonymous: Host}"),
			want: `test.yaml:9:26: route "r": auth.upstream_headers.anonymous "Host" can't carry the identity: it is a hop-by-hop or framing header; use a name of your own, e.g. X-Consumer-Name`},
		{name: "content-length", doc: routeDoc("auth:", "  api_key: {}", "  upstream_headers: {consumer: Content-Length}"),
			want: `test.yaml:9:26: route "r": auth.upstream_headers.consumer "Content-Length" can't carry the identity: it is a hop-by-hop or framing header; use a name of your own, e.g. X-Consumer-Name`},
		{name: "same names", doc: routeDoc("auth:", "  api_key: {}", "  upstream_headers: {consumer: X-Who, group: x-who}"),
			want: `test.yaml:9:43: route "r": auth.upstream_headers.group "x-who" is the same header as auth.upstream_headers.consumer (names ignore case): use distinct names`},
		{name: "a default name taken", doc: routeDoc("auth:", "  api_key: {}", "  upstream_headers: {consumer: X-Consumer-Groups}"),
			want: `test.yaml:9:7: route "r": auth.upstream_headers.group "X-Consumer-Groups" is the same header as auth.upstream_headers.consumer (names ignore case): use distinct names`},
		{name: "the API key header", doc: routeDoc("auth:", "  api_key: {header: X-Key}", "  upstream_headers: {consumer: x-key}"),
			want: `test.yaml:9:26: route "r": auth.upstream_headers.consumer "x-key" is the same header as auth.api_key.header (names ignore case): use distinct names`},
		{name: "unknown key", doc: routeDoc("auth:", "  api_key: {}", "  upstream_headers: {consumers: X-Who}"),
			want: `test.yaml:9:26: unknown key "consumers" in auth.upstream_headers (did you mean "consumer"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.doc, tt.env)
			checkOneError(t, err, tt.want)
		})
	}
}

func TestAuth_Defaults(t *testing.T) {
	f := mustParse(t, routeDoc("auth: {api_key: {cookie: session}, upstream_headers: {}}"), nil)
	a := f.Gateway.Routes[0].Auth
	if a.APIKey.Header != "X-API-Key" || a.APIKey.Cookie != "session" {
		t.Errorf("api_key = %+v", a.APIKey)
	}
	want := UpstreamHeaders{Consumer: "X-Consumer-Name", Group: "X-Consumer-Groups", Anonymous: "X-Anonymous-Consumer"}
	if h := a.UpstreamHeaders; h == nil || *h != want {
		t.Errorf("upstream_headers = %+v, want %+v", h, want)
	}
	f = mustParse(t, routeDoc("auth: {api_key: {}}"), nil)
	if a := f.Gateway.Routes[0].Auth; a.UpstreamHeaders != nil || a.APIKey.Cookie != "" {
		t.Errorf("without upstream_headers: %+v %+v, want none and no cookie", a.UpstreamHeaders, a.APIKey)
	}
}
