package edge

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/portico-gw/portico/problem"
)

// h3TestRelay forwards UDP datagrams between one client and the server
// and can hold back what the server sends. A client behind a holding
// relay cannot complete its handshake (it never sees the server's
// flight), so whatever it sent in 0-RTT is handled by the server before
// the handshake completes, deterministically.
type h3TestRelay struct {
	front *net.UDPConn // the client sends here
	back  *net.UDPConn // connected to the server
	wg    sync.WaitGroup

	mu     sync.Mutex
	client net.Addr
	hold   bool
	held   [][]byte
}

// newH3TestRelay starts a relay to sv. It is closed after sv's Shutdown,
// so that connection closes and GOAWAYs still pass.
func newH3TestRelay(t testing.TB, sv *h3Served, hold bool) *h3TestRelay {
	t.Helper()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("relay listen: %v", err)
	}
	back, err := net.DialUDP("udp", nil, sv.addr)
	if err != nil {
		t.Fatalf("relay dial: %v", err)
	}
	r := &h3TestRelay{front: front, back: back, hold: hold}
	r.wg.Add(2)
	go r.toServer()
	go r.toClient()
	sv.afterShutdown(func() {
		_ = front.Close()
		_ = back.Close()
		r.wg.Wait()
	})
	return r
}

func (r *h3TestRelay) addr() net.Addr { return r.front.LocalAddr() }

func (r *h3TestRelay) toServer() {
	defer r.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, addr, err := r.front.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		r.mu.Lock()
		r.client = addr
		r.mu.Unlock()
		_, _ = r.back.Write(buf[:n])
	}
}

func (r *h3TestRelay) toClient() {
	defer r.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, err := r.back.Read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue // e.g. ICMP port unreachable after the server stopped
		}
		r.mu.Lock()
		if r.hold {
			r.held = append(r.held, bytes.Clone(buf[:n]))
		} else if r.client != nil {
			_, _ = r.front.WriteTo(buf[:n], r.client)
		}
		r.mu.Unlock()
	}
}

// release stops holding and delivers what was held, in order.
func (r *h3TestRelay) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hold = false
	for _, p := range r.held {
		_, _ = r.front.WriteTo(p, r.client)
	}
	r.held = nil
}

// newH3TestQUICTransport returns a client QUIC transport on its own
// loopback socket, closed at the end of the test.
func newH3TestQUICTransport(t testing.TB) *quic.Transport {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("client listen udp: %v", err)
	}
	tr := &quic.Transport{Conn: udp}
	t.Cleanup(func() {
		_ = tr.Close()
		_ = udp.Close()
	})
	return tr
}

// h3TicketCache is a client session cache that signals each new ticket.
type h3TicketCache struct {
	tls.ClientSessionCache
	put chan struct{}
}

func (c *h3TicketCache) Put(key string, cs *tls.ClientSessionState) {
	c.ClientSessionCache.Put(key, cs)
	if cs != nil {
		select {
		case c.put <- struct{}{}:
		default:
		}
	}
}

// h3EarlyClient is an HTTP/3 client that resumes sessions and can send
// requests in 0-RTT.
type h3EarlyClient struct {
	sv      *h3Served
	tr      *quic.Transport
	tlsConf *tls.Config
	tickets *h3TicketCache
}

func newH3EarlyClient(t testing.TB, sv *h3Served) *h3EarlyClient {
	tickets := &h3TicketCache{ClientSessionCache: tls.NewLRUClientSessionCache(4), put: make(chan struct{}, 1)}
	tlsConf := sv.tlsClientConfig()
	tlsConf.ClientSessionCache = tickets
	return &h3EarlyClient{sv: sv, tr: newH3TestQUICTransport(t), tlsConf: tlsConf, tickets: tickets}
}

