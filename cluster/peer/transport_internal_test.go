package peer

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// recorder is a pooledTransport that answers 200 "ok" and keeps the
// context of the last request.
type recorder struct{ ctx context.Context }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.ctx = req.Context()
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("ok")), ContentLength: 2}, nil
}

func (r *recorder) CloseIdleConnections() {}

// TestRoundTrip_Deadline: a request without a deadline gets Timeout, one
// with a deadline keeps it, and closing the body releases the timer.
func TestRoundTrip_Deadline(t *testing.T) {
	const timeout = time.Hour
	callerDeadline := time.Now().Add(3 * time.Hour)
	tests := []struct {
		name        string
		hasDeadline bool             // the caller's context has one
		wantWithin  [2]time.Duration // deadline - now, bounds
	}{
		{"no deadline", false, [2]time.Duration{timeout - time.Minute, timeout}},
		{"caller's deadline wins, even a later one", true, [2]time.Duration{3*time.Hour - time.Minute, 3 * time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			tr := &transport{base: rec, timeout: timeout, maxResponse: 10}
			ctx := context.Background()
			if tc.hasDeadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, callerDeadline)
				defer cancel()
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://peer:7948/x", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			dl, ok := rec.ctx.Deadline()
			if left := time.Until(dl); !ok || left < tc.wantWithin[0] || left > tc.wantWithin[1] {
				t.Errorf("deadline in %v (set %v), want between %v and %v", left, ok, tc.wantWithin[0], tc.wantWithin[1])
			}
			if rec.ctx.Err() != nil {
				t.Errorf("request context ended before the body was closed: %v", rec.ctx.Err())
			}
			_ = resp.Body.Close()
			if !tc.hasDeadline && rec.ctx.Err() == nil {
				t.Error("closing the body left the request's timer running")
			}
			if _, has := req.Context().Deadline(); has != tc.hasDeadline {
				t.Error("RoundTrip modified the caller's request")
			}
		})
	}
}
