package node

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
)

// recorder wraps the client's ResponseWriter to learn the status and the
// bytes written, for metrics and the access log. It keeps streaming and
// upgrades working: Flush and Hijack pass through, and Unwrap lets
// http.ResponseController (which ReverseProxy uses) reach the original.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	// upgradedIn is what the client sent on a hijacked (upgraded)
	// connection, counted until it closed.
	upgradedIn int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 || code == http.StatusSwitchingProtocols {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush sends buffered data to the client (SSE, chunked streams).
func (w *recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack hands the connection over for protocol upgrades (WebSocket): the
// status is 101, and the bytes written to and read from the client until
// the connection is closed count as the response's and the request's (the
// access log's bytes_out and bytes_in).
func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.status = http.StatusSwitchingProtocols
	return &countedConn{Conn: c, w: w}, brw, nil
}

// countedConn counts the bytes read from and written to a hijacked
// connection. Reads and writes may come from other goroutines than the
// handler's; the counts reach the recorder when the handler closes the
// connection (ReverseProxy does, before it returns).
type countedConn struct {
	net.Conn
	w       *recorder
	in, out atomic.Int64
	closed  atomic.Bool
}

func (c *countedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(int64(n))
	return n, err
}

func (c *countedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(int64(n))
	return n, err
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.w.bytes += c.out.Load()
		c.w.upgradedIn = c.in.Load()
	}
	return c.Conn.Close()
}

var errNoCloseWrite = errors.New("connection cannot close its write side")

// CloseWrite half-closes the connection when it can (TCP, TLS), as
// ReverseProxy does when the upstream ends its side.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoCloseWrite
}

// Unwrap returns the wrapped writer for http.ResponseController.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var (
	_ http.Flusher  = (*recorder)(nil)
	_ http.Hijacker = (*recorder)(nil)
)
