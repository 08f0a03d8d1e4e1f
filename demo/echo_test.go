package demo_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/demo"
)

// echoed mirrors the /anything answer.
type echoed struct {
	Method       string              `json:"method"`
	URL          string              `json:"url"`
	Path         string              `json:"path"`
	Host         string              `json:"host"`
	Args         map[string][]string `json:"args"`
	Headers      map[string][]string `json:"headers"`
	Origin       string              `json:"origin"`
	RemoteAddr   string              `json:"remote_addr"`
	Proto        string              `json:"proto"`
	Body         string              `json:"body"`
	BodyEncoding string              `json:"body_encoding"`
	JSON         json.RawMessage     `json:"json"`
}

func decodeEcho(t *testing.T, resp *http.Response, body []byte) echoed {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	var e echoed
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("decoding echo %q: %v", body, err)
	}
	return e
}

func TestAnything(t *testing.T) {
	_, ts := start(t, demo.Options{})
	binary := []byte{0xff, 0xfe, 0x00, 0x80}
	tests := []struct {
		name     string
		req      request
		wantPath string
		wantArgs map[string][]string
		wantBody string
		wantEnc  string
		wantJSON string
	}{
		{
			name:     "get with repeated query",
			req:      request{path: "/anything?a=1&a=2&b=x%20y"},
			wantPath: "/anything",
			wantArgs: map[string][]string{"a": {"1", "2"}, "b": {"x y"}},
		},
		{
			name:     "post json below a sub-path",
			req:      request{method: http.MethodPost, path: "/anything/a/b", body: strings.NewReader(`{"k":[1,2]}`)},
			wantPath: "/anything/a/b",
			wantArgs: map[string][]string{},
			wantBody: `{"k":[1,2]}`,
			wantJSON: `{"k":[1,2]}`,
		},
		{
			name:     "put text that is not json",
			req:      request{method: http.MethodPut, path: "/anything/x", body: strings.NewReader("héllo <b>")},
			wantPath: "/anything/x",
			wantArgs: map[string][]string{},
			wantBody: "héllo <b>",
		},
		{
			name:     "unclean path echoed as sent",
			req:      request{path: "/anything//a/./b/%2F?q"},
			wantPath: "/anything//a/./b//",
			wantArgs: map[string][]string{"q": {""}},
		},
		{
			name:     "binary body is base64",
			req:      request{method: http.MethodPatch, path: "/anything", body: bytes.NewReader(binary)},
			wantPath: "/anything",
			wantArgs: map[string][]string{},
			wantBody: base64.StdEncoding.EncodeToString(binary),
			wantEnc:  "base64",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.header = http.Header{"X-Demo-Test": {"one", "two"}}
			resp, body := do(t, ts, tt.req)
			e := decodeEcho(t, resp, body)
			wantMethod := tt.req.method
			if wantMethod == "" {
				wantMethod = http.MethodGet
			}
			if e.Method != wantMethod || e.Path != tt.wantPath || e.Proto != "HTTP/1.1" {
				t.Errorf("method, path, proto = %q, %q, %q; want %q, %q, HTTP/1.1", e.Method, e.Path, e.Proto, wantMethod, tt.wantPath)
			}
			if want := ts.URL + tt.req.path; e.URL != want {
				t.Errorf("url = %q, want %q", e.URL, want)
			}
			if !reflect.DeepEqual(e.Args, tt.wantArgs) {
				t.Errorf("args = %v, want %v", e.Args, tt.wantArgs)
			}
			if got := e.Headers["X-Demo-Test"]; !reflect.DeepEqual(got, []string{"one", "two"}) {
				t.Errorf("headers[X-Demo-Test] = %q, want [one two]", got)
			}
			if e.Origin != "127.0.0.1" || !strings.HasPrefix(e.RemoteAddr, "127.0.0.1:") {
				t.Errorf("origin, remote_addr = %q, %q; want 127.0.0.1 and 127.0.0.1:port", e.Origin, e.RemoteAddr)
			}
			if e.Body != tt.wantBody || e.BodyEncoding != tt.wantEnc {
				t.Errorf("body, body_encoding = %q, %q; want %q, %q", e.Body, e.BodyEncoding, tt.wantBody, tt.wantEnc)
			}
			wantJSON := tt.wantJSON
			if wantJSON == "" {
				wantJSON = "null"
			}
			if got := compactJSON(t, e.JSON); got != wantJSON {
				t.Errorf("json = %s, want %s", got, wantJSON)
			}
		})
	}
}

func compactJSON(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("compacting %q: %v", raw, err)
	}
	return b.String()
}

// unsized hides a reader's length so the client sends it chunked.
type unsized struct{ io.Reader }

