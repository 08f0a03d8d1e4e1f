package edge

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/quic-go/qlog"
	"github.com/quic-go/quic-go/qlogwriter"
)

// h3RetrySpy is a client-side qlog trace that counts Retry packets the
// client accepted.
type h3RetrySpy struct{ retries atomic.Int32 }

func (s *h3RetrySpy) AddProducer() qlogwriter.Recorder { return s }
func (s *h3RetrySpy) Close() error                     { return nil }
func (s *h3RetrySpy) RecordEvent(ev qlogwriter.Event) {
	if p, ok := ev.(qlog.PacketReceived); ok && p.Header.PacketType == qlog.PacketTypeRetry {
		s.retries.Add(1)
	}
}

func (s *h3RetrySpy) quicConfig() *quic.Config {
	return &quic.Config{Tracer: func(context.Context, bool, quic.ConnectionID) qlogwriter.Trace { return s }}
}

func TestH3Server_RetryAlways(t *testing.T) {
	sv := h3TestServe(t, HTTP3Config{RetryAboveHandshakes: -1}, http.NotFoundHandler(), h3Hooks{})
	spy := &h3RetrySpy{}
	client, _ := h3TestClient(t, sv, spy.quicConfig())
	resp, _ := h3Get(t, client, sv.url("/"))
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET = %d, want 404", resp.StatusCode)
	}
	if n := spy.retries.Load(); n != 1 {
		t.Errorf("client received %d Retry packets, want 1", n)
	}
	// One per tokenless Initial packet: a large ClientHello takes two.
	if n := sv.Stats().Retries; n < 1 {
		t.Errorf("Stats().Retries = %d, want at least 1", n)
	}
}

func TestH3Server_RetryAboveHandshakes(t *testing.T) {
	cfg := HTTP3Config{RetryAboveHandshakes: 1, HandshakeIdleTimeout: time.Minute}
	sv := h3TestServe(t, cfg, http.NotFoundHandler(), h3Hooks{})

	// Two handshakes held in flight: the relays keep the server's
	// answers from their clients.
	var held []*h3TestRelay
	dialed := make(chan error, 2)
	for range 2 {
		r := newH3TestRelay(t, sv, true)
		held = append(held, r)
		ctr := newH3TestQUICTransport(t)
		go func() {
			conn, err := ctr.Dial(context.Background(), r.addr(), sv.tlsClientConfig(), &quic.Config{HandshakeIdleTimeout: time.Minute})
			if err == nil {
				_ = conn.CloseWithError(0, "")
			}
			dialed <- err
		}()
	}
	h3WaitFor(t, "2 handshakes in flight", func() bool { return sv.handshakes.Load() == 2 })

	spy := &h3RetrySpy{}
	client, _ := h3TestClient(t, sv, spy.quicConfig())
	h3Get(t, client, sv.url("/"))
	if n := spy.retries.Load(); n != 1 {
		t.Errorf("with 2 handshakes in flight, client received %d Retry packets, want 1", n)
	}

	for _, r := range held {
		r.release()
	}
	for range held {
		if err := <-dialed; err != nil {
			t.Errorf("held dial: %v", err)
		}
	}
	h3WaitFor(t, "no handshakes in flight", func() bool { return sv.handshakes.Load() == 0 })
	spy2 := &h3RetrySpy{}
	client2, _ := h3TestClient(t, sv, spy2.quicConfig())
	h3Get(t, client2, sv.url("/"))
	if n := spy2.retries.Load(); n != 0 {
		t.Errorf("with no handshakes in flight, client received %d Retry packets, want 0", n)
	}
	if n := sv.Stats().Retries; n < 1 {
		t.Errorf("Stats().Retries = %d, want at least 1", n)
	}
}

func TestH3Server_AdmitRefuses(t *testing.T) {
	var asked atomic.Int32
	hooks := h3Hooks{admit: func(remote net.Addr) (func(), string) {
		asked.Add(1)
		return nil, "too many connections"
	}}
	called := atomic.Bool{}
	sv := h3TestServe(t, HTTP3Config{}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called.Store(true) }), hooks)
	client, _ := h3TestClient(t, sv, nil)
	_, err := client.Get(sv.url("/"))
	if err == nil {
		t.Fatal("GET on a refused connection succeeded, want error")
	}
	var h3err *http3.Error
	if !errors.As(err, &h3err) || h3err.ErrorCode != http3.ErrCodeExcessiveLoad || !h3err.Remote {
		t.Errorf("GET error = %v, want remote H3_EXCESSIVE_LOAD", err)
	}
	if called.Load() {
		t.Error("handler was called on a refused connection")
	}
	// The client may retry on a second connection if its request had not
	// been sent when the first was closed.
	if n, refused := asked.Load(), sv.Stats().Refused; n < 1 || uint64(n) != refused {
		t.Errorf("admit called %d times, Stats().Refused = %d; want equal and at least 1", n, refused)
	}
	if n := sv.OpenConns(); n != 0 {
		t.Errorf("OpenConns() = %d, want 0", n)
	}
}

func TestH3Server_AdmitRelease(t *testing.T) {
	var live, releases, opened, closed atomic.Int32
	hooks := h3Hooks{
		admit: func(remote net.Addr) (func(), string) {
			if _, ok := remote.(*net.UDPAddr); !ok {
				t.Errorf("admit got remote %T, want *net.UDPAddr", remote)
			}
			live.Add(1)
			var once atomic.Bool
			return func() {
				if !once.CompareAndSwap(false, true) {
					t.Error("release called twice")
				}
				releases.Add(1)
				live.Add(-1)
			}, ""
		},
		connOpened: func() { opened.Add(1) },
		connClosed: func() { closed.Add(1) },
	}
	sv := h3TestServe(t, HTTP3Config{}, http.NotFoundHandler(), hooks)
	var transports []*http3.Transport
	for range 2 {
		client, tr := h3TestClient(t, sv, nil)
		transports = append(transports, tr)
		h3Get(t, client, sv.url("/"))
	}
	if n := live.Load(); n != 2 {
		t.Errorf("admitted live connections = %d, want 2", n)
	}
	if n := sv.OpenConns(); n != 2 {
		t.Errorf("OpenConns() = %d, want 2", n)
	}
	for _, tr := range transports {
		_ = tr.Close()
	}
	h3WaitFor(t, "connections to end", func() bool { return live.Load() == 0 && sv.OpenConns() == 0 && closed.Load() == 2 })
	if r, o := releases.Load(), opened.Load(); r != 2 || o != 2 {
		t.Errorf("releases = %d, connOpened = %d, want 2 and 2", r, o)
	}
}
