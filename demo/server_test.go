package demo_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/portico-gw/portico/demo"
)

func TestIndex(t *testing.T) {
	_, ts := start(t, demo.Options{})
	resp, body := get(t, ts, "/")
	var idx struct {
		Endpoints map[string]string `json:"endpoints"`
	}
	if err := json.Unmarshal(body, &idx); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/ = %d %q (%v), want 200 JSON", resp.StatusCode, body, err)
	}
	for _, ep := range []string{"/anything[/...]", "/status/{code}", "/bytes/{n}", "/ws"} {
		if idx.Endpoints[ep] == "" {
			t.Errorf("index lacks %s", ep)
		}
	}
}

func TestNotFound(t *testing.T) {
	_, ts := start(t, demo.Options{})
	for _, path := range []string{"/nope", "/bytes/", "/status"} {
		t.Run(path, func(t *testing.T) {
			resp, body := get(t, ts, path)
			wantProblem(t, resp, body, http.StatusNotFound, "GET / lists them")
		})
	}
}

func TestRequests(t *testing.T) {
	s, ts := start(t, demo.Options{})
	for _, path := range []string{"/bytes/1", "/status/500", "/nope", "/status/x"} {
		get(t, ts, path)
	}
	if got := s.Requests(); got != 4 {
		t.Errorf("Requests() = %d, want 4", got)
	}
}

// TestClose_EndsLongRequests: Close ends a delay (503) and a stream (the
// body ends early), waits for both handlers, then refuses new long
// requests while the other endpoints still answer.
func TestClose_EndsLongRequests(t *testing.T) {
	g := newGate()
	s, ts := start(t, demo.Options{Pause: g.pause})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	stream := openStream(t, ctx, ts, ts.URL+"/stream/5?delay_ms=1")
	br := bufio.NewReader(stream.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatalf("first line: %v", err)
	}
	g.next(t) // the stream is held before its second line

	delayed := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/delay/1000", nil)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Errorf("delay request: %v", err)
			close(delayed)
			return
		}
		delayed <- resp
	}()
	g.next(t) // the delay is held too

	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := s.ActiveForTest(); got != 0 {
		t.Errorf("after Close, %d long handlers still run, want 0", got)
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Errorf("stream went on after Close: %q", rest)
	}
	if resp, ok := <-delayed; ok {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantProblem(t, resp, body, http.StatusServiceUnavailable, "closing")
	}

	resp, body := get(t, ts, "/delay/0")
	wantProblem(t, resp, body, http.StatusServiceUnavailable, "closing")
	if resp, _ := get(t, ts, "/bytes/3"); resp.StatusCode != http.StatusOK {
		t.Errorf("/bytes/3 after Close = %d, want 200", resp.StatusCode)
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
}

// TestClose_GivesUpWithContext: a handler that won't stop makes Close
// return the context's error instead of hanging.
func TestClose_GivesUpWithContext(t *testing.T) {
	stuck := make(chan struct{})
	held := make(chan struct{})
	pause := func(context.Context, time.Duration) error {
		close(held)
		<-stuck // ignores its context on purpose
		return nil
	}
	s, ts := start(t, demo.Options{Pause: pause})
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := ts.Client().Get(ts.URL + "/delay/5")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-held
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close = %v, want context.Canceled", err)
	}
	close(stuck)
	<-done
}
