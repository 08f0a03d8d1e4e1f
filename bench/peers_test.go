package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestPeerConfigs_CarryThePoolSettings(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"nginx", []string{"worker_processes 1;", "keepalive 256;", "proxy_http_version 1.1;", `proxy_set_header Connection "";`, "access_log off;", "listen 127.0.0.1:1000;", "server 127.0.0.1:2000;"}},
		{"haproxy", []string{"nbthread 1", "http-reuse always", "bind 127.0.0.1:1000", "server demo 127.0.0.1:2000 pool-max-conn 256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := peerNamed(t, tt.name)
			conf := p.config("127.0.0.1:1000", "127.0.0.1:2000", "/tmp/x")
			for _, w := range tt.want {
				if !strings.Contains(conf, w) {
					t.Errorf("%s config lacks %q:\n%s", tt.name, w, conf)
				}
			}
		})
	}
}

// TestPeerConfigs_PassTheirOwnCheck asks each installed peer to check its
// generated config; peers that are not installed are skipped.
func TestPeerConfigs_PassTheirOwnCheck(t *testing.T) {
	tests := []struct {
		name string
		args func(bin, cfg, dir string) []string
	}{
		{"nginx", func(bin, cfg, dir string) []string {
			return []string{bin, "-t", "-q", "-p", dir + "/", "-c", cfg, "-e", filepath.Join(dir, "error.log")}
		}},
		{"haproxy", func(bin, cfg, _ string) []string { return []string{bin, "-c", "-q", "-f", cfg} }},
	}
	for _, tt := range tests {
		p := peerNamed(t, tt.name)
		for kind, config := range map[string]func(listen, backend, dir string) string{"plain": p.config, "cache": p.cacheConfig} {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				bin := findBinary(p.bin)
				if bin == "" {
					t.Skipf("%s not installed", p.bin)
				}
				dir := t.TempDir()
				if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
					t.Fatal(err)
				}
				ports, err := freePorts(2)
				if err != nil {
					t.Fatal(err)
				}
				cfg := filepath.Join(dir, p.name+".conf")
				if err := os.WriteFile(cfg, []byte(config(loopback(ports[0]), loopback(ports[1]), dir)), 0o644); err != nil {
					t.Fatal(err)
				}
				argv := tt.args(bin, cfg, dir)
				if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
					t.Errorf("%s rejects its %s config: %v\n%s", p.name, kind, err, out)
				}
			})
		}
	}
}

func TestFindPeers_SkipsWhatCannotBeHad(t *testing.T) {
	missing := peer{name: "ghost", pkg: "ghost-proxy", bin: "portico-bench-no-such-proxy"}
	got := findPeers(context.Background(), []peer{missing}, false)
	if b := got["ghost"]; b.path != "" || !strings.Contains(b.skip, "--no-install") {
		t.Errorf("findPeers(missing, no install) = %+v, want a skip naming --no-install", b)
	}
}

func peerNamed(t *testing.T, name string) peer {
	t.Helper()
	for _, p := range peers() {
		if p.name == name {
			return p
		}
	}
	t.Fatalf("no peer %q", name)
	return peer{}
}
