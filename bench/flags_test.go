package bench

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		check   func(Options, string) bool
		wantErr string
	}{
		{
			name: "defaults",
			check: func(o Options, out string) bool {
				return o.Binary == self && o.Duration == 10*time.Second && o.Warmup == time.Second && out == "." &&
					slices.Equal(o.Peers, []string{"nginx", "haproxy", "caddy"}) &&
					slices.Equal(o.Scenarios, []string{"passthrough", "latency", "cache", "protocols", "wan", "cluster", "cache-cluster", "ratelimit", "ratelimit-latency"}) &&
					o.Connections == 64 && o.Rate == 2000 && o.ClusterWrites == 200 && o.ClusterIdle == 10*time.Second &&
					o.WANConns == 100 && !o.NoInstall && !o.NoPin
			},
		},
		{
			name: "everything set",
			args: []string{"--binary", self, "--duration", "2s", "--warmup", "0", "--scenarios", "latency", "--out", "/tmp/b",
				"--peers", "none", "--no-install", "--no-pin", "--connections", "8", "--rate", "100",
				"--cluster-writes", "20", "--cluster-idle", "2s", "--wan-conns", "7"},
			check: func(o Options, out string) bool {
				return o.Duration == 2*time.Second && o.Warmup < 0 && out == "/tmp/b" && o.Peers != nil && len(o.Peers) == 0 &&
					slices.Equal(o.Scenarios, []string{"latency"}) && o.NoInstall && o.NoPin && o.Connections == 8 && o.Rate == 100 &&
					o.ClusterWrites == 20 && o.ClusterIdle == 2*time.Second && o.WANConns == 7
			},
		},
		{name: "one peer", args: []string{"--peers", "haproxy"}, check: func(o Options, _ string) bool { return slices.Equal(o.Peers, []string{"haproxy"}) }},
		{name: "caddy alone", args: []string{"--peers", "caddy", "--scenarios", "protocols"}, check: func(o Options, _ string) bool {
			return slices.Equal(o.Peers, []string{"caddy"}) && slices.Equal(o.Scenarios, []string{"protocols"})
		}},
		{name: "bad wan conns", args: []string{"--wan-conns", "0"}, wantErr: "must be positive"},
		{name: "unknown scenario", args: []string{"--scenarios", "passthrough,cache9"}, wantErr: `unknown scenario "cache9"`},
		{name: "unknown peer", args: []string{"--peers", "envoy"}, wantErr: `unknown peer "envoy"`},
		{name: "missing binary", args: []string{"--binary", "/nonexistent/portico"}, wantErr: "portico binary"},
		{name: "bad duration", args: []string{"--duration", "0s"}, wantErr: "must be positive"},
		{name: "bad cluster writes", args: []string{"--cluster-writes", "0"}, wantErr: "must be positive"},
		{name: "bad cluster idle", args: []string{"--cluster-idle", "-1s"}, wantErr: "must be positive"},
		{name: "cluster alone", args: []string{"--scenarios", "cluster"}, check: func(o Options, _ string) bool { return slices.Equal(o.Scenarios, []string{"cluster"}) }},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments: extra"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			o, out, err := parseFlags(tt.args, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("parseFlags(%q) error = %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", tt.args, err)
			}
			if !tt.check(o, out) {
				t.Errorf("parseFlags(%q) = %+v, out %q: not what was asked", tt.args, o, out)
			}
		})
	}
}

func TestMain_ExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"help", []string{"--help"}, 0},
		{"bad flag", []string{"--no-such-flag"}, 2},
		{"bad value", []string{"--scenarios", "nope"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := Main(context.Background(), tt.args, &stdout, &stderr); got != tt.want {
				t.Errorf("Main(%q) = %d, want %d; stderr:\n%s", tt.args, got, tt.want, stderr.String())
			}
		})
	}
}
