package demo

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/coder/websocket"
)

// serveWebSocket echoes every text and binary message back with the same
// type, until the peer closes. Messages are capped at maxEchoBody. Any
// Origin is accepted: the demo is a test upstream, not a browser-facing
// app.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	_, end, ok := s.begin(r)
	if !ok {
		s.writeProblem(w, http.StatusServiceUnavailable, "the demo server is closing")
		return
	}
	defer end()
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: []string{"*"}})
	if err != nil {
		return // Accept has answered the failed handshake
	}
	defer c.CloseNow()
	c.SetReadLimit(maxEchoBody)

	// Close sends the peer a going-away close frame. The handshake runs
	// beside echo's read loop (the library allows Close concurrent with
	// Reader); the handler waits for it so that it owns the goroutine.
	closed := make(chan struct{})
	stopWatch := context.AfterFunc(s.closing, func() {
		defer close(closed)
		_ = c.Close(websocket.StatusGoingAway, "demo server closing")
	})
	defer func() {
		if !stopWatch() {
			<-closed
		}
	}()

	err = echoMessages(c)
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway:
		return
	}
	if s.closing.Err() == nil && !errors.Is(err, io.EOF) {
		s.log.Debug("demo websocket echo ended", "remote_addr", r.RemoteAddr, "err", err)
	}
}

// echoMessages copies each message back until reading fails; it returns
// that error (a CloseError when the peer closed).
func echoMessages(c *websocket.Conn) error {
	// The hijacked connection outlives the request context; reads end
	// when the peer closes, the connection breaks, or Close runs.
	ctx := context.Background()
	for {
		typ, rd, err := c.Reader(ctx)
		if err != nil {
			return err
		}
		wr, err := c.Writer(ctx, typ)
		if err != nil {
			return err
		}
		if _, err := io.Copy(wr, rd); err != nil {
			_ = wr.Close()
			return err
		}
		if err := wr.Close(); err != nil {
			return err
		}
	}
}
