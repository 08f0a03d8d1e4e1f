package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/portico-gw/portico/node/config"
)

// rawDo writes req to the gateway on a fresh connection and returns the
// response (its body read) .
func rawDo(t *testing.T, g *gateway, req string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(g.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		return res, ""
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

// lenientH2C is an upstream that switches to h2c whenever asked (as some
// servers do without checking that Connection nominates HTTP2-Settings).
func lenientH2C(sawUpgrade, sawSettings *string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		*sawUpgrade, *sawSettings = r.Header.Get("Upgrade"), r.Header.Get("HTTP2-Settings")
		if !strings.EqualFold(r.Header.Get("Upgrade"), "h2c") {
			io.WriteString(w, "proto "+r.Proto)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n" + http2.ClientPreface)
		brw.Flush()
	}
}

// TestH2CUpgradeRefused: an upstream that accepts h2c upgrades does not
// get to hand the client an HTTP/2 connection: the gateway strips the
// upgrade, so the request is served as plain HTTP/1.1.
func TestH2CUpgradeRefused(t *testing.T) {
	var sawUpgrade, sawSettings string
	up := httptest.NewServer(lenientH2C(&sawUpgrade, &sawSettings))
	t.Cleanup(up.Close)
	u := newTestUpstream(t, upstreamConfig(up.URL), Options{})
	g := newGateway(t, route("pool"), u, HandlerOptions{})
	res, body := rawDo(t, g, "GET / HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\n"+
		"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
	if res.StatusCode != 200 || body != "proto HTTP/1.1" {
		t.Fatalf("h2c upgrade through the gateway = %d %q, want 200 %q (not switched)", res.StatusCode, body, "proto HTTP/1.1")
	}
	if sawUpgrade != "" || sawSettings != "" {
		t.Errorf("upstream saw Upgrade %q, HTTP2-Settings %q; want both stripped", sawUpgrade, sawSettings)
	}
	// An unnominated HTTP2-Settings is stripped too.
	res, _ = rawDo(t, g, "GET / HTTP/1.1\r\nHost: gw\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
	if res.StatusCode != 200 || sawSettings != "" {
		t.Errorf("HTTP2-Settings without Upgrade: %d, upstream saw %q; want it stripped", res.StatusCode, sawSettings)
	}
}

// TestUpgradesPerRoute: a route passes only the upgrades it lists.
func TestUpgradesPerRoute(t *testing.T) {
	var saw string
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) { saw = r.Header.Get("Upgrade") })
	u := newTestUpstream(t, upstreamConfig(b.url()), Options{})
	for _, tt := range []struct {
		upgrades []string
		want     string
	}{
		{nil, "websocket"},
		{[]string{"none"}, ""},
		{[]string{"foo"}, ""},
	} {
		rt := route("pool")
		rt.Upgrades = tt.upgrades
		g := newGateway(t, rt, u, HandlerOptions{})
		saw = "unset"
		g.do(t, "GET", "/", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}})
		if saw != tt.want {
			t.Errorf("upgrades %q: upstream saw Upgrade %q, want %q", tt.upgrades, saw, tt.want)
		}
	}
}

// TestGatewayHeadersSurviveConnection: a client's Connection header cannot
// remove what the gateway sets.
func TestGatewayHeadersSurviveConnection(t *testing.T) {
	var got http.Header
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() })
	u := newTestUpstream(t, upstreamConfig(b.url()), Options{})
	g := newGateway(t, route("pool"), u, HandlerOptions{})
	g.do(t, "GET", "/", http.Header{
		"Connection":   {"X-Forwarded-For, X-Request-Id, Forwarded, X-Forwarded-Proto, X-Forwarded-Host"},
		"X-Request-Id": {"req-1"}, // as node's pipeline sets it on the request
	})
	for _, h := range []string{"X-Request-Id", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"} {
		if got.Get(h) == "" {
			t.Errorf("upstream got no %s (headers %v)", h, got)
		}
	}
	if got.Get("X-Request-Id") != "req-1" {
		t.Errorf("X-Request-Id = %q, want req-1", got.Get("X-Request-Id"))
	}
}

// TestFragmentNotForwarded: a #fragment in the request target is dropped,
// not sent as %23 (nor raw in the query).
func TestFragmentNotForwarded(t *testing.T) {
	var uri string
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) { uri = r.RequestURI })
	u := newTestUpstream(t, upstreamConfig(b.url()), Options{})
	g := newGateway(t, route("pool"), u, HandlerOptions{})
	for _, tt := range []struct{ target, want string }{
		{"/a#frag", "/a"},
		{"/a?x=1#frag", "/a?x=1"},
		{"/a%23b#frag", "/a%23b"},
		{"/a#frag?x=1", "/a"},
		{"/a%23b?x=%23#f", "/a%23b?x=%23"},
	} {
		uri = ""
		res, _ := rawDo(t, g, "GET "+tt.target+" HTTP/1.1\r\nHost: gw\r\n\r\n")
		if res.StatusCode != 200 || uri != tt.want {
			t.Errorf("GET %s: %d, upstream got %q, want %q", tt.target, res.StatusCode, uri, tt.want)
		}
	}
}

// logRecords collects log records.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

func (l *logRecords) warnings() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if r.Level == slog.LevelWarn {
			s := r.Message
			r.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
			out = append(out, s)
		}
	}
	return out
}

// TestConnectFailureWarns: a target's connect failure is logged at warn
// with the target and the reason, once per target per interval.
func TestConnectFailureWarns(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	logs := &logRecords{}
	clock := newFakeClock()
	u := newTestUpstream(t, upstreamConfig(dead), Options{Logger: slog.New(logs), Now: clock.Now})
	g := newGateway(t, route("pool"), u, HandlerOptions{})
	for range 3 {
		g.do(t, "GET", "/", nil)
	}
	w := logs.warnings()
	if len(w) != 1 || !strings.Contains(w[0], "target="+dead) || !strings.Contains(w[0], "refused") {
		t.Fatalf("warnings after 3 refused connects = %q, want one naming %s and the reason", w, dead)
	}
	clock.Advance(failureLogEvery)
	g.do(t, "GET", "/", nil)
	if w = logs.warnings(); len(w) != 2 || !strings.Contains(w[1], "not_logged_since=2") {
		t.Errorf("warnings after the interval = %q, want a second one counting 2 not logged", w)
	}
}

// TestClientBodyFaultSparesTarget: a malformed request body fails the try
// with ErrRequestBody, and neither passive health nor the breaker hears
// of it.
func TestClientBodyFaultSparesTarget(t *testing.T) {
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) })
	cfg := upstreamConfig(b.url(), b.url()+"/other")
	cfg.Health.Passive = config.PassiveHealth{Failures: 1}
	cfg.CircuitBreaker = config.CircuitBreaker{ErrorRatio: 0.5, MinRequests: 1}
	u := newTestUpstream(t, cfg, Options{})
	g := newGateway(t, route("pool"), u, HandlerOptions{})
	for range 4 {
		rawDo(t, g, "POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n\r\n")
		if err := g.errs.last(); !errors.Is(err, ErrRequestBody) {
			t.Fatalf("error = %v, want ErrRequestBody", err)
		}
	}
	for _, st := range u.Targets() {
		if !st.EjectedUntil.IsZero() || st.Breaker != BreakerClosed {
			t.Errorf("target %s after malformed bodies: ejected until %v, breaker %s; want in, closed", st.URL, st.EjectedUntil, st.Breaker)
		}
	}
}
