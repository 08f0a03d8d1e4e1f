package demo_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/portico-gw/portico/demo"
)

func dialWS(t *testing.T, ctx context.Context, url string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("dialing /ws: %v", err)
	}
	if resp.Body != nil {
		resp.Body.Close()
	}
	t.Cleanup(func() { c.CloseNow() })
	c.SetReadLimit(2 << 20) // the client's default, 32 KiB, is below the demo's cap
	return c
}

func TestWebSocket_Echo(t *testing.T) {
	_, ts := start(t, demo.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := dialWS(t, ctx, ts.URL)
	tests := []struct {
		name string
		typ  websocket.MessageType
		data []byte
	}{
		{"text", websocket.MessageText, []byte("hello, portico")},
		{"empty text", websocket.MessageText, []byte{}},
		{"binary", websocket.MessageBinary, []byte{0, 1, 2, 0xff}},
		{"large binary", websocket.MessageBinary, bytes.Repeat([]byte{7, 9}, 300<<10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.Write(ctx, tt.typ, tt.data); err != nil {
				t.Fatalf("write: %v", err)
			}
			typ, got, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if typ != tt.typ || !bytes.Equal(got, tt.data) {
				t.Errorf("echo = %v %d bytes, want %v %d bytes", typ, len(got), tt.typ, len(tt.data))
			}
		})
	}
	if err := c.Close(websocket.StatusNormalClosure, "done"); err != nil {
		t.Errorf("close: %v", err)
	}
}

func TestWebSocket_CloseSaysGoingAway(t *testing.T) {
	s, ts := start(t, demo.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := dialWS(t, ctx, ts.URL)
	if err := c.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatalf("write: %v", err)
	}
	if _, _, err := c.Read(ctx); err != nil {
		t.Fatalf("read echo: %v", err)
	}

	closed := make(chan error, 1)
	go func() { closed <- s.Close(ctx) }()
	// Reading answers the server's close frame, which lets Close finish.
	_, _, err := c.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
		t.Errorf("read after Close = %v (status %v), want status %v", err, got, websocket.StatusGoingAway)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestWebSocket_MessageTooBig(t *testing.T) {
	_, ts := start(t, demo.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := dialWS(t, ctx, ts.URL)
	// The write may fail once the server has closed; the read below is
	// what the test checks.
	_ = c.Write(ctx, websocket.MessageBinary, make([]byte, 1<<20+1))
	_, got, err := c.Read(ctx)
	if err == nil {
		t.Fatalf("read = %d bytes echoed, want the server to refuse a message over 1 MiB", len(got))
	}
	if st := websocket.CloseStatus(err); st != -1 && st != websocket.StatusMessageTooBig {
		t.Errorf("close status = %v, want %v", st, websocket.StatusMessageTooBig)
	}
}
