package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/nodetest"
)

// TestHelpOnEverySubcommand: -h and --help print help and exit 0, and do
// nothing else (keygen printed a secret, config validate opened a file
// named --help).
func TestHelpOnEverySubcommand(t *testing.T) {
	cmds := [][]string{
		{"serve"}, {"dev"}, {"config"}, {"config", "validate"}, {"config", "schema"}, {"config", "diff"},
		{"config", "apply"}, {"members"}, {"cluster"}, {"cluster", "status"}, {"purge"}, {"usage"},
		{"keygen"}, {"apikey"}, {"demo-upstream"}, {"version"}, {"help"},
	}
	for _, c := range cmds {
		for _, flag := range []string{"-h", "--help", "-help"} {
			args := append(append([]string{}, c...), flag)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				code := run(context.Background(), args, &stdout, &stderr)
				out := stdout.String() + stderr.String()
				if code != 0 {
					t.Fatalf("exit %d, want 0:\n%s", code, out)
				}
				if !strings.Contains(strings.ToLower(out), "usage") {
					t.Errorf("no usage printed:\n%s", out)
				}
				for _, bad := range []string{"open --help", "open -h", "key:", "no such file"} {
					if strings.Contains(out, bad) {
						t.Errorf("help did something else (%q):\n%s", bad, out)
					}
				}
				if c[0] == "keygen" && len(strings.TrimSpace(stdout.String())) == 44 {
					t.Errorf("keygen --help printed a key:\n%s", out)
				}
			})
		}
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	// A test binary has build info: the Go version at least.
	if !strings.Contains(out.String(), "go1.") {
		t.Errorf("version = %q, want the Go version from the build info", out.String())
	}
	if got := versionLine("v1.2.3", nil); !strings.HasPrefix(got, "portico v1.2.3") {
		t.Errorf("versionLine with a make-set version = %q", got)
	}
}

// TestOneVerdictOnEveryPath: config validate, serve, config apply and
// PUT /config accept and refuse exactly the same documents; a refused one
// never reaches Raft.
func TestOneVerdictOnEveryPath(t *testing.T) {
	up, _ := nodetest.Demo(t)
	good := fmt.Sprintf("upstreams: [{name: demo, targets: [{url: %q}]}]\nroutes: [{name: r, upstream: demo}]\n", up)
	cluster := nodetest.StartCluster(t, 1, good)[0]
	single := nodetest.Start(t, 1, good)[0]
	route := func(extra string) string {
		return fmt.Sprintf("upstreams: [{name: demo, targets: [{url: %q}]%s}]\nroutes: [{name: r, upstream: demo, match: {paths: [\"/x/{id}\"]}%s}]\n", up, "", extra)
	}
	upstream := func(extra string) string {
		return fmt.Sprintf("upstreams: [{name: demo, targets: [{url: %q}], %s}]\nroutes: [{name: r, upstream: demo}]\n", up, extra)
	}
	tests := []struct {
		name, doc string
		ok        bool
	}{
		{"good", route(""), true},
		{"cache 206", route(", cache: {ttl: 1m, statuses: [200, 206]}"), false},
		{"cache 304", route(", cache: {ttl: 1m, statuses: [304]}"), false},
		{"missing upstream CA file", upstream(`tls: {ca: "/nonexistent/ca.pem"}`), false},
		{"missing client certificate", upstream(`tls: {cert: "/nonexistent/c.pem", key: "/nonexistent/k.pem"}`), false},
		{"undefined upstream", "upstreams: []\nroutes: [{name: r, upstream: nope}]\n", false},
		{"bad rewrite", route(", rewrite: \"/{nope}\""), false},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw := filepath.Join(dir, fmt.Sprintf("gw%d.yaml", i))
			if err := os.WriteFile(gw, []byte(tt.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			full := filepath.Join(dir, fmt.Sprintf("full%d.yaml", i))
			nodetest.WriteConfig(t, full, "v", t.TempDir(), tt.doc)
			verdicts := map[string]bool{}
			var out bytes.Buffer
			verdicts["config validate"] = run(context.Background(), []string{"config", "validate", full}, &out, &out) == 0
			n, err := node.New(node.Config{File: full})
			if err == nil {
				_ = n.Shutdown(context.Background())
			}
			verdicts["serve"] = err == nil
			before := cluster.Cluster().Current().Version
			verdicts["config apply"] = run(context.Background(), []string{"config", "apply", "--force", "-f", gw, "--admin", cluster.AdminAddr(), "--token-file", filepath.Join(dir, "none")}, &out, &out) == 0
			if !verdicts["config apply"] && cluster.Cluster().Current().Version != before {
				t.Errorf("config apply refused the document but the cluster's version moved %d → %d", before, cluster.Cluster().Current().Version)
			}
			r, err := httpPut(single.AdminURL+"/config?force=true", tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			verdicts["PUT /config"] = r == 200
			for path, ok := range verdicts {
				if ok != tt.ok {
					t.Errorf("%s: accepted = %v, want %v\n%s", path, ok, tt.ok, out.String())
				}
			}
		})
	}
}

func httpPut(url, body string) (int, error) {
	req, err := http.NewRequest("PUT", url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// TestConfigDiffExitCodes: like diff(1), 0 when the documents are the
// same, 1 when they differ, 2 on trouble; the difference is shown without
// the expanded defaults.
func TestConfigDiffExitCodes(t *testing.T) {
	up, _ := nodetest.Demo(t)
	doc := fmt.Sprintf("upstreams: [{name: demo, targets: [{url: %q}]}]\nroutes: [{name: r, upstream: demo, match: {paths: [\"/a\"]}}]\n", up)
	n := nodetest.Start(t, 1, doc)[0]
	empty := nodetest.Start(t, 1, fmt.Sprintf("upstreams: [{name: demo, targets: [{url: %q}]}]\n", up))[0]
	dir := t.TempDir()
	same, other := filepath.Join(dir, "same.yaml"), filepath.Join(dir, "other.yaml")
	os.WriteFile(same, []byte(doc), 0o600)
	os.WriteFile(other, []byte(fmt.Sprintf("upstreams: [{name: demo, targets: [{url: %q}]}]\nroutes:\n  - {name: r, upstream: demo, match: {paths: [\"/b\"]}}\n  - {name: extra, upstream: demo, match: {paths: [\"/c\"]}}\n", up)), 0o600)
	noToken := filepath.Join(dir, "none")
	for _, tt := range []struct {
		name, file, admin string
		code              int
		wants, unwanted   []string
	}{
		{"same", same, n.AdminAddr(), 0, []string{"matches the served config"}, nil},
		{"different", other, n.AdminAddr(), 1, []string{`"/a"`, `"/b"`, "extra"}, []string{"round_robin", "response_header", "max_idle_conns", "timeouts"}},
		{"no node", same, "127.0.0.1:1", 2, []string{"admin API"}, nil},
		{"bad file", filepath.Join(dir, "missing.yaml"), n.AdminAddr(), 2, nil, nil},
		// A node that serves no routes omits the key: routes are still
		// compared item by item, as the file writes them.
		{"node without routes", other, empty.AdminAddr(), 1, []string{"routes[r]", "routes[extra]"}, []string{"round_robin", "response_header", "max_idle_conns", "timeouts"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(context.Background(), []string{"config", "diff", "-f", tt.file, "--admin", tt.admin, "--token-file", noToken}, &out, &out)
			if code != tt.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tt.code, out.String())
			}
			for _, w := range tt.wants {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.unwanted {
				if strings.Contains(out.String(), w) {
					t.Errorf("output shows the expanded default %q:\n%s", w, out.String())
				}
			}
		})
	}
}
