package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-gw/portico/node/config"
)

func TestWebSocketEcho(t *testing.T) {
	tests := []struct {
		name     string
		protocol string
		stack    stack
	}{
		{"http1 upstream", "http1", plainH1},
		{"h2c upstream upgrades over HTTP/1.1", "h2c", plainH2C},
		{"h2 upstream upgrades over HTTP/1.1 and TLS", "h2", tlsH2},
		{"h3 upstream upgrades over HTTP/1.1 and TLS on TCP", "h3", quicH3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var upgradedOver atomic.Value // the protocol and TLS of the upgrade request
			srv := startServer(t, tt.stack, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				upgradedOver.Store(fmt.Sprintf("%s tls=%v", r.Proto, r.TLS != nil))
				c, err := websocket.Accept(w, r, nil)
				if err != nil {
					return
				}
				defer c.CloseNow()
				for {
					typ, msg, err := c.Read(r.Context())
					if err != nil {
						return
					}
					if err := c.Write(r.Context(), typ, append([]byte("echo: "), msg...)); err != nil {
						return
					}
				}
			}))
			cfg := upstreamConfig(srv.url)
			cfg.Protocol = tt.protocol
			up := newTestUpstream(t, cfg, Options{TLSClientConfig: srv.tls})
			g := newGateway(t, route("pool"), up, HandlerOptions{})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(g.srv.URL, "http")+"/ws",
				&websocket.DialOptions{HTTPClient: g.client})
			if err != nil {
				t.Fatalf("dial through the proxy: %v (last error %v)", err, g.errs.last())
			}
			if got, want := upgradedOver.Load(), fmt.Sprintf("HTTP/1.1 tls=%v", srv.tls != nil); got != want {
				t.Errorf("upgrade reached the target over %v, want %s", got, want)
			}
			for _, msg := range []string{"hello", "world"} {
				if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
					t.Fatal(err)
				}
				_, got, err := c.Read(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != "echo: "+msg {
					t.Errorf("got %q, want %q", got, "echo: "+msg)
				}
			}
			if n := up.Targets()[0].InFlight; n != 1 {
				t.Errorf("in-flight during the WebSocket = %d, want 1", n)
			}
			c.Close(websocket.StatusNormalClosure, "")
			waitFor(t, "in-flight to drop after close", func() bool { return up.Targets()[0].InFlight == 0 })
		})
	}
}

// TestRequestBodyStreams sends a body of unknown length (chunked) through
// each protocol: the target gets its start before the client sends the
// rest, and all of it intact.
func TestRequestBodyStreams(t *testing.T) {
	tests := []struct {
		name, protocol string
		stack          stack
		major          int
	}{
		{"http1", "http1", plainH1, 1},
		{"h2", "h2", tlsH2, 2},
		{"h2c", "h2c", plainH2C, 2},
		{"h3", "h3", quicH3, 3},
	}
	const size, part = 1 << 20, 64 << 10
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			firstPart := make(chan struct{}) // the target has the first part
			var once sync.Once
			srv := startServer(t, tt.stack, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h := sha256.New()
				buf := make([]byte, part)
				if _, err := io.ReadFull(r.Body, buf); err != nil {
					t.Errorf("target reading: %v", err)
					return
				}
				once.Do(func() { close(firstPart) })
				h.Write(buf)
				n, err := io.Copy(h, r.Body)
				if err != nil {
					t.Errorf("target reading: %v", err)
				}
				w.Header().Set("X-Length", strconv.FormatInt(n+part, 10))
				w.Header().Set("X-Content-Length", strconv.FormatInt(r.ContentLength, 10))
				w.Header().Set("X-Sha", hex.EncodeToString(h.Sum(nil)))
				w.Header().Set("X-Proto-Major", strconv.Itoa(r.ProtoMajor))
			}))
			cfg := upstreamConfig(srv.url)
			cfg.Protocol = tt.protocol
			up := newTestUpstream(t, cfg, Options{TLSClientConfig: srv.tls})
			g := newGateway(t, route("pool"), up, HandlerOptions{})

			pr, pw := io.Pipe()
			want := sha256.New()
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				src := io.TeeReader(io.LimitReader(&pattern{}, size), want)
				io.CopyN(pw, src, part)
				select { // the rest only once the target has the start
				case <-firstPart:
				case <-t.Context().Done():
					pw.CloseWithError(t.Context().Err())
					return
				}
				io.Copy(pw, src)
				pw.Close()
			}()
			req, _ := http.NewRequest("POST", g.srv.URL+"/upload", pr)
			resp, err := g.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			<-sent
			for h, v := range map[string]string{
				"X-Length": strconv.Itoa(size), "X-Content-Length": "-1",
				"X-Sha": hex.EncodeToString(want.Sum(nil)), "X-Proto-Major": strconv.Itoa(tt.major),
			} {
				if got := resp.Header.Get(h); got != v {
					t.Errorf("%s = %q, want %q (status %d, last error %v)", h, got, v, resp.StatusCode, g.errs.last())
				}
			}
		})
	}
}

