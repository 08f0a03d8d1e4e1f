package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"go.uber.org/goleak"
)

func TestH3Server_ShutdownWaitsForInFlight(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	entered, proceed := make(chan struct{}), make(chan struct{})
	var proceedOnce sync.Once
	letFinish := func() { proceedOnce.Do(func() { close(proceed) }) }
	defer letFinish() // a failed test still frees the handler
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-proceed
		_, _ = io.WriteString(w, "finished")
	})
	cert, roots := h3TestCert(t)
	s, err := newH3Server(HTTP3Config{}, &tls.Config{Certificates: []tls.Certificate{cert}}, h, h3Hooks{}, nil)
	if err != nil {
		t.Fatalf("newH3Server: %v", err)
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve(pc) }()

	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}}
	defer tr.Close()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/slow", pc.LocalAddr().(*net.UDPAddr).Port))
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{string(b), err}
	}()
	<-entered

	shutdownErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdownErr <- s.Shutdown(ctx)
	}()
	h3WaitFor(t, "Alt-Svc to be withdrawn", func() bool { return s.AltSvc() == "" })
	select {
	case err := <-shutdownErr:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	letFinish()
	if res := <-done; res.err != nil || res.body != "finished" {
		t.Errorf("in-flight request = %q, %v; want %q, nil", res.body, res.err, "finished")
	}
	if err := <-shutdownErr; err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	if err := <-serveErr; err != nil {
		t.Errorf("Serve = %v, want nil after Shutdown", err)
	}
	if n := s.OpenConns(); n != 0 {
		t.Errorf("OpenConns() after Shutdown = %d, want 0", n)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown = %v, want nil", err)
	}
	if _, err := pc.WriteTo([]byte("x"), pc.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("socket write after Shutdown = %v, want net.ErrClosed", err)
	}
}

func TestH3Server_ShutdownExpiredClosesWithNoError(t *testing.T) {
	entered := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // ends when the connection is closed
	})
	sv := h3TestServe(t, HTTP3Config{}, h, h3Hooks{})
	client, _ := h3TestClient(t, sv, nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := client.Get(sv.url("/stuck"))
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		errc <- err
	}()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown(canceled ctx) = %v, want context.Canceled", err)
	}
	err := <-errc
	var h3err *http3.Error
	if !errors.As(err, &h3err) || h3err.ErrorCode != http3.ErrCodeNoError || !h3err.Remote {
		t.Errorf("client error = %v, want the connection closed by the server with H3_NO_ERROR", err)
	}
	sv.waitServe(t)
}

func TestH3Server_ShutdownBeforeServe(t *testing.T) {
	cert, _ := h3TestCert(t)
	s, err := newH3Server(HTTP3Config{}, &tls.Config{Certificates: []tls.Certificate{cert}}, http.NotFoundHandler(), h3Hooks{}, nil)
	if err != nil {
		t.Fatalf("newH3Server: %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown = %v, want nil", err)
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	if err := s.Serve(pc); err != nil {
		t.Errorf("Serve after Shutdown = %v, want nil", err)
	}
	if s.AltSvc() != "" {
		t.Errorf("AltSvc() = %q, want \"\"", s.AltSvc())
	}
}

func TestH3Server_ShutdownDuringHandshake(t *testing.T) {
	// The handshake idle timeout is far longer than the test's deadline:
	// Shutdown must not wait for a handshake that cannot complete.
	sv := h3TestServe(t, HTTP3Config{HandshakeIdleTimeout: time.Hour}, http.NotFoundHandler(), h3Hooks{})
	relay := newH3TestRelay(t, sv, true)
	ctx, cancel := context.WithCancel(context.Background())
	dialed := make(chan error, 1)
	go func() {
		_, err := newH3TestQUICTransport(t).Dial(ctx, relay.addr(), sv.tlsClientConfig(), &quic.Config{HandshakeIdleTimeout: time.Hour})
		dialed <- err
	}()
	defer func() {
		cancel()
		<-dialed
	}()
	h3WaitFor(t, "a handshake in flight", func() bool { return sv.handshakes.Load() == 1 })

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		done <- sv.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown waited for a stalled handshake")
	}
	sv.waitServe(t)
	h3WaitFor(t, "the handshake to be dropped", func() bool { return sv.handshakes.Load() == 0 })
}
