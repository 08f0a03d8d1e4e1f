package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Defaults applied by NewStreamListener to zero StreamConfig fields.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultMaxHandshakes    = 64
	DefaultRefusalLogEvery  = 10 * time.Minute
)

// StreamConfig configures a StreamListener: a non-HTTP protocol (Raft)
// carried over the same mutual TLS as the peer listener.
type StreamConfig struct {
	// Proto is the one ALPN protocol the stream speaks ("portico-raft").
	// A client must offer it: a peer HTTP client, or a stream client of
	// another protocol, fails the handshake. Required.
	Proto string
	// Name names the stream in log lines ("raft"). (Optional) Defaults to
	// Proto.
	Name string
	// HandshakeTimeout bounds each handshake. (Optional) Defaults to 10s.
	HandshakeTimeout time.Duration
	// MaxHandshakes caps handshakes in progress; connections beyond it
	// are closed at once. (Optional) Defaults to 64.
	MaxHandshakes int
	// Logger receives one warning per refused address per
	// RefusalLogEvery. (Optional) If nil, refusals are not logged.
	Logger *slog.Logger
	// RefusalLogEvery is how often refusals from one address are logged
	// at most. (Optional) Defaults to 10 minutes.
	RefusalLogEvery time.Duration
}

func (c StreamConfig) withDefaults() StreamConfig {
	if c.Name == "" {
		c.Name = c.Proto
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.MaxHandshakes <= 0 {
		c.MaxHandshakes = DefaultMaxHandshakes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RefusalLogEvery <= 0 {
		c.RefusalLogEvery = DefaultRefusalLogEvery
	}
	return c
}

// StreamListener is a net.Listener whose Accept returns only connections
// that completed the mutual TLS handshake (a certificate from a cluster
// key, ALPN Proto): a connection without one never reaches the caller.
// Handshakes run on their own goroutines, so a slow or silent client
// holds up no one. Close stops them all and returns when they are done,
// and closes every connection it accepted that is still open: a server
// (hashicorp/raft's NetworkTransport) that reads until its peer hangs up
// would otherwise keep a goroutine per connection for as long as the peer
// keeps it open.
type StreamListener struct {
	ln    net.Listener
	tls   *tls.Config
	cfg   StreamConfig
	conns chan net.Conn
	done  chan struct{}
	ctx   context.Context // cancelled by Close
	stop  context.CancelFunc
	slots chan struct{} // one per handshake in progress
	wg    sync.WaitGroup
	once  sync.Once

	mu     sync.Mutex
	open   map[*acceptedConn]struct{} // handed out by Accept, not closed yet; guarded by mu
	closed bool                       // guarded by mu

	refused *refusalLog
}

// acceptedConn is an accepted connection that leaves its listener's set
// when closed.
type acceptedConn struct {
	*tls.Conn
	l    *StreamListener
	once sync.Once
}

func (c *acceptedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.open, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// NewStreamListener starts accepting on ln (which it owns from now on:
// Close closes it) with c's credentials. cfg.Proto must not be empty.
func NewStreamListener(c *Credentials, ln net.Listener, cfg StreamConfig) (*StreamListener, error) {
	if cfg.Proto == "" {
		return nil, errors.New("peer: stream listener: an ALPN protocol is required")
	}
	cfg = cfg.withDefaults()
	l := &StreamListener{
		ln: ln, tls: c.streamServerTLS(cfg.Proto), cfg: cfg,
		conns: make(chan net.Conn), done: make(chan struct{}),
		slots:   make(chan struct{}, cfg.MaxHandshakes),
		open:    map[*acceptedConn]struct{}{},
		refused: newRefusalLog(cfg.Logger, cfg.Name, cfg.RefusalLogEvery),
	}
	l.ctx, l.stop = context.WithCancel(context.Background())
	l.wg.Go(l.acceptLoop)
	return l, nil
}

// Accept returns the next authenticated connection (wrapping a
// *tls.Conn), or net.ErrClosed after Close.
func (l *StreamListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, fmt.Errorf("peer: %s listener: %w", l.cfg.Name, net.ErrClosed)
	}
}

// Close stops accepting, aborts handshakes in progress and waits for
// them, then closes the accepted connections still open. It is
// idempotent.
func (l *StreamListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		l.stop()
		err = l.ln.Close()
		l.wg.Wait()
		l.mu.Lock()
		l.closed = true
		open := l.open
		l.open = nil
		l.mu.Unlock()
		for c := range open {
			_ = c.Conn.Close()
		}
	})
	return err
}

// Addr is the bound address.
func (l *StreamListener) Addr() net.Addr { return l.ln.Addr() }

func (l *StreamListener) acceptLoop() {
	backoff := 5 * time.Millisecond
	for {
		raw, err := l.ln.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as net/http does.
			select {
			case <-time.After(backoff):
			case <-l.done:
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		select {
		case l.slots <- struct{}{}:
			l.wg.Go(func() { l.handshake(raw) })
		default:
			_ = raw.Close() // too many handshakes at once
		}
	}
}

// handshake runs the server side of the handshake and hands the
// connection to Accept, or refuses it.
func (l *StreamListener) handshake(raw net.Conn) {
	defer func() { <-l.slots }()
	// Close cancels l.ctx, which aborts the handshake.
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.HandshakeTimeout)
	defer cancel()
	tc := tls.Server(raw, l.tls)
	err := tc.HandshakeContext(ctx)
	if err == nil && tc.ConnectionState().NegotiatedProtocol != l.cfg.Proto {
		err = fmt.Errorf("client did not offer ALPN %q", l.cfg.Proto)
	}
	if err != nil {
		l.logRefusal(raw.RemoteAddr(), err)
		_ = raw.Close()
		return
	}
	ac := &acceptedConn{Conn: tc, l: l}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = tc.Close()
		return
	}
	l.open[ac] = struct{}{}
	l.mu.Unlock()
	select {
	case l.conns <- ac:
	case <-l.done:
		_ = ac.Close()
	}
}

// logRefusal logs a refused connection once per host per RefusalLogEvery.
func (l *StreamListener) logRefusal(addr net.Addr, err error) {
	l.refused.log(addr.String(), err)
}

// DialStream dials addr and runs the client side of the mutual TLS
// handshake for proto, both bounded by ctx. The server must present a
// certificate from a trusted cluster key and agree on proto.
func (c *Credentials) DialStream(ctx context.Context, addr, proto string) (net.Conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	cfg := c.ClientTLS()
	cfg.NextProtos = []string{proto}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("peer: %s handshake with %s: %w", proto, addr, err)
	}
	if got := tc.ConnectionState().NegotiatedProtocol; got != proto {
		_ = raw.Close()
		return nil, fmt.Errorf("peer: %s handshake with %s: server agreed on %q", proto, addr, got)
	}
	return tc, nil
}

// streamServerTLS is ServerTLS with proto as the only ALPN protocol.
func (c *Credentials) streamServerTLS(proto string) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		NextProtos:             []string{proto},
		ClientAuth:             tls.RequireAndVerifyClientCert,
		SessionTicketsDisabled: true,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cfg := c.current().server.Clone()
			cfg.NextProtos = []string{proto}
			return cfg, nil
		},
	}
}
