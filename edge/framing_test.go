package edge_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/portico-gw/portico/edge"
)

// pathCounter is a handler that counts the requests of each path and
// reads their bodies, as a proxy would.
type pathCounter struct {
	mu   sync.Mutex
	hits map[string]int
}

func newPathCounter() *pathCounter { return &pathCounter{hits: map[string]int{}} }

func (p *pathCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	p.mu.Lock()
	p.hits[r.URL.Path]++
	p.mu.Unlock()
	_, _ = io.WriteString(w, "ok")
}

func (p *pathCounter) count(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[path]
}

// exchangeRaw writes raw on c, then reads responses until the server
// closes the connection. closed is false when the connection was still
// open after 5s (the server kept it for another request).
func exchangeRaw(t *testing.T, c net.Conn, raw string) (resps []*http.Response, closed bool) {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
	br := bufio.NewReader(c)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return resps, false
			}
			return resps, true // EOF or a reset: closed
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		resps = append(resps, resp)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return resps, false
		}
	}
}

// smuggled is the request pipelined after each ambiguous one: it must
// never be served.
const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

// framingCases are requests whose framing two HTTP/1 parsers may read
// differently (RFC 9112 §6.1, §6.3): after each, the connection must end.
// statuses are the answers allowed for the first request: the edge
// serves it by Transfer-Encoding, or net/http refuses it itself.
var framingCases = []struct {
	name     string
	raw      string
	statuses []int
}{
	{"TE then CL", "POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", []int{200, 400}},
	{"CL then TE", "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []int{200, 400}},
	{"TE by obs-fold", "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", []int{200, 400}},
	{"space before colon", "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", []int{400}},
	{"bare LF", "POST /first HTTP/1.1\nHost: x\nContent-Length: 5\nTransfer-Encoding: chunked\n\n0\r\n\r\n", []int{200, 400}},
	{"tab before chunked", "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n", []int{200, 400}},
	{"upper-case CHUNKED", "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n", []int{200, 400}},
	{"xchunked", "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", []int{400, 501}},
	{"chunked, identity", "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", []int{400, 501}},
	{"two TE fields", "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []int{400, 501}},
	{"differing CLs", "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", []int{400}},
	// Chunked alone: net/http drops a Content-Length sent beside it, so
	// the edge cannot tell the two apart and ends both (see doc.go).
	{"chunked alone", "POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []int{200}},
	// HTTP/1.0 with TE: net/http ignores (and hides) TE and reads CL, or
	// no body at all; RFC 9112 §6.1 says to close after it.
	{"HTTP/1.0 keep-alive, TE and CL", "POST /first HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello", []int{200, 400}},
	{"HTTP/1.0 keep-alive, TE alone", "POST /first HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", []int{200, 400}},
}

// TestFraming_AmbiguousRequestEndsTheConnection: a request whose body
// framing is ambiguous is answered with Connection: close and the
// connection ends, so nothing after it is read as a new request.
func TestFraming_AmbiguousRequestEndsTheConnection(t *testing.T) {
	for _, transport := range []string{"cleartext", "TLS"} {
		t.Run(transport, func(t *testing.T) {
			h := newPathCounter()
			dial := dialer(t, transport, edge.Config{Handler: h})
			for _, tt := range framingCases {
				t.Run(tt.name, func(t *testing.T) {
					c := dial()
					defer c.Close()
					before := h.count("/smuggled")
					resps, closed := exchangeRaw(t, c, tt.raw+smuggled)
					if len(resps) == 0 {
						t.Fatal("no response to the first request")
					}
					first := resps[0]
					if !containsInt(tt.statuses, first.StatusCode) {
						t.Errorf("first status = %d, want one of %v", first.StatusCode, tt.statuses)
					}
					if !first.Close {
						t.Errorf("first response lacks Connection: close (header %v)", first.Header)
					}
					if len(resps) > 1 {
						t.Errorf("got %d responses, want 1: the pipelined request was read as a new one", len(resps))
					}
					if !closed {
						t.Error("the connection stayed open after the ambiguous request")
					}
					if n := h.count("/smuggled") - before; n != 0 {
						t.Errorf("the pipelined request reached the handler %d times, want 0", n)
					}
				})
			}
		})
	}
}

// TestFraming_PlainRequestsKeepTheConnection: requests framed by one
// Content-Length (or none) keep the connection for the next one.
func TestFraming_PlainRequestsKeepTheConnection(t *testing.T) {
	for _, transport := range []string{"cleartext", "TLS"} {
		t.Run(transport, func(t *testing.T) {
			h := newPathCounter()
			c := dialer(t, transport, edge.Config{Handler: h})()
			defer c.Close()
			raw := "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
				"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello" +
				"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
			resps, _ := exchangeRaw(t, c, raw)
			if len(resps) != 3 {
				t.Fatalf("got %d responses, want 3", len(resps))
			}
			for i, r := range resps[:2] {
				if r.StatusCode != 200 || r.Close {
					t.Errorf("response %d: status %d, close %v; want 200 on a kept connection", i, r.StatusCode, r.Close)
				}
			}
			if first, last := h.count("/first"), h.count("/last"); first != 2 || last != 1 {
				t.Errorf("handler saw /first %d and /last %d times, want 2 and 1", first, last)
			}
		})
	}
}

// dialer serves cfg over transport ("cleartext" or "TLS", HTTP/1.1) and
// returns a function that dials it.
func dialer(t *testing.T, transport string, cfg edge.Config) func() net.Conn {
	t.Helper()
	if transport == "cleartext" {
		sv := serve(t, cfg)
		return func() net.Conn {
			c, err := net.Dial("tcp", sv.addr)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	sv, pool := serveTLS(t, cfg)
	return func() net.Conn {
		c, err := tls.Dial("tcp", sv.addr, &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestFraming_HTTP2RefusesTransferEncoding: HTTP/2 frames bodies by DATA
// frames, and Go's HTTP/2 server answers a stream that carries
// Transfer-Encoding with 400 (RFC 9113 §8.2.2) before the handler; the
// connection goes on serving other streams.
func TestFraming_HTTP2RefusesTransferEncoding(t *testing.T) {
	h := newPathCounter()
	sv := serve(t, edge.Config{Handler: h, H2C: true})
	c, err := net.Dial("tcp", sv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	headers := func(stream uint32, fields ...string) {
		t.Helper()
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		for i := 0; i+1 < len(fields); i += 2 {
			_ = enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: buf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
	}
	base := []string{":scheme", "http", ":authority", "x"}
	headers(1, append([]string{":method", "POST", ":path", "/first"}, append(base, "content-length", "0", "transfer-encoding", "chunked")...)...)
	headers(3, append([]string{":method", "GET", ":path", "/second"}, base...)...)
	statuses := map[uint32]string{}
	dec := hpack.NewDecoder(4096, nil)
	for len(statuses) < 2 {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading frames (got %v so far): %v", statuses, err)
		}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			fields, err := dec.DecodeFull(f.HeaderBlockFragment())
			if err != nil {
				t.Fatal(err)
			}
			for _, hf := range fields {
				if hf.Name == ":status" {
					statuses[f.StreamID] = hf.Value
				}
			}
		case *http2.RSTStreamFrame:
			statuses[f.StreamID] = "reset " + f.ErrCode.String()
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v after %v", f.ErrCode, statuses)
		}
	}
	if statuses[1] != "400" && !strings.HasPrefix(statuses[1], "reset") {
		t.Errorf("stream with transfer-encoding: %q, want 400 or a reset", statuses[1])
	}
	if statuses[3] != "200" {
		t.Errorf("the next stream on the connection: %q, want 200", statuses[3])
	}
	if first, second := h.count("/first"), h.count("/second"); first != 0 || second != 1 {
		t.Errorf("handler saw /first %d and /second %d times, want 0 and 1", first, second)
	}
	t.Logf("statuses by stream: %v", statuses)
}
