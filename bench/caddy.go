package bench

import (
	"bufio"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Caddy is the edge scenarios' peer: like portico it serves HTTP/3 with
// quic-go. It is not packaged by Debian, so it is built once from source
// with the Go toolchain and kept in the user's cache dir.
const (
	// PeerCaddy is Caddy's name in --peers and in the reports.
	PeerCaddy      = "caddy"
	caddyModule    = "github.com/caddyserver/caddy/v2"
	caddyPackage   = caddyModule + "/cmd/caddy"
	caddyVersion   = "v2.11.9"
	caddyHeartbeat = 15 * time.Second
)

// caddyBinDir is where Caddy is built and looked for:
// $(os.UserCacheDir)/portico-bench/bin, e.g. ~/.cache/portico-bench/bin.
func caddyBinDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache dir: %w", err)
	}
	return filepath.Join(dir, "portico-bench", "bin"), nil
}

// caddyInstallHint is the command that builds Caddy where we look for it.
func caddyInstallHint(dir string) string {
	return fmt.Sprintf("GOBIN=%s go install %s@%s", dir, caddyPackage, caddyVersion)
}

// findCaddy returns the Caddy binary of caddyVersion in caddyBinDir,
// building it with `go install` when it is missing or of another version
// and install is true (it takes minutes; progress shows go's output and a
// line every 15s). A Caddy that can't be had gets a skip reason; this
// never fails the run.
func findCaddy(ctx context.Context, install bool, pr *progress) peerBinary {
	dir, err := caddyBinDir()
	if err != nil {
		return peerBinary{skip: err.Error()}
	}
	path := filepath.Join(dir, "caddy")
	if v, err := caddyBuildVersion(path); err == nil && v == caddyVersion {
		return peerBinary{path: path, version: caddyVersionLine(path)}
	}
	if !install {
		return peerBinary{skip: "not installed (--no-install); build it with: " + caddyInstallHint(dir)}
	}
	goBin := findBinary("go")
	if goBin == "" {
		return peerBinary{skip: "no go toolchain in PATH to build it; install Go, or run: " + caddyInstallHint(dir)}
	}
	if err := buildCaddy(ctx, goBin, dir, pr); err != nil {
		return peerBinary{skip: err.Error()}
	}
	if v, err := caddyBuildVersion(path); err != nil || v != caddyVersion {
		return peerBinary{skip: fmt.Sprintf("built %s but found version %q (%v)", path, v, err)}
	}
	return peerBinary{path: path, version: caddyVersionLine(path)}
}

// caddyBuildVersion is the version of the Caddy module path was built
// from, read from the binary's build info (`caddy version` says "unknown"
// for a binary built by go install).
func caddyBuildVersion(path string) (string, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading build info of %s: %w", path, err)
	}
	if bi.Main.Path == caddyModule {
		return bi.Main.Version, nil
	}
	for _, d := range bi.Deps {
		if d.Path == caddyModule {
			return d.Version, nil
		}
	}
	return "", fmt.Errorf("%s is not built from %s", path, caddyModule)
}

// caddyVersionLine is what the reports show, e.g. "caddy v2.11.9 (go1.26.8)".
func caddyVersionLine(path string) string {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return ""
	}
	v, _ := caddyBuildVersion(path)
	return fmt.Sprintf("caddy %s (%s)", v, bi.GoVersion)
}

// buildCaddy runs go install for caddyVersion into dir, passing go's
// output on to pr line by line, with a line of its own every
// caddyHeartbeat while the compiler is quiet.
func buildCaddy(ctx context.Context, goBin, dir string, pr *progress) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	pr.note("building Caddy %s with the Go toolchain into %s (once; takes a few minutes)", caddyVersion, dir)
	cmd := exec.CommandContext(ctx, goBin, "install", caddyPackage+"@"+caddyVersion)
	// Outside any module, so the current directory's go.mod plays no part.
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	out, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("building caddy: %w", err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("building caddy: %w", err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		forwardLines(out, lines)
	}()
	began := time.Now()
	tick := time.NewTicker(caddyHeartbeat)
	defer tick.Stop()
	var last string
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				done = true
				break
			}
			last = l
			pr.note("  %s", l)
		case <-tick.C:
			pr.note("  still building Caddy (%s)", time.Since(began).Round(time.Second))
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("building caddy: %w: %s", err, last)
	}
	pr.note("built Caddy in %s", time.Since(began).Round(time.Second))
	return nil
}

// forwardLines sends r's lines to lines until r ends.
func forwardLines(r io.Reader, lines chan<- string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		lines <- sc.Text()
	}
}

// caddyConfig is Caddy's JSON config for the edge scenarios: admin API
// off, logs at ERROR, automatic HTTPS off, one server on listen (TCP for
// HTTP/1.1 and HTTP/2, UDP for HTTP/3) with the given certificate loaded
// from files, and one reverse_proxy route to backend over HTTP/1.1
// keep-alive (an idle pool of peerPoolSize, as the other peers). Its
// storage (Caddy's data dir) is dir.
func caddyConfig(listen, backend string, c *certFiles, dir string) ([]byte, error) {
	type obj = map[string]any
	cfg := obj{
		"admin": obj{"disabled": true, "config": obj{"persist": false}},
		"logging": obj{"logs": obj{"default": obj{
			"level":  "ERROR",
			"writer": obj{"output": "stderr"},
		}}},
		"storage": obj{"module": "file_system", "root": dir},
		"apps": obj{
			"tls": obj{"certificates": obj{"load_files": []obj{{"certificate": c.cert, "key": c.key}}}},
			"http": obj{"servers": obj{"bench": obj{
				"listen":    []string{listen},
				"protocols": []string{"h1", "h2", "h3"},
				// An empty policy turns TLS on for the listener, with the
				// loaded certificate.
				"tls_connection_policies": []obj{{}},
				"automatic_https":         obj{"disable": true},
				"routes": []obj{{"handle": []obj{{
					"handler":   "reverse_proxy",
					"upstreams": []obj{{"dial": backend}},
					"transport": obj{
						"protocol":   "http",
						"versions":   []string{"1.1"},
						"keep_alive": obj{"max_idle_conns_per_host": peerPoolSize},
					},
				}}}},
			}}},
		},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding caddy config: %w", err)
	}
	return b, nil
}

// caddyArgv runs Caddy in the foreground with the JSON config file cfg.
func caddyArgv(bin, cfg string) []string {
	return []string{bin, "run", "--config", cfg}
}

// wantsCaddy reports whether the peers list asks for Caddy.
func wantsCaddy(peers []string) bool {
	for _, p := range peers {
		if strings.EqualFold(p, PeerCaddy) {
			return true
		}
	}
	return false
}
