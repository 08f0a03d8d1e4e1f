package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

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
		{"bad", []string{"config", "validate", bad}, 1, []string{bad + ":3:5:", bad + ":4:25:", "nothing was started"}},
		{"serve refuses bad", []string{"serve", "--config", bad}, 1, []string{bad + ":3:5:"}},
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

// TestDevTourAnswers runs `portico dev` and requests every URL it prints.
func TestDevTourAnswers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--data", t.TempDir()}, pw, io.Discard)
		pw.Close()
	}()
	var urls []string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "curl ") {
			f := strings.Fields(line)
			u := f[len(f)-1]
			if strings.Contains(line, "Upgrade: websocket") {
				u = "ws" + strings.TrimPrefix(u, "http")
			}
			urls = append(urls, u)
		}
		if strings.HasPrefix(line, "Ctrl-C") {
			break
		}
	}
	go io.Copy(io.Discard, pr) // the access log follows
	if len(urls) < 10 {
		t.Fatalf("dev printed %d URLs, want the whole tour", len(urls))
	}
	for _, u := range urls {
		t.Run(u, func(t *testing.T) {
			if strings.HasPrefix(u, "ws://") {
				c, _, err := websocket.Dial(ctx, u, nil)
				if err != nil {
					t.Fatalf("websocket: %v", err)
				}
				c.Close(websocket.StatusNormalClosure, "")
				return
			}
			res, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			want := 200
			if strings.Contains(u, "/status/418") {
				want = 418
			}
			if res.StatusCode != want {
				t.Errorf("GET %s = %d, want %d", u, res.StatusCode, want)
			}
		})
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("dev exit code = %d, want 0", code)
	}
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
	_ = demo.New // the demo upstream is exercised by TestDevTourAnswers

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
	close(release)
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
