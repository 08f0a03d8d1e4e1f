package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/quic-go/quic-go/http3"

	"github.com/portico-gw/portico/demo"
)

// TestMain lets a test run this binary's main as a child process
// (PORTICO_RUN_MAIN=1), so signals and exit codes are tested for real.
func TestMain(m *testing.M) {
	if os.Getenv("PORTICO_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("upstreams: [{name: a, targets: [{url: \"http://127.0.0.1:9\"}]}]\nroutes: [{name: r, upstream: a}]\n"), 0o600)
	os.WriteFile(bad, []byte("routes:\n  - name: r\n    upstream: missing\n    timeouts: {connect: soon}\n"), 0o600)

	tests := []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"good", []string{"config", "validate", good}, 0, []string{good + ": ok"}},
		{"bad", []string{"config", "validate", bad}, 1, []string{bad + ":3:5:", bad + ":4:25:", "config invalid (2 problem(s))"}},
		{"serve refuses bad", []string{"serve", "--config", bad}, 1, []string{bad + ":3:5:", "nothing was started"}},
		{"no args", []string{"config", "validate"}, 2, nil},
		{"unknown", []string{"frobnicate"}, 2, []string{"unknown command"}},
		{"schema", []string{"config", "schema"}, 0, []string{`"$schema"`}},
		{"version", []string{"version"}, 0, []string{"portico "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(context.Background(), tt.args, &out, &out)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d\n%s", code, tt.code, out.String())
			}
			for _, w := range tt.wants {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestDevTourAnswers runs `portico dev` (a 3-node cluster) and requests
// every URL it prints, then runs the CLI commands it suggests.
func TestDevTourAnswers(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	t.Setenv("PORTICO_ADMIN_TOKEN_FILE", tokenFile)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	type try struct {
		url, token, ca, proto, apiKey string
		crossSite                     bool     // a browser's cross-site request: 403
		preflight                     []string // a CORS preflight's headers (-X OPTIONS): 204
	}
	var tries []try
	var loops []loop
	var adminAddr string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := loopRe.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			loops = append(loops, loop{n, m[2]})
		}
		if strings.HasPrefix(line, "curl ") {
			f := strings.Fields(line)
			u := f[len(f)-1]
			if strings.Contains(line, "Upgrade: websocket") {
				u = "ws" + strings.TrimPrefix(u, "http")
			}
			tr := try{url: u}
			if m := apiKeyRe.FindStringSubmatch(line); m != nil {
				tr.apiKey = m[1]
			}
			tr.crossSite = strings.Contains(line, "Sec-Fetch-Site: cross-site")
			if strings.Contains(line, "-X OPTIONS") {
				for _, m := range headerRe.FindAllStringSubmatch(line, -1) {
					tr.preflight = append(tr.preflight, m[1], m[2])
				}
			}
			for i, a := range f {
				switch {
				case a == "--cacert" && i+1 < len(f):
					tr.ca = f[i+1]
				case a == "--http3-only":
					tr.proto = "h3"
				case a == "--http2":
					tr.proto = "h2"
				}
			}
			if strings.Contains(line, "Authorization: Bearer $(cat "+tokenFile+")") {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					t.Fatal(err)
				}
				tr.token = strings.TrimSpace(string(b))
				if a, ok := strings.CutSuffix(u, "/config"); ok {
					adminAddr = strings.TrimPrefix(a, "http://")
				}
			}
			tries = append(tries, tr)
		}
		if strings.HasPrefix(line, "Ctrl-C") {
			break
		}
	}
	go io.Copy(io.Discard, pr) // the access logs follow
	if len(tries) < 12 || adminAddr == "" {
		t.Fatalf("dev printed %d URLs (admin %q), want the whole tour", len(tries), adminAddr)
	}
	cacheTries := 0
	if len(loops) == 0 {
		t.Error("the tour shows no rate limit loop")
	}
	for _, l := range loops {
		t.Run("loop "+l.url, func(t *testing.T) {
			// The loop's requests arrive well above 5 a second: some 429s,
			// each with its headers.
			limited := 0
			for range l.n {
				res, err := http.Get(l.url)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				h := res.Header
				if h.Get("RateLimit") == "" || h.Get("RateLimit-Policy") == "" {
					t.Errorf("%d answer without RateLimit headers", res.StatusCode)
				}
				if res.StatusCode == 429 {
					limited++
					if h.Get("Retry-After") == "" || h.Get("Content-Type") != "application/problem+json" {
						t.Errorf("429 without Retry-After or problem+json: %v", h)
					}
				}
			}
			if limited == 0 {
				t.Errorf("%d requests to %s, none answered 429", l.n, l.url)
			}
		})
	}
	for _, tr := range tries {
		t.Run(tr.url, func(t *testing.T) {
			if strings.HasPrefix(tr.url, "ws://") {
				c, _, err := websocket.Dial(ctx, tr.url, nil)
				if err != nil {
					t.Fatalf("websocket: %v", err)
				}
				c.Close(websocket.StatusNormalClosure, "")
				return
			}
			method := "GET"
			if tr.preflight != nil {
				method = "OPTIONS"
			}
			req, _ := http.NewRequest(method, tr.url, nil)
			for i := 0; i+1 < len(tr.preflight); i += 2 {
				req.Header.Set(tr.preflight[i], tr.preflight[i+1])
			}
			if tr.token != "" {
				req.Header.Set("Authorization", "Bearer "+tr.token)
			}
			if tr.apiKey != "" {
				req.Header.Set("X-API-Key", tr.apiKey)
			}
			if tr.crossSite {
				req.Header.Set("Sec-Fetch-Site", "cross-site")
			}
			client := http.DefaultClient
			if tr.ca != "" {
				client = tlsClient(t, tr.ca, tr.proto)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if want := map[string]int{"": 1, "h2": 2, "h3": 3}[tr.proto]; tr.ca != "" && res.ProtoMajor != want {
				t.Errorf("GET %s answered over HTTP/%d, want HTTP/%d", tr.url, res.ProtoMajor, want)
			}
			if tr.ca != "" && tr.proto != "h3" && !strings.HasPrefix(res.Header.Get("Alt-Svc"), `h3=":`) {
				t.Errorf("GET %s: Alt-Svc = %q, want HTTP/3 advertised", tr.url, res.Header.Get("Alt-Svc"))
			}
			want := 200
			if strings.Contains(tr.url, "/status/418") {
				want = 418
			}
			if tr.crossSite {
				want = 403
			}
			if tr.preflight != nil {
				// Answered by the gateway, allowed: 204 with the origin.
				want = 204
				if o := req.Header.Get("Origin"); res.Header.Get("Access-Control-Allow-Origin") != o || o == "" {
					t.Errorf("preflight %s: Access-Control-Allow-Origin %q, want %q", tr.url, res.Header.Get("Access-Control-Allow-Origin"), o)
				}
			}
			if strings.Contains(tr.url, "/limited/") {
				// Shown after the loop that spends the limit: 429 or,
				// a moment later, 200; headers either way.
				if res.StatusCode == 429 {
					want = 429
				}
				if res.Header.Get("RateLimit") == "" || res.Header.Get("RateLimit-Policy") == "" {
					t.Errorf("GET %s: no RateLimit headers", tr.url)
				}
			}
			if res.StatusCode != want {
				t.Errorf("GET %s = %d, want %d", tr.url, res.StatusCode, want)
			}
			if strings.HasSuffix(tr.url, "/cache/60") {
				cacheTries++
				// The tour's second /cache/60 is on another node: a hit
				// from the first one's fill.
				if cs := res.Header.Get("Cache-Status"); cacheTries == 2 && !strings.Contains(cs, "hit") {
					t.Errorf("second GET %s: Cache-Status %q, want a hit", tr.url, cs)
				}
			}
		})
	}
	if cacheTries != 2 {
		t.Errorf("the tour showed /cache/60 %d times, want 2 (on two nodes)", cacheTries)
	}
	t.Run("purge", func(t *testing.T) {
		var out bytes.Buffer
		if code := run(ctx, []string{"purge", "--prefix", "http://127.0.0.1/cache/", "--admin", adminAddr}, &out, &out); code != 0 {
			t.Fatalf("purge: exit %d\n%s", code, out.String())
		}
		// The owner's entry and the near copies of the nodes that asked.
		if !regexp.MustCompile(`purged [23] entries`).MatchString(out.String()) || strings.Count(out.String(), "dev-") != 3 {
			t.Errorf("purge output %q, want the owner's entry and near copies removed and all 3 nodes answering", out.String())
		}
	})
	t.Run("usage", func(t *testing.T) {
		// The tour's one request with the demo key; async counts reach the
		// owner within a sync interval. A first quota decision that timed
		// out at the asking node (10ms, a busy test machine) may count
		// twice: the limiter errs on the strict side.
		var out bytes.Buffer
		used := regexp.MustCompile(`starter/day: [12] of 1000 used`)
		deadline := time.Now().Add(10 * time.Second)
		for {
			out.Reset()
			if run(ctx, []string{"usage", "demo", "--admin", adminAddr}, &out, &out) == 0 && used.MatchString(out.String()) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("usage demo, after the tour's one request with the key:\n%s", out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		out.Reset()
		if code := run(ctx, []string{"usage", "demo", "--reset", "--admin", adminAddr}, &out, &out); code != 0 ||
			!strings.Contains(out.String(), "starter/day: 0 of 1000 used") {
			t.Errorf("usage --reset: exit %d:\n%s", code, out.String())
		}
		out.Reset()
		if code := run(ctx, []string{"usage", "nobody", "--admin", adminAddr}, &out, &out); code != 1 || !strings.Contains(out.String(), "404") {
			t.Errorf("usage of an unknown consumer: exit %d, want 1 with a 404:\n%s", code, out.String())
		}
	})
	t.Run("members and cluster status", func(t *testing.T) {
		var out bytes.Buffer
		if code := run(ctx, []string{"members", "--admin", adminAddr}, &out, &out); code != 0 {
			t.Fatalf("members: exit %d\n%s", code, out.String())
		}
		if got := strings.Count(out.String(), " alive "); got != 3 {
			t.Errorf("members lists %d alive nodes, want 3:\n%s", got, out.String())
		}
		out.Reset()
		if code := run(ctx, []string{"cluster", "status", "--admin", adminAddr}, &out, &out); code != 0 {
			t.Fatalf("cluster status: exit %d\n%s", code, out.String())
		}
		if !strings.Contains(out.String(), "leader: dev-") || strings.Count(out.String(), "  1\n") != 3 {
			t.Errorf("cluster status lacks a leader or config version 1 on each node:\n%s", out.String())
		}
	})
	t.Run("config diff and apply", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "new.yaml")
		// The node section is skipped: its variables need not be set here.
		os.WriteFile(file, []byte("node:\n  cluster: {gossip_key: \"${UNSET_HERE}\"}\nupstreams: [{name: u, targets: [{url: \"http://127.0.0.1:9\"}]}]\nroutes: [{name: only, upstream: u}]\n"), 0o600)
		var out bytes.Buffer
		if code := run(ctx, []string{"config", "diff", "-f", file, "--admin", adminAddr}, &out, &out); code != 1 || !strings.Contains(out.String(), "+ ") {
			t.Fatalf("config diff: exit %d, want 1 and a diff:\n%s", code, out.String())
		}
		out.Reset()
		if code := run(ctx, []string{"config", "apply", "-f", file, "--if-version", "1", "--admin", adminAddr}, &out, &out); code != 0 || !strings.Contains(out.String(), "config version 2") {
			t.Fatalf("config apply: exit %d:\n%s", code, out.String())
		}
		out.Reset()
		if code := run(ctx, []string{"config", "diff", "-f", file, "--admin", adminAddr}, &out, &out); code != 0 || !strings.Contains(out.String(), "matches the served config (version 2)") {
			t.Errorf("config diff after apply: exit %d:\n%s", code, out.String())
		}
		out.Reset()
		if code := run(ctx, []string{"config", "apply", "-f", file, "--if-version", "1", "--admin", adminAddr}, &out, &out); code != 1 || !strings.Contains(out.String(), "409") {
			t.Errorf("stale config apply: exit %d, want 1 with a 409:\n%s", code, out.String())
		}
	})
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("dev exit code = %d, want 0", code)
	}
}

// loop is a tour line "for i in $(seq N); do curl ... URL; done".
type loop struct {
	n   int
	url string
}

var (
	loopRe   = regexp.MustCompile(`^for i in \$\(seq (\d+)\); do curl .* (http://\S+); done`)
	apiKeyRe = regexp.MustCompile(`-H 'X-API-Key: ([^']+)'`)
	headerRe = regexp.MustCompile(`-H '([^:']+): ([^']*)'`)
)

// TestAPIKeyCommand: apikey prints a fresh key and its config hash.
func TestAPIKeyCommand(t *testing.T) {
	var a, b bytes.Buffer
	if code := run(context.Background(), []string{"apikey"}, &a, &a); code != 0 {
		t.Fatalf("apikey: exit %d\n%s", code, a.String())
	}
	run(context.Background(), []string{"apikey"}, &b, &b)
	re := regexp.MustCompile(`(?m)^key:  ([A-Za-z0-9_-]{43})\nhash: (sha256:[0-9a-f]{64})$`)
	m := re.FindStringSubmatch(a.String())
	if m == nil {
		t.Fatalf("apikey output lacks key and hash lines:\n%s", a.String())
	}
	sum := sha256.Sum256([]byte(m[1]))
	if want := "sha256:" + hex.EncodeToString(sum[:]); m[2] != want {
		t.Errorf("hash %s, want %s (SHA-256 of the key)", m[2], want)
	}
	if mb := re.FindStringSubmatch(b.String()); mb == nil || mb[1] == m[1] {
		t.Errorf("two runs printed the same key or no key")
	}
}

// tlsClient trusts the CA in caFile and speaks proto: "" (HTTP/1.1),
// "h2" or "h3", as the tour's curl flags ask.
func tlsClient(t *testing.T, caFile, proto string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("the printed CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	tc := &tls.Config{RootCAs: pool}
	if proto == "h3" {
		tr := &http3.Transport{TLSClientConfig: tc}
		t.Cleanup(func() { tr.Close() })
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	var p http.Protocols
	if proto == "h2" {
		p.SetHTTP2(true)
	} else {
		p.SetHTTP1(true)
	}
	tr := &http.Transport{TLSClientConfig: tc, Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestSIGTERMDrains runs `portico serve` as a real process, sends SIGTERM
// while requests are in flight, and checks they all complete and the
// process exits 0.
func TestSIGTERMDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	var mu sync.Mutex
	arrived := 0
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived++
		mu.Unlock()
		<-release
		fmt.Fprint(w, "done")
	}))
	defer up.Close()
	var releaseOnce sync.Once
	releaseUp := func() { releaseOnce.Do(func() { close(release) }) }
	defer releaseUp() // runs before up.Close: a failed test frees the handlers
	_ = demo.New      // the demo upstream is exercised by TestDevTourAnswers

	dir := t.TempDir()
	file := filepath.Join(dir, "p.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf(`node:
  listen: 127.0.0.1:0
  data_dir: %q
  admin: {listen: "off"}
  access_log: {output: "off"}
upstreams: [{name: u, targets: [{url: %q}]}]
routes: [{name: r, upstream: u}]
`, dir, up.URL)), 0o600)
	cmd := exec.Command(os.Args[0], "serve", "--config", file)
	cmd.Env = append(os.Environ(), "PORTICO_RUN_MAIN=1")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr := waitForEdge(t, stderr)

	const inflight = 5
	results := make(chan string, inflight)
	for range inflight {
		go func() {
			res, err := http.Get("http://" + addr + "/x")
			if err != nil {
				results <- err.Error()
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			results <- fmt.Sprintf("%d %s", res.StatusCode, b)
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := arrived
		mu.Unlock()
		if n == inflight {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests reached the upstream", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The node stops accepting before the upstream answers.
	waitFor(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	releaseUp()
	for range inflight {
		if r := <-results; r != "200 done" {
			t.Errorf("in-flight request got %q, want 200 done", r)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("portico serve after SIGTERM: %v, want exit 0", err)
	}
}

var edgeRe = regexp.MustCompile(`edge=(127\.0\.0\.1:\d+)`)

// waitForEdge reads the child's log until it names its edge address.
func waitForEdge(t *testing.T, r io.Reader) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if m := edgeRe.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, r)
	}()
	select {
	case a := <-found:
		return a
	case <-time.After(30 * time.Second):
		t.Fatal("portico serve did not report its edge address")
		return ""
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