// prime does a full handshake and a GET, and waits for the session
// ticket that allows resumption (and 0-RTT, if the server offers it).
func (c *h3EarlyClient) prime(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := c.tr.Dial(ctx, c.sv.addr, c.tlsConf, &quic.Config{})
	if err != nil {
		t.Fatalf("first dial: %v", err)
	}
	defer conn.CloseWithError(0, "")
	if conn.ConnectionState().TLS.DidResume {
		t.Fatal("first connection resumed a session, want a full handshake")
	}
	resp := h3RoundTrip(t, (&http3.Transport{}).NewClientConn(conn), http.MethodGet)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("first GET = %d, want 200", resp.StatusCode)
	}
	select {
	case <-c.tickets.put:
	case <-ctx.Done():
		t.Fatal("no session ticket received")
	}
}

// dialEarly resumes the session through a relay that holds the server's
// answers, so the handshake cannot complete until relay.release.
func (c *h3EarlyClient) dialEarly(t testing.TB) (*quic.Conn, *http3.ClientConn, *h3TestRelay) {
	t.Helper()
	relay := newH3TestRelay(t, c.sv, true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := c.tr.DialEarly(ctx, relay.addr(), c.tlsConf, &quic.Config{})
	if err != nil {
		t.Fatalf("DialEarly (is 0-RTT possible with this ticket?): %v", err)
	}
	t.Cleanup(func() { _ = conn.CloseWithError(0, "") })
	return conn, (&http3.Transport{}).NewClientConn(conn), relay
}

// h3Send sends a bodiless request on a new stream of cc, without waiting
// for the handshake.
func h3Send(t testing.TB, cc *http3.ClientConn, method string) *http3.RequestStream {
	t.Helper()
	rs, err := cc.OpenRequestStream(context.Background())
	if err != nil {
		t.Fatalf("open request stream: %v", err)
	}
	req, err := http.NewRequest(method, "https://localhost/early", nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if err := rs.SendRequestHeader(req); err != nil {
		t.Fatalf("send %s: %v", method, err)
	}
	if err := rs.Close(); err != nil {
		t.Fatalf("close request stream: %v", err)
	}
	return rs
}

// h3Response reads rs's response with its body.
type h3Response struct {
	*http.Response
	body string
}

func h3Read(t testing.TB, rs *http3.RequestStream) h3Response {
	t.Helper()
	resp, err := rs.ReadResponse()
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response body: %v", err)
	}
	resp.Body.Close()
	return h3Response{resp, string(b)}
}

// h3RoundTrip does a bodiless request on cc after the handshake.
func h3RoundTrip(t testing.TB, cc *http3.ClientConn, method string) h3Response {
	t.Helper()
	req, err := http.NewRequest(method, "https://localhost/", nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	resp, err := cc.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return h3Response{resp, string(b)}
}

// h3Recorder is a handler that reports each request it sees.
func h3Recorder() (http.Handler, chan h3Seen) {
	seen := make(chan h3Seen, 8)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- h3Observe(r)
		_, _ = io.WriteString(w, "ok")
	}), seen
}

func h3Next(t testing.TB, seen chan h3Seen) h3Seen {
	t.Helper()
	select {
	case s := <-seen:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("handler was not called")
		return h3Seen{}
	}
}

