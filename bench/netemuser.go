package bench

import (
	"context"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// TCP timers of the user-space model, Linux's: a lost SYN or SYN-ACK is
// sent again after the initial retransmission timeout (RFC 6298), a lost
// segment after the minimum one.
const (
	tcpInitialRTO = time.Second
	tcpMinRTO     = 200 * time.Millisecond
	tcpSegment    = 1448 // payload bytes of a full segment (MSS with timestamps)
)

// userNetem emulates the path in the clients' sockets, for when the TUN
// emulator can't run (not root, no /dev/net/tun, no namespaces). The
// gateway is reached on loopback and its kernel sees no loss, so this is
// a model, and the reports say so:
//   - UDP (QUIC): each datagram is dropped with the loss chance or held
//     rtt/2, on its way out and on its way in; QUIC recovers as it would.
//   - TCP: the dial is charged the handshake's round trip, plus the
//     initial RTO for each of SYN and SYN-ACK lost; then every chunk
//     written or read is held rtt/2, and a chunk with a lost segment
//     (each with the loss chance) waits the minimum RTO more and holds up
//     everything behind it, as TCP's in-order delivery does.
//
// Safe for concurrent use; the draws share one seeded generator.
type userNetem struct {
	cfg   netemConfig
	stats [2]netemStats // UDP datagrams by direction: toGateway, toClient
	mu    sync.Mutex
	rng   *rand.Rand
}

var _ wanPath = (*userNetem)(nil)

func newUserNetem(cfg netemConfig) *userNetem {
	return &userNetem{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.seed, 0))}
}

func (u *userNetem) gatewayHost() string { return "127.0.0.1" }
func (u *userNetem) kind() string        { return emulationUser }
func (u *userNetem) close() error        { return nil }

// lost draws whether any of n packets is lost.
func (u *userNetem) lost(n int) bool {
	if u.cfg.loss <= 0 {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	for range n {
		if u.rng.Float64() < u.cfg.loss {
			return true
		}
	}
	return false
}

// segments is how many TCP segments carry n bytes.
func segments(n int) int { return max(1, (n+tcpSegment-1)/tcpSegment) }

func (u *userNetem) dialTCP(ctx context.Context, _, addr string) (net.Conn, error) {
	start := time.Now()
	c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	charge := u.cfg.rtt
	for range 2 { // SYN, SYN-ACK
		if u.lost(1) {
			charge += tcpInitialRTO
		}
	}
	t := time.NewTimer(time.Until(start.Add(charge)))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
	return newDelayConn(c, u), nil
}

func (u *userNetem) listenUDP() (net.PacketConn, error) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	return newLossyPacketConn(pc, u), nil
}

// deadline is a settable read deadline that wakes the readers waiting on
// it when it changes.
type deadline struct {
	mu      sync.Mutex
	t       time.Time
	changed chan struct{}
}

func newDeadline() *deadline { return &deadline{changed: make(chan struct{})} }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.t = t
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *deadline) get() (time.Time, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.t, d.changed
}

