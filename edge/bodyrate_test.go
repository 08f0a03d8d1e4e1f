package edge_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/edge"
	"github.com/prometheus/client_golang/prometheus"
)

// bodyReader reads the whole body: it answers its length, or 408 and
// passes the read error on.
func bodyReader(errs chan<- error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			errs <- err
			w.WriteHeader(http.StatusRequestTimeout)
			_, _ = io.WriteString(w, "too slow")
			return
		}
		_, _ = fmt.Fprint(w, len(body))
	})
}

// slowBodyLimits cut a body that has not fully arrived 100ms after the
// handler started, at 100 bytes/s.
var slowBodyLimits = edge.Limits{MinBodyRate: 100, MinBodyRateGrace: 100 * time.Millisecond}

func checkSlowBodyError(t *testing.T, errs <-chan error) {
	t.Helper()
	select {
	case err := <-errs:
		if !errors.Is(err, edge.ErrSlowBody) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("body read error = %v, want edge.ErrSlowBody wrapping os.ErrDeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler never saw the body fail")
	}
}

// TestMinBodyRate_HTTP1: a client that sends its headers and then one
// byte of body is cut, answered and disconnected, while a normal client
// on another connection is served.
func TestMinBodyRate_HTTP1(t *testing.T) {
	reg := prometheus.NewRegistry()
	errs := make(chan error, 1)
	sv := serve(t, edge.Config{Handler: bodyReader(errs), Limits: slowBodyLimits, Registerer: reg})

	slow := dialTCP(t, sv.addr)
	if _, err := io.WriteString(slow, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\na"); err != nil {
		t.Fatal(err)
	}

	resp, err := newClient(t).Post("http://"+sv.addr+"/", "text/plain", strings.NewReader(strings.Repeat("b", 10<<10)))
	if err != nil {
		t.Fatalf("normal client: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "10240" {
		t.Errorf("normal client got %d %q, want 200 10240", resp.StatusCode, body)
	}

	// rawRequest reads until the server closes the connection: it must,
	// as the rest of the body would otherwise be read as a request.
	got := rawRequest(t, slow, "")
	if !strings.HasPrefix(got, "HTTP/1.1 408 ") || !strings.HasSuffix(got, "too slow") {
		t.Errorf("slow client got %q, want the handler's 408 then a close", got)
	}
	checkSlowBodyError(t, errs)
	if got := metric(t, reg, "portico_edge_slow_body_closes_total"); got != 1 {
		t.Errorf("slow_body_closes_total = %v, want 1", got)
	}
}

// TestMinBodyRate_HTTP2: on HTTP/2 the slow stream fails and the
// connection goes on serving.
func TestMinBodyRate_HTTP2(t *testing.T) {
	errs := make(chan error, 1)
	sv, pool := serveTLS(t, edge.Config{Handler: bodyReader(errs), Limits: slowBodyLimits})
	c := newTLSClient(t, pool, "h2")
	url := "https://localhost:" + port(sv) + "/"

	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("a")) }() // then nothing more
	req, err := http.NewRequest(http.MethodPost, url, pr)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("slow HTTP/2 request: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("slow HTTP/2 request got %d, want the handler's 408", resp.StatusCode)
	}
	checkSlowBodyError(t, errs)

	resp, err = c.Post(url, "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatalf("next request: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("next request got %d, want 200", resp.StatusCode)
	}
}

// TestMinBodyRate_NoDeadlineAfterBody: once the body is read, no read
// deadline is left, neither the guard's nor ReadTimeout's (as without
// the guard), so a handler that works long after it is not cancelled: on
// HTTP/1, net/http reads ahead after the body, and a deadline firing
// there would cancel the request context.
func TestMinBodyRate_NoDeadlineAfterBody(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			t.Errorf("reading the body: %v", err)
		}
		select {
		case <-r.Context().Done():
			_, _ = io.WriteString(w, "cancelled")
		case <-time.After(400 * time.Millisecond): // well past both deadlines
			_, _ = io.WriteString(w, "not cancelled")
		}
	})
	sv := serve(t, edge.Config{Handler: h, ReadTimeout: 200 * time.Millisecond,
		Limits: edge.Limits{MinBodyRate: 1000, MinBodyRateGrace: 50 * time.Millisecond}})
	resp, err := newClient(t).Post("http://"+sv.addr+"/", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "not cancelled" {
		t.Errorf("handler working after its body = %q, want not cancelled", body)
	}
}
