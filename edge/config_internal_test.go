package edge

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"
)

func TestConfig_Defaults(t *testing.T) {
	tests := []struct {
		name string
		in   Config
		want Config
	}{
		{
			name: "zero fields take defaults",
			in:   Config{},
			want: Config{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10},
		},
		{
			name: "set fields are kept",
			in:   Config{ReadHeaderTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 3 * time.Second, IdleTimeout: 4 * time.Second, MaxHeaderBytes: 5},
			want: Config{ReadHeaderTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 3 * time.Second, IdleTimeout: 4 * time.Second, MaxHeaderBytes: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.withDefaults()
			if got.ErrorLog == nil {
				t.Error("ErrorLog = nil, want a discarding logger")
			}
			got.ErrorLog = nil
			if got.ReadHeaderTimeout != tt.want.ReadHeaderTimeout || got.ReadTimeout != tt.want.ReadTimeout ||
				got.WriteTimeout != tt.want.WriteTimeout || got.IdleTimeout != tt.want.IdleTimeout ||
				got.MaxHeaderBytes != tt.want.MaxHeaderBytes {
				t.Errorf("withDefaults() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestConfig_DefaultsOfLimits(t *testing.T) {
	got := Config{TLS: &TLSConfig{}}.withDefaults()
	if got.TLS.MinVersion != tls.VersionTLS12 || got.TLS.WatchDebounce != time.Second {
		t.Errorf("TLS defaults = %+v, want TLS 1.2 and a 1s debounce", *got.TLS)
	}
	if want := (HTTP2Config{MaxConcurrentStreams: 250, MaxResetsPerSecond: 500}); got.HTTP2 != want {
		t.Errorf("HTTP2 defaults = %+v, want %+v", got.HTTP2, want)
	}
	want := Limits{MaxConns: 10000, MaxConnsPerIP: 256, TLSHandshakeTimeout: 10 * time.Second, MinBodyRate: 240, MinBodyRateGrace: 5 * time.Second}
	if got.Limits != want {
		t.Errorf("Limits defaults = %+v, want %+v", got.Limits, want)
	}
	if got.Logger == nil || got.Now == nil {
		t.Error("Logger or Now left nil, want a discarding logger and time.Now")
	}
	off := Limits{MaxConns: -1, MaxConnsPerIP: -1, MinBodyRate: -1}.withDefaults()
	if off.MaxConns != -1 || off.MaxConnsPerIP != -1 || off.MinBodyRate != -1 {
		t.Errorf("negative (off) limits became %+v, want them kept", off)
	}
	if (Config{}).withDefaults().TLS != nil {
		t.Error("withDefaults made a TLS config, want nil kept")
	}
}

// TestNew_PassesLimits checks the limits reach the http.Server.
func TestNew_PassesLimits(t *testing.T) {
	s, err := New(Config{Handler: http.NotFoundHandler(), WriteTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	hs := s.hs
	if hs.HTTP2 == nil || hs.HTTP2.MaxConcurrentStreams != 250 {
		t.Errorf("http.Server HTTP2 = %+v, want 250 concurrent streams", hs.HTTP2)
	}
	if p := hs.Protocols; p == nil || !p.HTTP1() || p.HTTP2() || p.UnencryptedHTTP2() {
		t.Errorf("http.Server protocols without TLS or H2C = %v, want HTTP1 only", p)
	}
	if hs.ReadHeaderTimeout != 10*time.Second || hs.IdleTimeout != 120*time.Second ||
		hs.MaxHeaderBytes != 64<<10 || hs.WriteTimeout != time.Minute || hs.ReadTimeout != 0 {
		t.Errorf("http.Server limits = %v %v %d %v %v; want 10s 120s 65536 1m0s 0s",
			hs.ReadHeaderTimeout, hs.IdleTimeout, hs.MaxHeaderBytes, hs.WriteTimeout, hs.ReadTimeout)
	}
}