func TestStreaming_FirstChunkBeforeUpstreamFinishes(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		first, rest string
	}{
		{"server-sent events", "text/event-stream", "data: one\n\n", "data: two\n\n"},
		{"chunked of unknown length", "application/octet-stream", "chunk one\n", "chunk two\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				io.WriteString(w, tt.first)
				http.NewResponseController(w).Flush()
				select { // finish only after the client saw the first part
				case <-release:
				case <-r.Context().Done():
					return
				}
				io.WriteString(w, tt.rest)
			})
			up := newTestUpstream(t, upstreamConfig(b.url()), Options{})
			g := newGateway(t, route("pool"), up, HandlerOptions{})
			resp, err := g.client.Get(g.srv.URL + "/events")
			if err != nil {
				close(release)
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(resp.Body).ReadString('\n')
				got <- line
			}()
			select {
			case line := <-got:
				if want := strings.SplitAfter(tt.first, "\n")[0]; line != want {
					t.Errorf("first line = %q, want %q", line, want)
				}
			case <-time.After(5 * time.Second):
				t.Error("the first chunk did not arrive while the upstream was still streaming")
			}
			close(release)
		})
	}
}

// pattern is an endless deterministic byte stream.
type pattern struct{ i byte }

func (p *pattern) Read(b []byte) (int, error) {
	for k := range b {
		b[k] = p.i
		p.i = p.i*31 + 7
	}
	return len(b), nil
}

func TestLargeBodiesStreamBothWays(t *testing.T) {
	const size = 16 << 20
	firstUp := make(chan struct{})   // the target got the first request bytes
	firstDown := make(chan struct{}) // the client got the first response bytes
	var upOnce, downOnce sync.Once
	gotUp := func() { upOnce.Do(func() { close(firstUp) }) }
	gotDown := func() { downOnce.Do(func() { close(firstDown) }) }
	defer gotUp()
	defer gotDown()
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		buf := make([]byte, 1<<20)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			t.Errorf("target reading: %v", err)
			return
		}
		gotUp() // the client has sent only 1MiB so far
		h.Write(buf)
		n, err := io.Copy(h, r.Body)
		if err != nil || n+int64(len(buf)) != size {
			t.Errorf("target read %d bytes, err %v; want %d", n+int64(len(buf)), err, size)
		}
		w.Header().Set("X-Request-Sha", hex.EncodeToString(h.Sum(nil)))
		io.Copy(w, io.LimitReader(&pattern{}, 1<<20))
		http.NewResponseController(w).Flush()
		<-firstDown // the rest only once the client has the start
		io.Copy(w, io.LimitReader(&pattern{i: patternAt(1 << 20)}, size-(1<<20)))
	})
	up := newTestUpstream(t, upstreamConfig(b.url()), Options{})
	g := newGateway(t, route("pool"), up, HandlerOptions{})

	pr, pw := io.Pipe()
	want := sha256.New()
	go func() {
		src := io.TeeReader(io.LimitReader(&pattern{}, size), want)
		io.CopyN(pw, src, 1<<20)
		<-firstUp // the rest only once the target has the start
		io.Copy(pw, src)
		pw.Close()
	}()
	req, _ := http.NewRequest("PUT", g.srv.URL+"/upload", pr)
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("X-Request-Sha"); got != hex.EncodeToString(want.Sum(nil)) {
		t.Error("the target got a different request body")
	}
	got := sha256.New()
	if _, err := io.CopyN(got, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	gotDown()
	n, err := io.Copy(got, resp.Body)
	if err != nil || n != size-(1<<20) {
		t.Fatalf("read %d more response bytes, err %v", n, err)
	}
	wantDown := sha256.New()
	io.Copy(wantDown, io.LimitReader(&pattern{}, size))
	if !bytes.Equal(got.Sum(nil), wantDown.Sum(nil)) {
		t.Error("the client got a different response body")
	}
}

// patternAt is the pattern's state after n bytes.
func patternAt(n int) byte {
	p := &pattern{}
	io.CopyN(io.Discard, p, int64(n))
	return p.i
}

func TestNewUpstream_Errors(t *testing.T) {
	ok := "http://127.0.0.1:1"
	tests := []struct {
		name string
		cfg  config.Upstream
	}{
		{"no targets", config.Upstream{Name: "u"}},
		{"bad url", config.Upstream{Name: "u", Targets: []config.Target{{URL: "ftp://x"}}}},
		{"negative weight", config.Upstream{Name: "u", Targets: []config.Target{{URL: ok, Weight: weight(-1)}}}},
		{"unknown balance", config.Upstream{Name: "u", Balance: "fastest", Targets: []config.Target{{URL: ok}}}},
		{"hash without key", config.Upstream{Name: "u", Balance: "hash", Targets: []config.Target{{URL: ok}}}},
		{"unknown retry condition", config.Upstream{Name: "u", Targets: []config.Target{{URL: ok}},
			Retries: config.Retries{On: []string{"4xx"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewUpstream(tt.cfg, Options{}); err == nil {
				t.Error("NewUpstream succeeded, want an error")
			}
		})
	}
	up := testUpstream(t, 1, nil)
	if _, err := NewHandler(config.Route{Name: "r", Upstream: "other"}, up, HandlerOptions{}); err == nil {
		t.Error("NewHandler with a different upstream's name succeeded, want an error")
	}
}
