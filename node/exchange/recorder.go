package exchange

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
)

// Recorder wraps the client's ResponseWriter to learn the status and the
// bytes written, for metrics and the access log. It keeps streaming and
// upgrades working: Flush and Hijack pass through, and Unwrap lets
// http.ResponseController (which ReverseProxy uses) reach the original.
type Recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	// upgradedIn is what the client sent on a hijacked (upgraded)
	// connection, counted until it closed.
	upgradedIn int64
}

func (w *Recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 || code == http.StatusSwitchingProtocols {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *Recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush sends buffered data to the client (SSE, chunked streams).
func (w *Recorder) Flush() {
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
func (w *Recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
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
	w       *Recorder
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
func (w *Recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var (
	_ http.Flusher  = (*Recorder)(nil)
	_ http.Hijacker = (*Recorder)(nil)
)

// Status is the status written so far (0: nothing yet).
func (w *Recorder) Status() int { return w.status }

// Bytes is the response bytes written so far (an upgraded connection's
// included once it closed).
func (w *Recorder) Bytes() int64 { return w.bytes }

// UpgradedIn is what the client sent on an upgraded connection.
func (w *Recorder) UpgradedIn() int64 { return w.upgradedIn }

// BodyCount counts the bytes of the client's request body as they are
// read (a chunked body declares no length). The upstream transport may
// still read it after the proxy returned, hence the atomic.
type BodyCount struct {
	rc io.ReadCloser
	n  atomic.Int64
}

// Wrap makes b count rc's bytes; Read and Close go to rc.
func (b *BodyCount) Wrap(rc io.ReadCloser) *BodyCount {
	b.rc = rc
	return b
}

func (b *BodyCount) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// Close closes the wrapped body.
func (b *BodyCount) Close() error { return b.rc.Close() }

// Count returns the body bytes read so far.
func (b *BodyCount) Count() int64 { return b.n.Load() }