func TestAnything_BodyCap(t *testing.T) {
	_, ts := start(t, demo.Options{})
	const limit = 1 << 20
	tests := []struct {
		name       string
		body       io.Reader
		wantStatus int
	}{
		{"exactly 1 MiB", bytes.NewReader(bytes.Repeat([]byte("a"), limit)), http.StatusOK},
		{"declared too long", bytes.NewReader(make([]byte, limit+1)), http.StatusRequestEntityTooLarge},
		{"chunked too long", unsized{bytes.NewReader(make([]byte, limit+1))}, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, ts, request{method: http.MethodPost, path: "/anything", body: tt.body})
			if tt.wantStatus != http.StatusOK {
				wantProblem(t, resp, body, tt.wantStatus, "1 MiB")
				return
			}
			if e := decodeEcho(t, resp, body); len(e.Body) != limit {
				t.Errorf("echoed %d body bytes, want %d", len(e.Body), limit)
			}
		})
	}
}

func TestHeadersAndIP(t *testing.T) {
	_, ts := start(t, demo.Options{})
	resp, body := do(t, ts, request{path: "/headers", header: http.Header{"X-Demo-Test": {"v"}}})
	var h struct {
		Host    string              `json:"host"`
		Headers map[string][]string `json:"headers"`
	}
	if err := json.Unmarshal(body, &h); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/headers = %d %q (%v), want 200 JSON", resp.StatusCode, body, err)
	}
	if got := h.Headers["X-Demo-Test"]; len(got) != 1 || got[0] != "v" || h.Host != ts.Listener.Addr().String() {
		t.Errorf("/headers = %+v, want X-Demo-Test [v] and host %s", h, ts.Listener.Addr())
	}

	resp, body = get(t, ts, "/ip")
	var ip struct {
		Origin     string `json:"origin"`
		RemoteAddr string `json:"remote_addr"`
	}
	if err := json.Unmarshal(body, &ip); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/ip = %d %q (%v), want 200 JSON", resp.StatusCode, body, err)
	}
	if ip.Origin != "127.0.0.1" || !strings.HasPrefix(ip.RemoteAddr, "127.0.0.1:") {
		t.Errorf("/ip = %+v, want origin 127.0.0.1 and remote_addr 127.0.0.1:port", ip)
	}
}

func TestDelay(t *testing.T) {
	var asked []time.Duration
	pause := func(_ context.Context, d time.Duration) error {
		asked = append(asked, d) // handlers run one at a time in this test
		return nil
	}
	_, ts := start(t, demo.Options{Pause: pause})
	tests := []struct {
		name      string
		path      string
		wantPause []time.Duration
	}{
		{"zero waits not at all", "/delay/0", nil},
		{"waits the ms asked", "/delay/250?x=1", []time.Duration{250 * time.Millisecond}},
		{"the cap", "/delay/60000", []time.Duration{time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked = nil
			resp, body := do(t, ts, request{method: http.MethodPost, path: tt.path, body: strings.NewReader("hi")})
			e := decodeEcho(t, resp, body)
			if e.Body != "hi" || e.Method != http.MethodPost {
				t.Errorf("echo = %+v, want a POST with body hi", e)
			}
			if !reflect.DeepEqual(asked, tt.wantPause) {
				t.Errorf("paused %v, want %v", asked, tt.wantPause)
			}
		})
	}
}

func TestDelay_BadInput(t *testing.T) {
	_, ts := start(t, demo.Options{})
	for _, path := range []string{"/delay/60001", "/delay/soon", "/delay/-1"} {
		t.Run(path, func(t *testing.T) {
			resp, body := get(t, ts, path)
			wantProblem(t, resp, body, http.StatusBadRequest, "0 to 60000")
		})
	}
}

// TestDelay_ClientGoesAway uses the real timer: a client that gives up on
// a one-minute delay must free the handler long before the minute is up.
func TestDelay_ClientGoesAway(t *testing.T) {
	s, ts := start(t, demo.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/delay/60000", nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		resp, err := ts.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitFor(t, "the delay to start", func() bool { return s.ActiveForTest() == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client error = %v, want context.Canceled", err)
	}
	waitFor(t, "the delay handler to return", func() bool { return s.ActiveForTest() == 0 })
}

// TestDelay_RealTimer runs the default Pause to its end.
func TestDelay_RealTimer(t *testing.T) {
	_, ts := start(t, demo.Options{})
	resp, body := get(t, ts, "/delay/1")
	if e := decodeEcho(t, resp, body); e.Path != "/delay/1" {
		t.Errorf("path = %q, want /delay/1", e.Path)
	}
}
