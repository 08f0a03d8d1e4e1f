package edge_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/portico-gw/portico/edge"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Conn is a raw HTTP/2 client connection driven frame by frame.
type h2Conn struct {
	conn    net.Conn
	fr      *http2.Framer
	headers chan h2Headers // response headers, read by a goroutine until the connection ends
	ended   chan error     // receives the read error that ended it
}

func dialH2(t *testing.T, addr string, pool *x509.CertPool) *h2Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN chose %q, want h2", p)
	}
	deadline(t, conn)
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	c := &h2Conn{conn: conn, fr: http2.NewFramer(conn, conn), headers: make(chan h2Headers, 64), ended: make(chan error, 1)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go c.read(done)
	t.Cleanup(func() { conn.Close(); <-done })
	return c
}

// h2Headers is the status of a response on a stream.
type h2Headers struct {
	stream uint32
	status string
}

// read passes on response headers until the connection fails, then
// reports why. (Frames are only valid until the next ReadFrame, so only
// copies leave this goroutine.)
func (c *h2Conn) read(done chan<- struct{}) {
	defer close(done)
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.ended <- err
			return
		}
		if h, ok := f.(*http2.MetaHeadersFrame); ok {
			select {
			case c.headers <- h2Headers{h.StreamID, h.PseudoValue("status")}:
			default: // nobody is looking: drop them
			}
		}
	}
}

// get opens stream id with a GET of path; reset cancels it right away.
func (c *h2Conn) get(id uint32, path string, reset bool) error {
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: "localhost"}, {Name: ":path", Value: path}} {
		if err := enc.WriteField(f); err != nil {
			return err
		}
	}
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true})
	if err == nil && reset {
		err = c.fr.WriteRSTStream(id, http2.ErrCodeCancel)
	}
	return err
}

// holdHandler holds requests to /hold until the client cancels them or
// the test ends, and answers the rest with "ok".
func holdHandler(t *testing.T) http.Handler {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
}

// TestRapidReset: a client opening and cancelling streams in a tight loop
// loses its connection; other clients, and a client cancelling a few
// streams, are served.
func TestRapidReset(t *testing.T) {
	reg := prometheus.NewRegistry()
	sv, pool := serveTLS(t, edge.Config{Handler: holdHandler(t), Registerer: reg, HTTP2: edge.HTTP2Config{MaxResetsPerSecond: 10}})

	attacker := dialH2(t, sv.addr, pool)
	// 1000 streams: fewer than net/http's own guard needs (its queue of
	// 4 × 250 handlers waiting to start), so the close is ours.
	for id := uint32(1); id < 2000; id += 2 {
		if err := attacker.get(id, "/hold", true); err != nil {
			break // the server closed the connection
		}
	}
	if err := <-attacker.ended; isTimeout(err) {
		t.Fatalf("the attacking connection is still open: %v", err)
	}
	if got := metric(t, reg, "portico_edge_rapid_reset_closes_total"); got != 1 {
		t.Errorf("rapid_reset_closes_total = %v, want 1", got)
	}

	polite := dialH2(t, sv.addr, pool)
	for id := uint32(1); id <= 9; id += 2 {
		if err := polite.get(id, "/hold", true); err != nil {
			t.Fatal(err)
		}
	}
	if err := polite.get(11, "/", false); err != nil {
		t.Fatal(err)
	}
	if status := polite.status(t, 11); status != "200" {
		t.Errorf("status after 5 resets = %q, want 200", status)
	}
	get(t, newTLSClient(t, pool, "h2"), "https://localhost:"+port(sv)+"/")
	if got := metric(t, reg, "portico_edge_rapid_reset_closes_total"); got != 1 {
		t.Errorf("rapid_reset_closes_total = %v after polite clients, want still 1", got)
	}
}

// status waits for the response headers of stream id and returns their
// :status.
func (c *h2Conn) status(t *testing.T, id uint32) string {
	t.Helper()
	for {
		select {
		case h := <-c.headers:
			if h.stream == id {
				return h.status
			}
		case err := <-c.ended:
			t.Fatalf("connection ended before the response to stream %d: %v", id, err)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
