package cache

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestKeyOf(t *testing.T) {
	consumer := func(r *http.Request) string { return r.Header.Get("X-Consumer") }
	tests := []struct {
		name   string
		method string
		target string
		header map[string]string
		pol    Policy
		want   string
	}{
		{name: "plain", target: "https://example.com/a/b", want: "GET https://example.com/a/b"},
		{name: "http and default port", target: "http://Example.COM:80/a", want: "GET http://example.com/a"},
		{name: "https default port", target: "https://example.com:443/a", want: "GET https://example.com/a"},
		{name: "any port dropped (routes ignore it)", target: "https://example.com:8443/a", want: "GET https://example.com/a"},
		{name: "ipv6 port dropped", target: "http://[::1]:8080/a", want: "GET http://[::1]/a"},
		{name: "head", method: http.MethodHead, target: "https://example.com/a", want: "HEAD https://example.com/a"},
		{name: "query sorted stably", target: "https://example.com/a?b=2&a=1&b=1", want: "GET https://example.com/a?a=1&b=2&b=1"},
		{name: "empty params dropped", target: "https://example.com/a?&a=1&&", want: "GET https://example.com/a?a=1"},
		{name: "escapes normalized", target: "https://example.com/%7euser/%2fx?q=%7e%2f", want: "GET https://example.com/~user/%2Fx?q=~%2F"},
		{name: "dot segments and slashes", target: "https://example.com//a/./b/../c/", want: "GET https://example.com/a/c/"},
		{name: "encoded dots", target: "https://example.com/a/%2e%2E/b", want: "GET https://example.com/b"},
		{name: "ignored params", target: "https://example.com/a?utm_source=x&id=3", pol: Policy{Key: KeySpec{IgnoreQuery: []string{"utm_source"}}},
			want: "GET https://example.com/a?id=3"},
		{name: "whole query ignored", target: "https://example.com/a?id=3", pol: Policy{Key: KeySpec{IgnoreQuery: []string{"*"}}},
			want: "GET https://example.com/a"},
		{name: "headers cookies consumer", target: "https://example.com/a",
			header: map[string]string{"Accept-Language": "en US", "Cookie": "sid=abc; other=1", "X-Consumer": "alice"},
			pol:    Policy{Key: KeySpec{Headers: []string{"accept-language"}, Cookies: []string{"sid"}, Consumer: consumer}},
			want:   "GET https://example.com/a h:accept-language=en+US c:sid=abc u:alice"},
		{name: "absent header", target: "https://example.com/a", pol: Policy{Key: KeySpec{Headers: []string{"X-Tenant"}}},
			want: "GET https://example.com/a h:x-tenant="},
		{name: "backslash refused", target: "https://example.com/a%5cb", want: ""},
		{name: "nul refused", target: "https://example.com/a%00b", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			r := httptest.NewRequest(method, tt.target, nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if got := KeyOf(r, tt.pol); got != tt.want {
				t.Errorf("KeyOf(%s) = %q, want %q", tt.target, got, tt.want)
			}
		})
	}
}

func TestKeyURL(t *testing.T) {
	k := "GET https://example.com/a?x=1 h:accept=1"
	if got, want := KeyURL(k), "https://example.com/a?x=1"; got != want {
		t.Errorf("KeyURL(%q) = %q, want %q", k, got, want)
	}
}

func TestNormalizePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"/a/b/", "/a/b/"},
		{"/a/.", "/a/"},
		{"/a/..", "/"},
		{"/../../a", "/a"},
		{"/a//b", "/a/b"},
		{"/a b", "/a%20b"},
		{"/%41%62", "/Ab"},
		{"/%c3%a9", "/%C3%A9"},
	}
	for _, tt := range tests {
		if got, ok := normalizePath(tt.in); !ok || got != tt.want {
			t.Errorf("normalizePath(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
	for _, bad := range []string{"", "a", "/%zz", "/%4", "/a\\b", "/a\x01"} {
		if got, ok := normalizePath(bad); ok {
			t.Errorf("normalizePath(%q) = %q, want refusal", bad, got)
		}
	}
}

func TestVariantKey(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
	r.Header.Add("Accept-Encoding", "gzip ,  br")
	r.Header.Add("Accept-Encoding", "zstd")
	got := variantKey("K", []string{"accept-encoding", "accept-language"}, r)
	if want := "K v:accept-encoding=gzip%2Cbr%2Czstd v:accept-language="; got != want {
		t.Errorf("variantKey = %q, want %q", got, want)
	}
}
