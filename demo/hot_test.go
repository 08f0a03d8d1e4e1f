package demo_test

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"

	"github.com/portico-gw/portico/demo"
)

func TestBytes(t *testing.T) {
	_, ts := start(t, demo.Options{})
	const period = 64 << 10
	_, long := get(t, ts, "/bytes/"+strconv.Itoa(2*period+5))
	if len(long) != 2*period+5 {
		t.Fatalf("len(/bytes/%d) = %d", 2*period+5, len(long))
	}
	if !bytes.Equal(long[period:2*period], long[:period]) {
		t.Errorf("content is not periodic with period %d", period)
	}
	tests := []struct {
		name string
		n    int
	}{
		{"empty", 0},
		{"one", 1},
		{"benchmark size", 1024},
		{"exactly one period", period},
		{"spans periods", period + 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, ts, "/bytes/"+strconv.Itoa(tt.n))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if resp.ContentLength != int64(tt.n) {
				t.Errorf("Content-Length = %d, want %d", resp.ContentLength, tt.n)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/octet-stream" {
				t.Errorf("Content-Type = %q, want application/octet-stream", got)
			}
			// Deterministic: every size is a prefix of the same stream.
			if !bytes.Equal(body, long[:tt.n]) {
				t.Errorf("body of /bytes/%d is not the first %d bytes of the pattern", tt.n, tt.n)
			}
		})
	}
}

func TestBytes_Head(t *testing.T) {
	_, ts := start(t, demo.Options{})
	resp, body := do(t, ts, request{method: http.MethodHead, path: "/bytes/4096"})
	if resp.StatusCode != http.StatusOK || resp.ContentLength != 4096 || len(body) != 0 {
		t.Errorf("HEAD /bytes/4096 = %d, Content-Length %d, %d body bytes; want 200, 4096, 0",
			resp.StatusCode, resp.ContentLength, len(body))
	}
}

func TestStatus(t *testing.T) {
	_, ts := start(t, demo.Options{})
	for _, code := range []int{200, 201, 204, 301, 304, 404, 418, 500, 503, 599} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			resp, body := do(t, ts, request{method: http.MethodPost, path: "/status/" + strconv.Itoa(code)})
			if resp.StatusCode != code {
				t.Errorf("status = %d, want %d", resp.StatusCode, code)
			}
			if len(body) != 0 {
				t.Errorf("body = %q, want empty", body)
			}
		})
	}
}

func TestHotEndpoints_BadInput(t *testing.T) {
	_, ts := start(t, demo.Options{})
	tests := []struct {
		name, path, mention string
	}{
		{"status 1xx", "/status/100", "200 to 599"},
		{"status 199", "/status/199", "200 to 599"},
		{"status too big", "/status/600", "200 to 599"},
		{"status not a number", "/status/ok", `"ok"`},
		{"status negative", "/status/-200", "200 to 599"},
		{"bytes negative", "/bytes/-1", "0 to 104857600"},
		{"bytes over cap", "/bytes/104857601", "0 to 104857600"},
		{"bytes not a number", "/bytes/1e3", `"1e3"`},
		{"bytes huge number", "/bytes/99999999999999999999999", "0 to 104857600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, ts, tt.path)
			wantProblem(t, resp, body, http.StatusBadRequest, tt.mention)
		})
	}
}
