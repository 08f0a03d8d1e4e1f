package edge

import (
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

// TestNew_PassesLimits checks the limits reach the http.Server.
func TestNew_PassesLimits(t *testing.T) {
	s, err := New(Config{Handler: http.NotFoundHandler(), WriteTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	hs := s.hs
	if hs.ReadHeaderTimeout != 10*time.Second || hs.IdleTimeout != 120*time.Second ||
		hs.MaxHeaderBytes != 64<<10 || hs.WriteTimeout != time.Minute || hs.ReadTimeout != 0 {
		t.Errorf("http.Server limits = %v %v %d %v %v; want 10s 120s 65536 1m0s 0s",
			hs.ReadHeaderTimeout, hs.IdleTimeout, hs.MaxHeaderBytes, hs.WriteTimeout, hs.ReadTimeout)
	}
}
