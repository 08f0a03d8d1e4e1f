package peer_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gw/portico/cluster/peer"
)

const proto = "portico-test"

// lockedBuffer is a log sink for several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// streamEcho starts a StreamListener for c that echoes one line per
// accepted connection, closed at the end of the test.
func streamEcho(t *testing.T, c *peer.Credentials, cfg peer.StreamConfig) (*peer.StreamListener, *lockedBuffer) {
	t.Helper()
	raw, _ := listen(t)
	logs := &lockedBuffer{}
	cfg.Proto = proto
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	l, err := peer.NewStreamListener(c, raw, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				_, _ = io.Copy(conn, io.LimitReader(conn, 5))
			})
		}
	})
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		wg.Wait()
	})
	return l, logs
}

func dialStream(c *peer.Credentials, addr, p string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.DialStream(ctx, addr, p)
}

// TestStream_OnlyClusterMembersGetThrough: a client with the cluster key
// and the protocol gets an authenticated stream; another key, another
// protocol, no TLS at all, or a peer HTTP client, is refused in the
// handshake and never reaches Accept.
func TestStream_OnlyClusterMembersGetThrough(t *testing.T) {
	l, _ := streamEcho(t, creds(t, "a", key1), peer.StreamConfig{})
	addr := l.Addr().String()

	conn, err := dialStream(creds(t, "b", key1), addr, proto)
	if err != nil {
		t.Fatalf("DialStream with the cluster key: %v", err)
	}
	_, _ = conn.Write([]byte("hello"))
	got, _ := io.ReadAll(conn)
	conn.Close()
	if string(got) != "hello" {
		t.Errorf("echo = %q, want hello", got)
	}

	if c, err := dialStream(creds(t, "x", key2), addr, proto); err == nil {
		c.Close()
		t.Error("DialStream with another cluster's key succeeded")
	}
	if c, err := dialStream(creds(t, "b", key1), addr, "h2"); err == nil {
		c.Close()
		t.Error("DialStream for another protocol succeeded")
	}
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = raw.Write([]byte("plain text, not a handshake\n"))
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := raw.Read(make([]byte, 64)); err == nil && n > 0 {
		t.Errorf("a plain TCP client got %d bytes back", n)
	}
	raw.Close()
	if status, _, err := get(t, client(t, creds(t, "b", key1), peer.ClientConfig{}), "https://"+addr+"/"); err == nil {
		t.Errorf("a peer HTTP client got %d from the stream port", status)
	}
}

// TestStream_DialRefusesNonStreamServers: a stream client dialling the
// peer HTTP listener fails its handshake (ALPN), as it does against a
// server of another cluster.
func TestStream_DialRefusesNonStreamServers(t *testing.T) {
	s := serve(t, creds(t, "a", key1), peer.ServerConfig{})
	if c, err := dialStream(creds(t, "b", key1), strings.TrimPrefix(s.url, "https://"), proto); err == nil {
		c.Close()
		t.Error("DialStream to the peer HTTP listener succeeded")
	}
	other, _ := streamEcho(t, creds(t, "z", key2), peer.StreamConfig{})
	if c, err := dialStream(creds(t, "b", key1), other.Addr().String(), proto); err == nil {
		c.Close()
		t.Error("DialStream to another cluster's stream listener succeeded")
	}
}

// TestStream_RefusalsLoggedOncePerAddress: a client retrying without the
// key is logged once, not once per connection.
func TestStream_RefusalsLoggedOncePerAddress(t *testing.T) {
	l, logs := streamEcho(t, creds(t, "a", key1), peer.StreamConfig{Name: "test"})
	for range 5 {
		// Each dial's error comes once the server refused it (and logged
		// or not), so the count below is final.
		if c, err := dialStream(creds(t, "x", key2), l.Addr().String(), proto); err == nil {
			c.Close()
			t.Fatal("DialStream with another key succeeded")
		}
	}
	waitLog := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "refused a test connection") && time.Now().Before(waitLog) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), "refused a test connection"); n != 1 {
		t.Errorf("refusals logged %d times, want once:\n%s", n, logs.String())
	}
}

// TestStream_CloseAbortsHandshakes: a client that connects and says
// nothing holds a handshake open; Close aborts it instead of waiting out
// the handshake timeout.
func TestStream_CloseAbortsHandshakes(t *testing.T) {
	raw, _ := listen(t)
	l, err := peer.NewStreamListener(creds(t, "a", key1), raw, peer.StreamConfig{Proto: proto, HandshakeTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	silent, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// A member connecting after it gets through, so the silent client's
	// handshake (accepted first) is under way when Close comes.
	dialed := make(chan error, 1)
	go func() {
		c, err := dialStream(creds(t, "b", key1), l.Addr().String(), proto)
		if err == nil {
			c.Close()
		}
		dialed <- err
	}()
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if err := <-dialed; err != nil {
		t.Fatalf("DialStream: %v", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a silent client's handshake")
	}
	if _, err := l.Accept(); err == nil {
		t.Error("Accept after Close succeeded")
	}
}

// TestStream_CloseEndsAcceptedConns: Close closes the connections it
// accepted that are still open, so a server blocked reading from a peer
// that never hangs up (Raft's handler for a pooled connection) returns.
func TestStream_CloseEndsAcceptedConns(t *testing.T) {
	raw, _ := listen(t)
	l, err := peer.NewStreamListener(creds(t, "a", key1), raw, peer.StreamConfig{Proto: proto})
	if err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 1)
	accepted := make(chan struct{})
	go func() {
		conn, err := l.Accept()
		close(accepted)
		if err != nil {
			readErr <- err
			return
		}
		_, err = conn.Read(make([]byte, 1)) // the client never writes
		readErr <- err
	}()
	client, err := dialStream(creds(t, "b", key1), l.Addr().String(), proto)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	<-accepted
	// Close must end the server's read of the accepted connection.
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("the server's read returned no error after Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server's read of an accepted connection still blocks after Close")
	}
}
