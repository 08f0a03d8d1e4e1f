package peer_test

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gw/portico/cluster/peer"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Cluster keys for tests: any 16+ bytes do.
var (
	key1 = bytes.Repeat([]byte{1}, 32)
	key2 = bytes.Repeat([]byte{2}, 32)
)

// creds returns Credentials for node trusting keys, failing the test on
// error.
func creds(t testing.TB, node string, keys ...[]byte) *peer.Credentials {
	t.Helper()
	c, err := peer.NewCredentials(node, keys)
	if err != nil {
		t.Fatalf("NewCredentials(%q): %v", node, err)
	}
	return c
}

// countingListener counts accepted connections: the dials clients made.
type countingListener struct {
	net.Listener
	accepts atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepts.Add(1)
	}
	return c, err
}

// served is a peer.Server on a loopback listener.
type served struct {
	*peer.Server
	url string // https://127.0.0.1:port
	ln  *countingListener
}

// echo answers "<peer name> <proto>" and counts its calls.
func echo(calls *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.WriteString(w, peer.PeerName(r)+" "+r.Proto)
	})
}

// serve starts a peer.Server for c and cfg and shuts it down at the end of
// the test, checking that Serve then returns nil.
func serve(t testing.TB, c *peer.Credentials, cfg peer.ServerConfig) *served {
	t.Helper()
	raw, url := listen(t)
	ln := &countingListener{Listener: raw}
	s := peer.NewServer(c, cfg)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve = %v, want nil after Shutdown", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return &served{Server: s, url: url, ln: ln}
}

// listen opens a loopback listener and returns it with its https URL.
func listen(t testing.TB) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln, "https://" + ln.Addr().String()
}

// discardLog is a *log.Logger for net/http servers in tests.
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }

// client returns an http.Client over peer.NewTransport whose connections
// are closed at the end of the test.
func client(t testing.TB, c *peer.Credentials, cfg peer.ClientConfig) *http.Client {
	t.Helper()
	hc := &http.Client{Transport: peer.NewTransport(c, cfg)}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

// get sends GET url and returns the status and body.
func get(t testing.TB, hc *http.Client, url string) (int, string, error) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