func TestH3Server_ZeroRTT(t *testing.T) {
	h, seen := h3Recorder()
	sv := h3TestServe(t, HTTP3Config{}, h, h3Hooks{})
	client := newH3EarlyClient(t, sv)
	client.prime(t)
	h3Next(t, seen)

	conn, cc, relay := client.dialEarly(t)
	get := h3Send(t, cc, http.MethodGet)
	post := h3Send(t, cc, http.MethodPost)
	// Both requests are handled while the relay holds the handshake.
	got := h3Next(t, seen)
	h3WaitFor(t, "the POST to be refused", func() bool { return sv.Stats().TooEarly == 1 })
	relay.release()

	if got.method != http.MethodGet || got.earlyData != "1" || got.handshakeComplete {
		t.Errorf("handler saw %s Early-Data %q handshake complete %v, want GET \"1\" false",
			got.method, got.earlyData, got.handshakeComplete)
	}
	if r := h3Read(t, get); r.StatusCode != http.StatusOK || r.body != "ok" {
		t.Errorf("0-RTT GET = %d %q, want 200 ok", r.StatusCode, r.body)
	}
	r := h3Read(t, post)
	if r.StatusCode != http.StatusTooEarly || r.Header.Get("Content-Type") != "application/problem+json" ||
		!bytes.Contains([]byte(r.body), []byte(`"status":425`)) {
		t.Errorf("0-RTT POST = %d %q %s, want 425 application/problem+json with status 425",
			r.StatusCode, r.Header.Get("Content-Type"), r.body)
	}
	var doc struct{ Type, Title, Detail string }
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil || doc.Type != problem.TooEarly.URI() ||
		doc.Title != problem.TooEarly.Title() || doc.Detail != problem.TooEarly.Detail() ||
		r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("0-RTT POST = Cache-Control %q body %s (%v), want no-store and the too-early problem",
			r.Header.Get("Cache-Control"), r.body, err)
	}
	<-conn.HandshakeComplete()
	if cs := conn.ConnectionState(); !cs.Used0RTT || !cs.TLS.DidResume {
		t.Errorf("client Used0RTT %v DidResume %v, want true true", cs.Used0RTT, cs.TLS.DidResume)
	}
	select {
	case s := <-seen:
		t.Errorf("handler was called for %s, want only the GET", s.method)
	default:
	}
	if st := sv.Stats(); st.EarlyData != 1 || st.TooEarly != 1 {
		t.Errorf("Stats() = %+v, want EarlyData 1 TooEarly 1", st)
	}

	// After the handshake, the same connection serves a POST normally.
	if r := h3RoundTrip(t, cc, http.MethodPost); r.StatusCode != http.StatusOK {
		t.Errorf("POST after the handshake = %d, want 200", r.StatusCode)
	}
	if s := h3Next(t, seen); s.method != http.MethodPost || s.earlyData != "" || !s.handshakeComplete {
		t.Errorf("handler saw %s Early-Data %q handshake complete %v, want POST \"\" true", s.method, s.earlyData, s.handshakeComplete)
	}
}

func TestH3Server_Disable0RTT(t *testing.T) {
	h, seen := h3Recorder()
	sv := h3TestServe(t, HTTP3Config{Disable0RTT: true}, h, h3Hooks{})
	client := newH3EarlyClient(t, sv)
	client.prime(t)
	h3Next(t, seen)

	// The resumed connection may not use 0-RTT: DialEarly waits for the
	// handshake, so it goes directly to the server.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := client.tr.DialEarly(ctx, sv.addr, client.tlsConf, &quic.Config{})
	if err != nil {
		t.Fatalf("DialEarly: %v", err)
	}
	defer conn.CloseWithError(0, "")
	cc := (&http3.Transport{}).NewClientConn(conn)
	for _, method := range []string{http3.MethodGet0RTT, http.MethodPost} {
		if r := h3RoundTrip(t, cc, method); r.StatusCode != http.StatusOK {
			t.Errorf("%s on resumed connection = %d, want 200", method, r.StatusCode)
		}
		if s := h3Next(t, seen); s.earlyData != "" || !s.handshakeComplete {
			t.Errorf("handler saw %s Early-Data %q handshake complete %v, want \"\" true", s.method, s.earlyData, s.handshakeComplete)
		}
	}
	if cs := conn.ConnectionState(); cs.Used0RTT || !cs.TLS.DidResume {
		t.Errorf("client Used0RTT %v DidResume %v, want false true", cs.Used0RTT, cs.TLS.DidResume)
	}
	if st := sv.Stats(); st.EarlyData != 0 || st.TooEarly != 0 {
		t.Errorf("Stats() = %+v, want no early data", st)
	}
}

func TestH3SafeMethod(t *testing.T) {
	for _, tt := range []struct {
		method string
		want   bool
	}{
		{"GET", true}, {"HEAD", true}, {"OPTIONS", true}, {"TRACE", true},
		{"POST", false}, {"PUT", false}, {"DELETE", false}, {"PATCH", false}, {"CONNECT", false}, {"get", false},
	} {
		if got := h3SafeMethod(tt.method); got != tt.want {
			t.Errorf("h3SafeMethod(%q) = %v, want %v", tt.method, got, tt.want)
		}
	}
}
