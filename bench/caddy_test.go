package bench

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/node/config"
)

// dig walks a decoded JSON document: keys for objects, "0" for the first
// element of an array. It returns nil when the path is missing.
func dig(v any, path ...string) any {
	for _, k := range path {
		switch n := v.(type) {
		case map[string]any:
			v = n[k]
		case []any:
			if k != "0" || len(n) == 0 {
				return nil
			}
			v = n[0]
		default:
			return nil
		}
	}
	return v
}

func TestCaddyConfig(t *testing.T) {
	dir := t.TempDir()
	certs, err := writeCerts(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := caddyConfig("127.0.0.1:8443", "127.0.0.1:9000", certs, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("caddy config is not JSON: %v\n%s", err, b)
	}
	srv := []string{"apps", "http", "servers", "bench"}
	proxy := append(append([]string{}, srv...), "routes", "0", "handle", "0")
	tests := []struct {
		name string
		path []string
		want any
	}{
		{"admin off", []string{"admin", "disabled"}, true},
		{"config not persisted", []string{"admin", "config", "persist"}, false},
		{"logs quiet", []string{"logging", "logs", "default", "level"}, "ERROR"},
		{"storage in the run dir", []string{"storage", "root"}, filepath.Join(dir, "data")},
		{"listen", append(srv, "listen", "0"), "127.0.0.1:8443"},
		{"h1 first", append(srv, "protocols", "0"), "h1"},
		{"automatic https off", append(srv, "automatic_https", "disable"), true},
		{"tls on", append(srv, "tls_connection_policies", "0"), map[string]any{}},
		{"cert from file", []string{"apps", "tls", "certificates", "load_files", "0", "certificate"}, certs.cert},
		{"key from file", []string{"apps", "tls", "certificates", "load_files", "0", "key"}, certs.key},
		{"reverse proxy", append(proxy, "handler"), "reverse_proxy"},
		{"to the backend", append(proxy, "upstreams", "0", "dial"), "127.0.0.1:9000"},
		{"over http/1.1", append(proxy, "transport", "versions", "0"), "1.1"},
		{"keep-alive pool", append(proxy, "transport", "keep_alive", "max_idle_conns_per_host"), float64(peerPoolSize)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dig(doc, tt.path...)
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tt.want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("%s = %s, want %s", strings.Join(tt.path, "."), gotJSON, wantJSON)
			}
		})
	}
	if got := dig(doc, append(srv, "protocols")...); len(got.([]any)) != 3 {
		t.Errorf("protocols = %v, want h1 h2 h3", got)
	}
}

// TestCaddyConfig_Validates has Caddy load and provision the config (it
// loads the certificate files) when the bench's Caddy has been built.
func TestCaddyConfig_Validates(t *testing.T) {
	binDir, err := caddyBinDir()
	if err != nil {
		t.Skip(err)
	}
	bin := filepath.Join(binDir, "caddy")
	if v, err := caddyBuildVersion(bin); err != nil || v != caddyVersion {
		t.Skipf("caddy %s not built in %s", caddyVersion, binDir)
	}
	dir := t.TempDir()
	certs, err := writeCerts(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := caddyConfig("127.0.0.1:8443", "127.0.0.1:9000", certs, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "caddy.json")
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "validate", "--config", cfg)
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("caddy rejects its config: %v\n%s", err, out)
	}
	if line := caddyVersionLine(bin); !strings.HasPrefix(line, "caddy "+caddyVersion+" (go") {
		t.Errorf("version line = %q, want caddy %s (goX)", line, caddyVersion)
	}
}

func TestCaddyBuildVersion_NotCaddy(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if v, err := caddyBuildVersion(self); err == nil {
		t.Errorf("caddyBuildVersion(test binary) = %q, want an error", v)
	}
}

func TestFindCaddy_NoInstall(t *testing.T) {
	// An empty cache: nothing found, nothing built.
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	got := findCaddy(t.Context(), false, nil)
	if got.path != "" || !strings.Contains(got.skip, "--no-install") || !strings.Contains(got.skip, "go install "+caddyPackage+"@"+caddyVersion) {
		t.Errorf("findCaddy(no install) = %+v, want a skip naming --no-install and the go install command", got)
	}
}

// TestPorticoTLSConfig_ParsesWithTheSchema checks the edge scenarios'
// gateway config against the real config schema.
func TestPorticoTLSConfig_ParsesWithTheSchema(t *testing.T) {
	dir := t.TempDir()
	certs, err := writeCerts(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	text := porticoTLSConfig("bench", "127.0.0.1:8443", "127.0.0.1:9901", filepath.Join(dir, "data"), "127.0.0.1:9000", certs)
	f, err := config.Parse("portico.yaml", []byte(text), nil)
	if err != nil {
		t.Fatalf("config.Parse: %v\n%s", err, text)
	}
	n := f.Node
	if n.Listen != "off" || n.TLS == nil || n.TLS.Listen != "127.0.0.1:8443" || len(n.TLS.Certificates) != 1 ||
		n.TLS.Certificates[0].Cert != certs.cert || n.TLS.Certificates[0].Key != certs.key ||
		n.TLS.HTTP3.Enabled == nil || !*n.TLS.HTTP3.Enabled || n.AccessLog.Output != "off" || n.DataDir != filepath.Join(dir, "data") {
		t.Errorf("node = %+v, tls = %+v; want no cleartext listener, TLS on 8443 with the cert, h3, no access log", n, n.TLS)
	}
	if got := len(f.Gateway.Routes); got != 1 {
		t.Errorf("routes = %d, want 1", got)
	}
}
