package edge

import (
	"context"
	"net"
	"sync"
	"sync/atomic"

	"github.com/quic-go/quic-go"
)

// Handshakes in flight are counted from the moment quic-go creates a
// connection for a client's first Initial packet (Transport.ConnContext,
// which runs after VerifySourceAddress let it through) until the
// handshake completes or the attempt dies (its context ends). Counting
// there, rather than at Accept, also sees attempts that never get far
// enough to be accepted: exactly the ones a flood of spoofed Initials
// creates.

// h3HandshakeKey is the context key under which connContext stores a
// connection's *h3Handshake.
type h3HandshakeKey struct{}

// h3Handshake is one handshake in flight; done takes it off the count
// once, whichever of completion or failure comes first.
type h3Handshake struct {
	once     sync.Once
	inFlight *atomic.Int64
}

func (h *h3Handshake) done() {
	h.once.Do(func() { h.inFlight.Add(-1) })
}

// connContext is the Transport's ConnContext: it counts a new handshake
// and arranges for it to be uncounted if the attempt fails. It runs on
// quic-go's packet-handling goroutine, like verifySourceAddress.
func (s *h3Server) connContext(ctx context.Context, _ *quic.ClientInfo) (context.Context, error) {
	h := &h3Handshake{inFlight: &s.handshakes}
	s.handshakes.Add(1)
	// quic-go cancels ctx when the connection closes or its handshake
	// fails; a completed handshake is uncounted by awaitHandshake.
	context.AfterFunc(ctx, h.done)
	return context.WithValue(ctx, h3HandshakeKey{}, h), nil
}

// verifySourceAddress is the Transport's VerifySourceAddress: it asks a
// client without an address-validation token for a Retry while more than
// RetryAboveHandshakes handshakes are in flight, or always if that is
// negative. quic-go calls it only for Initial packets without a valid
// token, so a client that has answered a Retry passes.
func (s *h3Server) verifySourceAddress(net.Addr) bool {
	limit := s.cfg.RetryAboveHandshakes
	if limit >= 0 && s.handshakes.Load() <= int64(limit) {
		return false
	}
	s.stats.retries.Add(1)
	return true
}

// awaitHandshake decides when an accepted (early) connection may be
// admitted. A 0-RTT connection may carry requests already, so it goes on
// at once, and a watcher uncounts its handshake when that completes. Any
// other connection cannot send a request before its handshake completes,
// so it waits for that here (and is admitted with a validated address);
// it reports false if the connection died or Shutdown started first.
func (s *h3Server) awaitHandshake(conn *quic.Conn) bool {
	h, _ := conn.Context().Value(h3HandshakeKey{}).(*h3Handshake)
	if h == nil { // not created through connContext: nothing to count
		h = &h3Handshake{inFlight: new(atomic.Int64)}
	}
	// The server knows whether it accepted 0-RTT once it has processed
	// the ClientHello, which is before quic-go hands out the connection.
	if conn.ConnectionState().Used0RTT {
		s.conns.Add(1)
		go s.watchHandshake(conn, h)
		return true
	}
	select {
	case <-conn.HandshakeComplete():
		h.done()
		return true
	case <-conn.Context().Done():
		h.done()
		return false
	case <-s.quit: // don't let a slow handshake hold up Shutdown
		h.done()
		return false
	}
}

// watchHandshake uncounts h when conn's handshake completes or conn ends.
func (s *h3Server) watchHandshake(conn *quic.Conn, h *h3Handshake) {
	defer s.conns.Done()
	select {
	case <-conn.HandshakeComplete():
	case <-conn.Context().Done():
	}
	h.done()
}
