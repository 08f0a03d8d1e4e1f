package exchange_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/node/exchange"
	"github.com/portico-gw/portico/problem"
)

// TestExchange: one exchange per request through a real server: Of finds
// what With attached, the client address is resolved once, Fail answers
// the problem with the request id and records it, and the recorder and
// body count see what went through.
func TestExchange(t *testing.T) {
	resolved := 0
	var seen *exchange.Exchange
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := &exchange.Exchange{}
		ex.Init(w, "req-1", time.Unix(1, 0), func(*http.Request) netip.Addr {
			resolved++
			return netip.MustParseAddr("192.0.2.7")
		})
		if exchange.Of(r) != nil {
			t.Error("Of found an exchange on a request that carries none")
		}
		r = exchange.With(r, ex)
		if exchange.Of(r) != ex {
			t.Error("Of did not return the exchange With attached")
		}
		for range 3 {
			if a := ex.ClientAddr(r); a.String() != "192.0.2.7" {
				t.Errorf("ClientAddr = %s", a)
			}
		}
		r.Body = ex.Body.Wrap(r.Body)
		_, _ = io.Copy(io.Discard, r.Body)
		ex.Attempt("http://t1", time.Millisecond, false)
		ex.Attempt("http://t2", 2*time.Millisecond, true)
		if r.URL.Path == "/fail" {
			ex.Fail(&ex.Rec, problem.NoRoute)
		} else {
			_, _ = ex.Rec.Write([]byte("hello"))
		}
		seen = ex
	}))
	defer srv.Close()

	res, err := http.Post(srv.URL+"/fail", "text/plain", strings.NewReader("12345"))
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Type      string `json:"type"`
		Status    int    `json:"status"`
		RequestID string `json:"request_id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	ex := seen
	if res.StatusCode != 404 || body.Type != problem.NoRoute.URI() || body.Status != 404 || body.RequestID != "req-1" {
		t.Errorf("Fail answered %d %+v", res.StatusCode, body)
	}
	if ex.Problem != problem.NoRoute || ex.Rec.Status() != 404 || ex.Rec.Bytes() == 0 || ex.Body.Count() != 5 {
		t.Errorf("exchange after Fail: problem %v, status %d, bytes %d, body %d", ex.Problem, ex.Rec.Status(), ex.Rec.Bytes(), ex.Body.Count())
	}
	if resolved != 1 {
		t.Errorf("the client address was resolved %d times, want once", resolved)
	}
	if ex.Target != "http://t2" || ex.UpstreamDuration != 3*time.Millisecond || ex.Retries != 1 {
		t.Errorf("attempts: target %q, duration %v, retries %d", ex.Target, ex.UpstreamDuration, ex.Retries)
	}

	res, err = http.Get(srv.URL + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "hello" || seen.Rec.Status() != 200 || seen.Rec.Bytes() != 5 || seen.Problem != 0 {
		t.Errorf("a plain answer: %q, recorded status %d, bytes %d, problem %v", b, seen.Rec.Status(), seen.Rec.Bytes(), seen.Problem)
	}
}

// TestUpstreamPath: the exchange's path inside a pipeline, the request's
// own outside one.
func TestUpstreamPath(t *testing.T) {
	r := httptest.NewRequest("GET", "/a%2Fb", nil)
	if got := exchange.UpstreamPath(r); got != "/a%2Fb" {
		t.Errorf("outside a pipeline: %q", got)
	}
	ex := &exchange.Exchange{UpstreamPath: "/v1/x"}
	if got := exchange.UpstreamPath(exchange.With(r, ex)); got != "/v1/x" {
		t.Errorf("inside: %q", got)
	}
	var id exchange.Identity
	if !id.Anonymous() {
		t.Error("the zero identity is not anonymous")
	}
}
