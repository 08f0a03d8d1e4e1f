package guard_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portico-gw/portico/node/exchange"
	"github.com/portico-gw/portico/node/guard"
)

func TestBodyLimit(t *testing.T) {
	var readErr error
	var got int
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		got, readErr = len(b), err
	})
	h := guard.BodyLimit(next, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := &exchange.Exchange{}
		ex.Init(w, "rid", ex.Start, nil)
		h.ServeHTTP(w, exchange.With(r, ex))
		w.Header().Set("X-Counted", strings.Repeat("x", int(ex.Body.Count())))
	}))
	defer srv.Close()

	// Declared too large: 413 problem before next runs.
	got, readErr = -1, nil
	res, err := http.Post(srv.URL, "text/plain", strings.NewReader(strings.Repeat("a", 11)))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Type      string `json:"type"`
		RequestID string `json:"request_id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 413 || !strings.HasSuffix(p.Type, "#body-too-large") || p.RequestID != "rid" || got != -1 {
		t.Fatalf("declared 11 bytes: status %d, %+v, next read %d", res.StatusCode, p, got)
	}

	// Chunked (no length): the read fails at the limit.
	req, _ := http.NewRequest("POST", srv.URL, io.MultiReader(strings.NewReader(strings.Repeat("a", 20))))
	req.ContentLength = -1
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var mbe *http.MaxBytesError
	if !errors.As(readErr, &mbe) {
		t.Fatalf("chunked 20 bytes over a 10 limit: read error %v, want *http.MaxBytesError", readErr)
	}

	// Within the limit: read whole and counted.
	res, err = http.Post(srv.URL, "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if readErr != nil || got != 5 || len(res.Header.Get("X-Counted")) != 5 {
		t.Fatalf("5 bytes: read %d (%v), counted %q", got, readErr, res.Header.Get("X-Counted"))
	}
}
