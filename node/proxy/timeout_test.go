package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/portico-gw/portico/node/config"
)

// blocking returns a handler that writes what first does (if anything),
// tells arrived, and waits until release is closed or the request is
// cancelled: an upstream that hangs until the test releases it.
func blocking(first func(w http.ResponseWriter)) (h http.HandlerFunc, arrived, release chan struct{}) {
	release, arrived = make(chan struct{}), make(chan struct{}, 10)
	h = func(w http.ResponseWriter, r *http.Request) {
		if first != nil {
			first(w)
		}
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	return h, arrived, release
}

func TestTimeouts(t *testing.T) {
	headersThenBlock := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(200)
		io.WriteString(w, "first chunk ")
		http.NewResponseController(w).Flush()
	}
	tests := []struct {
		name      string
		timeouts  config.Timeouts
		first     func(http.ResponseWriter) // nil: block before headers
		blockDial bool
		wantCode  int  // 0: the response starts, then is cut
		wantBody  bool // the first chunk arrives
	}{
		{name: "connect", timeouts: config.Timeouts{Connect: ms(20)}, blockDial: true, wantCode: 504},
		{name: "response header", timeouts: config.Timeouts{ResponseHeader: ms(20)}, wantCode: 504},
		{name: "total before headers", timeouts: config.Timeouts{Total: ms(20)}, wantCode: 504},
		{name: "total cuts the stream", timeouts: config.Timeouts{Total: ms(50)}, first: headersThenBlock, wantBody: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _, release := blocking(tt.first)
			defer close(release)
			b := newBackend(t, "a", h)
			cfg := upstreamConfig(b.url())
			up := newTestUpstream(t, cfg, Options{})
			if tt.blockDial {
				up.dialer.dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
					<-ctx.Done() // a target that never answers the SYN
					return nil, ctx.Err()
				}
			}
			rt := route("pool")
			rt.Timeouts = tt.timeouts
			g := newGateway(t, rt, up, HandlerOptions{})
			resp, err := g.client.Get(g.srv.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, readErr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tt.wantCode != 0 {
				if resp.StatusCode != tt.wantCode {
					t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantCode)
				}
				err := g.errs.last()
				if !errors.Is(err, ErrTimeout) || errors.Is(err, context.Canceled) {
					t.Errorf("error %v: want ErrTimeout and not context.Canceled", err)
				}
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("error %v is not a net.Error timeout", err)
				}
				return
			}
			if readErr == nil {
				t.Errorf("body read ended cleanly (%q), want it cut by the total timeout", body)
			}
			if tt.wantBody && string(body) != "first chunk " {
				t.Errorf("body = %q, want the first chunk", body)
			}
		})
	}
}

func ms(n int) config.Duration { return config.Duration(time.Duration(n) * time.Millisecond) }

func TestTimeouts_HeaderTimerStopsAtHeaders(t *testing.T) {
	// The body takes longer than the header timeout: it must not be cut.
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		http.NewResponseController(w).Flush()
		<-time.After(60 * time.Millisecond) // a slow upstream, not a test wait
		io.WriteString(w, "late body")
	})
	up := newTestUpstream(t, upstreamConfig(b.url()), Options{})
	rt := route("pool")
	rt.Timeouts.ResponseHeader = ms(20)
	g := newGateway(t, rt, up, HandlerOptions{})
	if code, _, body := g.do(t, "GET", "/", nil); code != 200 || body != "late body" {
		t.Errorf("got %d %q, want 200 %q", code, body, "late body")
	}
}

func TestTimeouts_HeaderTimerStartsAfterBody(t *testing.T) {
	// The request body takes longer than the header timeout to arrive;
	// the header wait starts once it is sent.
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Got", http.StatusText(int(n)))
	})
	up := newTestUpstream(t, upstreamConfig(b.url()), Options{})
	rt := route("pool")
	rt.Timeouts.ResponseHeader = ms(20)
	g := newGateway(t, rt, up, HandlerOptions{})
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("part one "))
		<-time.After(60 * time.Millisecond) // a slow client
		pw.Write([]byte("part two"))
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", g.srv.URL+"/", pr)
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status = %d, want 200 (last error %v)", resp.StatusCode, g.errs.last())
	}
}

func TestClientGoneIsCanceled(t *testing.T) {
	h, arrived, release := blocking(nil)
	defer close(release)
	b := newBackend(t, "a", h)
	up := newTestUpstream(t, upstreamConfig(b.url()), Options{})
	g := newGateway(t, route("pool"), up, HandlerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", g.srv.URL+"/", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := g.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-arrived
	cancel()
	<-done
	err := <-g.errs.ch
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("error %v: want context.Canceled and not ErrTimeout", err)
	}
	if got := statusFor(err); got != 499 {
		t.Errorf("status for %v = %d, want 499", err, got)
	}
	waitFor(t, "in-flight to drop", func() bool { return up.Targets()[0].InFlight == 0 })
}

func TestClassify(t *testing.T) {
	timeout := &timeoutError{what: "x"}
	tests := []struct {
		name             string
		err, cause       error
		timeout, canceld bool
	}{
		{"our timeout as cause", context.Canceled, timeout, true, false},
		{"client gone", errors.New("read: connection reset"), context.Canceled, false, true},
		{"request deadline", context.DeadlineExceeded, nil, true, false},
		{"dial timeout", &connectError{addr: "a", err: &timeoutError{what: "connect"}}, nil, true, false},
		{"net timeout", &net.OpError{Op: "read", Err: timeoutNetErr{}}, nil, true, false},
		{"other", errors.New("boom"), nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.err, tt.cause)
			if errors.Is(got, ErrTimeout) != tt.timeout {
				t.Errorf("Is(ErrTimeout) = %v, want %v", !tt.timeout, tt.timeout)
			}
			if errors.Is(got, context.Canceled) != tt.canceld {
				t.Errorf("Is(Canceled) = %v, want %v", !tt.canceld, tt.canceld)
			}
		})
	}
}

type timeoutNetErr struct{}

func (timeoutNetErr) Error() string   { return "i/o timeout" }
func (timeoutNetErr) Timeout() bool   { return true }
func (timeoutNetErr) Temporary() bool { return true }
