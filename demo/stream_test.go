package demo_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/demo"
)

// streamKind describes how to read one item of /stream or /sse.
type streamKind struct {
	name        string
	prefix      string
	contentType string
	// read returns the JSON payload of the next item.
	read func(*bufio.Reader) (string, error)
}

var streamKinds = []streamKind{
	{"stream", "/stream/", "application/x-ndjson", func(br *bufio.Reader) (string, error) {
		line, err := br.ReadString('\n')
		return strings.TrimSuffix(line, "\n"), err
	}},
	{"sse", "/sse/", "text/event-stream", readEvent},
}

// readEvent reads one server-sent event and returns its data, checking
// that its id matches the data's id.
func readEvent(br *bufio.Reader) (string, error) {
	var id, data string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if !strings.HasPrefix(data, `{"id":`+id+",") {
				return "", fmt.Errorf("event id %q does not match data %q", id, data)
			}
			return data, nil
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

type item struct {
	ID   int       `json:"id"`
	Time time.Time `json:"time"`
}

func decodeItem(t *testing.T, payload string, wantID int) {
	t.Helper()
	var it item
	if err := json.Unmarshal([]byte(payload), &it); err != nil {
		t.Fatalf("item %q: %v", payload, err)
	}
	if it.ID != wantID || it.Time.IsZero() {
		t.Errorf("item = %+v, want id %d and a time", it, wantID)
	}
}

// openStream starts a GET whose body the test reads item by item.
func openStream(t *testing.T, ctx context.Context, ts interface{ Client() *http.Client }, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestStream_Incremental holds the server between items (an injected
// Pause) and reads each item while it is held: items must be flushed one
// by one, not buffered until the end.
func TestStream_Incremental(t *testing.T) {
	for _, kind := range streamKinds {
		t.Run(kind.name, func(t *testing.T) {
			g := newGate()
			_, ts := start(t, demo.Options{Pause: g.pause})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp := openStream(t, ctx, ts, ts.URL+kind.prefix+"3?delay_ms=25")
			if got := resp.Header.Get("Content-Type"); got != kind.contentType {
				t.Errorf("Content-Type = %q, want %q", got, kind.contentType)
			}
			if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
				t.Errorf("Transfer-Encoding = %v, want [chunked]", resp.TransferEncoding)
			}
			br := bufio.NewReader(resp.Body)
			for i := range 3 {
				if i > 0 {
					if d := g.next(t); d != 25*time.Millisecond {
						t.Errorf("pause before item %d = %v, want 25ms", i, d)
					}
					// Item i-1 was read while the server was held here,
					// before item i; now let it go on.
					g.release <- struct{}{}
				}
				payload, err := kind.read(br)
				if err != nil {
					t.Fatalf("reading item %d while the server holds the rest: %v", i, err)
				}
				decodeItem(t, payload, i)
			}
			if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
				t.Errorf("after 3 items: %q, %v; want the end of the body", rest, err)
			}
		})
	}
}

func TestStream_Counts(t *testing.T) {
	_, ts := start(t, demo.Options{})
	for _, kind := range streamKinds {
		for _, n := range []int{0, 1, 50} {
			t.Run(kind.name+"/"+strconv.Itoa(n), func(t *testing.T) {
				resp, body := get(t, ts, kind.prefix+strconv.Itoa(n))
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status = %d, want 200", resp.StatusCode)
				}
				br := bufio.NewReader(strings.NewReader(string(body)))
				for i := range n {
					payload, err := kind.read(br)
					if err != nil {
						t.Fatalf("item %d: %v", i, err)
					}
					decodeItem(t, payload, i)
				}
				if rest, _ := io.ReadAll(br); len(rest) != 0 {
					t.Errorf("after %d items: %q left, want nothing", n, rest)
				}
			})
		}
	}
}

func TestStream_BadInput(t *testing.T) {
	_, ts := start(t, demo.Options{})
	tests := []struct{ name, query, n, mention string }{
		{"n too big", "", "10001", "0 to 10000"},
		{"n not a number", "", "many", `"many"`},
		{"delay not a number", "?delay_ms=soon", "3", `"soon"`},
		{"delay too long", "?delay_ms=60001", "3", "0 to 60000"},
	}
	for _, kind := range streamKinds {
		for _, tt := range tests {
			t.Run(kind.name+"/"+tt.name, func(t *testing.T) {
				resp, body := get(t, ts, kind.prefix+tt.n+tt.query)
				wantProblem(t, resp, body, http.StatusBadRequest, tt.mention)
			})
		}
	}
}

func TestStream_ClientGoesAway(t *testing.T) {
	g := newGate()
	s, ts := start(t, demo.Options{Pause: g.pause})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := openStream(t, ctx, ts, ts.URL+"/stream/1000?delay_ms=1")
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatalf("first line: %v", err)
	}
	g.next(t)
	cancel()
	waitFor(t, "the stream handler to return", func() bool { return s.ActiveForTest() == 0 })
}
