package proxy

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientIPForwarded: RFC 7239 Forwarded for= is honoured from trusted
// proxies when there is no X-Forwarded-For.
func TestClientIPForwarded(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name, remote string
		fwd, xff     []string
		want         string
	}{
		{"untrusted peer ignores it", "192.0.2.1:1", []string{"for=203.0.113.5"}, nil, "192.0.2.1"},
		{"plain v4", "10.0.0.2:1", []string{"for=203.0.113.5;proto=https"}, nil, "203.0.113.5"},
		{"quoted v6 with port", "10.0.0.2:1", []string{`for="[2001:db8::1]:4711"`}, nil, "2001:db8::1"},
		{"quoted v4 with port, mixed case", "10.0.0.2:1", []string{`For="198.51.100.7:80"`}, nil, "198.51.100.7"},
		{"rightmost untrusted", "10.0.0.2:1", []string{"for=198.51.100.1, for=203.0.113.5;by=10.0.0.1, for=10.0.0.9"}, nil, "203.0.113.5"},
		{"several lines", "10.0.0.2:1", []string{"for=198.51.100.1", "for=203.0.113.5"}, nil, "203.0.113.5"},
		{"obfuscated stops the walk", "10.0.0.2:1", []string{"for=203.0.113.5, for=_hidden, for=10.0.0.8"}, nil, "10.0.0.8"},
		{"unknown stops the walk", "10.0.0.2:1", []string{"for=203.0.113.5, for=unknown"}, nil, "10.0.0.2"},
		{"element without for stops the walk", "10.0.0.2:1", []string{"for=203.0.113.5, proto=https;by=10.0.0.1"}, nil, "10.0.0.2"},
		{"quoted comma inside a value", "10.0.0.2:1", []string{`for=203.0.113.5;host="a,b", for=10.0.0.3`}, nil, "203.0.113.5"},
		{"x-forwarded-for wins", "10.0.0.2:1", []string{"for=203.0.113.5"}, []string{"198.51.100.9"}, "198.51.100.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.fwd != nil {
				r.Header["Forwarded"] = tt.fwd
			}
			if tt.xff != nil {
				r.Header["X-Forwarded-For"] = tt.xff
			}
			if got := ClientIP(r, trusted).String(); got != tt.want {
				t.Errorf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}