// await waits for ready to yield, giving up at the deadline (or when it
// moves into the past) or when done is closed.
func await[T any](ready <-chan T, dl *deadline, done <-chan struct{}) (v T, ok bool, err error) {
	for {
		t, changed := dl.get()
		var expire <-chan time.Time
		var timer *time.Timer
		if !t.IsZero() {
			if !time.Now().Before(t) {
				return v, false, os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(time.Until(t))
			expire = timer.C
		}
		select {
		case v, ok = <-ready:
		case <-expire:
			err = os.ErrDeadlineExceeded
		case <-done:
			err = net.ErrClosed
		case <-changed:
			if timer != nil {
				timer.Stop()
			}
			continue
		}
		if timer != nil {
			timer.Stop()
		}
		return v, ok, err
	}
}

// after is a channel that yields once t has come.
func after(t time.Time) <-chan time.Time {
	if d := time.Until(t); d > 0 {
		return time.After(d)
	}
	c := make(chan time.Time, 1)
	c <- t
	return c
}

// chunk is bytes on their way, delivered at due; err ends the stream.
type chunk struct {
	b   []byte
	due time.Time
	err error
}

// delayConn is a TCP connection seen through userNetem: see there. Read
// and Write may be called concurrently, each by one goroutine at a time.
type delayConn struct {
	net.Conn
	u        *userNetem
	out, in  chan chunk
	done     chan struct{}
	closing  sync.Once
	wg       sync.WaitGroup
	writeErr atomic.Pointer[error]
	dl       *deadline

	mu      sync.Mutex // guards lastOut
	lastOut time.Time
	cur     *chunk // the chunk Read is delivering; Read's alone
}

func newDelayConn(c net.Conn, u *userNetem) *delayConn {
	d := &delayConn{Conn: c, u: u, out: make(chan chunk, 256), in: make(chan chunk, 256), done: make(chan struct{}), dl: newDeadline()}
	d.wg.Add(2)
	go d.sendDelayed()
	go d.receiveDelayed()
	return d
}

// due is when a chunk of n bytes sent now after one due at last arrives.
func (d *delayConn) due(n int, last time.Time) time.Time {
	t := time.Now().Add(d.u.cfg.rtt / 2)
	if d.u.lost(segments(n)) {
		t = t.Add(tcpMinRTO)
	}
	if t.Before(last) {
		return last
	}
	return t
}

func (d *delayConn) Write(p []byte) (int, error) {
	if e := d.writeErr.Load(); e != nil {
		return 0, *e
	}
	d.mu.Lock()
	c := chunk{b: append([]byte(nil), p...), due: d.due(len(p), d.lastOut)}
	d.lastOut = c.due
	d.mu.Unlock()
	select {
	case d.out <- c:
		return len(p), nil
	case <-d.done:
		return 0, net.ErrClosed
	}
}

// sendDelayed writes each chunk to the connection at its due time.
func (d *delayConn) sendDelayed() {
	defer d.wg.Done()
	for {
		select {
		case c := <-d.out:
			select {
			case <-after(c.due):
			case <-d.done:
				return
			}
			if _, err := d.Conn.Write(c.b); err != nil {
				d.writeErr.Store(&err)
				return
			}
		case <-d.done:
			return
		}
	}
}

// receiveDelayed reads the connection and queues what it gets, due rtt/2
// later (more after a loss), until the connection ends.
func (d *delayConn) receiveDelayed() {
	defer d.wg.Done()
	buf := make([]byte, 32<<10)
	var last time.Time
	for {
		n, err := d.Conn.Read(buf)
		c := chunk{err: err}
		if n > 0 {
			c.b = append([]byte(nil), buf[:n]...)
		}
		c.due = d.due(n, last)
		last = c.due
		select {
		case d.in <- c:
		case <-d.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func (d *delayConn) Read(p []byte) (int, error) {
	if d.cur == nil {
		c, _, err := await(d.in, d.dl, d.done)
		if err != nil {
			return 0, err
		}
		d.cur = &c
	}
	if _, _, err := await(after(d.cur.due), d.dl, d.done); err != nil {
		return 0, err
	}
	n := copy(p, d.cur.b)
	d.cur.b = d.cur.b[n:]
	if n == 0 && d.cur.err != nil {
		return 0, d.cur.err // kept: every later Read sees it too
	}
	if len(d.cur.b) == 0 && d.cur.err == nil {
		d.cur = nil
	}
	return n, nil
}

func (d *delayConn) SetDeadline(t time.Time) error {
	d.dl.set(t)
	return d.Conn.SetWriteDeadline(t)
}

func (d *delayConn) SetReadDeadline(t time.Time) error {
	d.dl.set(t)
	return nil
}

// Close closes the connection and waits for its two goroutines.
func (d *delayConn) Close() error {
	var err error
	d.closing.Do(func() {
		close(d.done)
		err = d.Conn.Close()
		d.wg.Wait()
	})
	return err
}

// datagram is a packet on its way, delivered at due.
type datagram struct {
	b    []byte
	addr net.Addr
	due  time.Time
}

// lossyPacketConn is a UDP socket seen through userNetem: see there.
type lossyPacketConn struct {
	net.PacketConn
	u       *userNetem
	out, in chan datagram
	done    chan struct{}
	closing sync.Once
	wg      sync.WaitGroup
	dl      *deadline
	cur     *datagram // ReadFrom's alone
}

func newLossyPacketConn(pc net.PacketConn, u *userNetem) *lossyPacketConn {
	l := &lossyPacketConn{PacketConn: pc, u: u, out: make(chan datagram, packetQueueLen), in: make(chan datagram, packetQueueLen), done: make(chan struct{}), dl: newDeadline()}
	l.wg.Add(2)
	go l.sendDelayed()
	go l.receiveDelayed()
	return l
}

// WriteTo drops p with the loss chance, or queues it to be sent rtt/2
// later (dropped too when the queue is full, as by a router).
func (l *lossyPacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	select {
	case <-l.done:
		return 0, net.ErrClosed
	default:
	}
	st := &l.u.stats[toGateway]
	if l.u.lost(1) {
		st.dropped.Add(1)
		return len(p), nil
	}
	select {
	case l.out <- datagram{b: append([]byte(nil), p...), addr: addr, due: time.Now().Add(l.u.cfg.rtt / 2)}:
	default:
		st.overflow.Add(1)
	}
	return len(p), nil
}

func (l *lossyPacketConn) sendDelayed() {
	defer l.wg.Done()
	for {
		select {
		case d := <-l.out:
			select {
			case <-after(d.due):
			case <-l.done:
				return
			}
			if _, err := l.PacketConn.WriteTo(d.b, d.addr); err == nil { // a failed send is a lost packet
				l.u.stats[toGateway].passed.Add(1)
			}
		case <-l.done:
			return
		}
	}
}

func (l *lossyPacketConn) receiveDelayed() {
	defer l.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, addr, err := l.PacketConn.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		st := &l.u.stats[toClient]
		if l.u.lost(1) {
			st.dropped.Add(1)
			continue
		}
		select {
		case l.in <- datagram{b: append([]byte(nil), buf[:n]...), addr: addr, due: time.Now().Add(l.u.cfg.rtt / 2)}:
			st.passed.Add(1)
		case <-l.done:
			return
		default:
			st.overflow.Add(1)
		}
	}
}

func (l *lossyPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	if l.cur == nil {
		d, _, err := await(l.in, l.dl, l.done)
		if err != nil {
			return 0, nil, err
		}
		l.cur = &d
	}
	if _, _, err := await(after(l.cur.due), l.dl, l.done); err != nil {
		return 0, nil, err
	}
	d := l.cur
	l.cur = nil
	return copy(p, d.b), d.addr, nil
}

func (l *lossyPacketConn) SetDeadline(t time.Time) error {
	l.dl.set(t)
	return l.PacketConn.SetWriteDeadline(t)
}

func (l *lossyPacketConn) SetReadDeadline(t time.Time) error {
	l.dl.set(t)
	return nil
}

// Close closes the socket and waits for its two goroutines.
func (l *lossyPacketConn) Close() error {
	var err error
	l.closing.Do(func() {
		close(l.done)
		err = l.PacketConn.Close()
		l.wg.Wait()
	})
	return err
}
