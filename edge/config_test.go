package edge_test

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/edge"
)

func TestNew_RefusesBadConfig(t *testing.T) {
	ok := http.NotFoundHandler()
	tests := []struct {
		name    string
		cfg     edge.Config
		mention string
	}{
		{"no handler", edge.Config{}, "handler is nil"},
		{"negative read header timeout", edge.Config{Handler: ok, ReadHeaderTimeout: -time.Second}, "read header timeout"},
		{"negative read timeout", edge.Config{Handler: ok, ReadTimeout: -1}, "read timeout"},
		{"negative write timeout", edge.Config{Handler: ok, WriteTimeout: -1}, "write timeout"},
		{"negative idle timeout", edge.Config{Handler: ok, IdleTimeout: -1}, "idle timeout"},
		{"negative max header bytes", edge.Config{Handler: ok, MaxHeaderBytes: -1}, "max header bytes"},
		{"negative tls handshake timeout", edge.Config{Handler: ok, Limits: edge.Limits{TLSHandshakeTimeout: -1}}, "tls handshake timeout"},
		{"negative body rate grace", edge.Config{Handler: ok, Limits: edge.Limits{MinBodyRateGrace: -1}}, "min body rate grace"},
		{"negative max concurrent streams", edge.Config{Handler: ok, HTTP2: edge.HTTP2Config{MaxConcurrentStreams: -1}}, "max concurrent streams"},
		{"tls without certificates", edge.Config{Handler: ok, TLS: &edge.TLSConfig{}}, "tls has no certificates"},
		{"tls certificate without key file", edge.Config{Handler: ok, TLS: &edge.TLSConfig{Certificates: []edge.CertFiles{{CertFile: "c.pem"}}}}, "key file"},
		{"tls 1.1", edge.Config{Handler: ok, TLS: &edge.TLSConfig{Certificates: []edge.CertFiles{{CertFile: "c.pem", KeyFile: "k.pem"}}, MinVersion: tls.VersionTLS11}}, "tls min version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := edge.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("New = %v, %v; want an error mentioning %q", s, err, tt.mention)
			}
		})
	}
	if _, err := edge.New(edge.Config{Handler: ok}); err != nil {
		t.Errorf("New with only a handler = %v, want nil", err)
	}
}
