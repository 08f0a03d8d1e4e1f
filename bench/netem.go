package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// netemConfig is the emulated network between the load generator and the
// gateway. Zero values mean a perfect link.
type netemConfig struct {
	// rtt is added to every round trip: each packet waits rtt/2 in each
	// direction.
	rtt time.Duration
	// loss is the chance (0 to 1) that a packet is dropped, drawn for each
	// packet, independently in each direction.
	loss float64
	// seed seeds the loss draws: direction d (0: client to gateway, 1: the
	// way back) draws from PCG(seed, d), so a run's losses repeat for the
	// same packet sequence.
	seed uint64
}

// wanPath is a network path with delay and losses between this process's
// clients and a gateway address of this machine. Its methods are safe
// for concurrent use.
type wanPath interface {
	// gatewayHost is the address a gateway must listen on to be reached
	// through the path.
	gatewayHost() string
	// dialTCP opens a TCP connection through the path.
	dialTCP(ctx context.Context, network, addr string) (net.Conn, error)
	// listenUDP opens a UDP socket whose datagrams take the path.
	listenUDP() (net.PacketConn, error)
	// kind names the emulation in the reports: emulationTUN or
	// emulationUser.
	kind() string
	// close releases the path; connections through it stop working.
	close() error
}

// Names of the two emulations in the reports.
const (
	emulationTUN  = "tun"
	emulationUser = "user-space"
)

// openWANPath emulates cfg with the TUN emulator when it can (root,
// /dev/net/tun, network namespaces), and otherwise in user space; note
// says why the TUN emulator was not used ("" when it was).
func openWANPath(cfg netemConfig) (p wanPath, note string) {
	tn, err := startTUNNetem(cfg)
	if err == nil {
		return tn, ""
	}
	return newUserNetem(cfg), "tun emulator unavailable (" + err.Error() + "): delays and losses modelled in the client's sockets"
}

// Directions of a packet through an emulator.
const (
	toGateway = 0
	toClient  = 1
)

// netemStats counts the packets of one direction. Safe for concurrent use.
type netemStats struct {
	passed, dropped, overflow atomic.Int64
}

// packetLine is one direction of the TUN emulator: a reader that drops
// packets at random and timestamps the others, and a writer that passes
// each on when its delay is over. The delay is the same for every packet,
// so a FIFO keeps them in their order.
type packetLine struct {
	from, to *os.File
	delay    time.Duration
	loss     float64
	rng      *rand.Rand // the reader's own: no lock
	queue    chan delayedPacket
	stats    *netemStats
	stop     chan struct{}
}

type delayedPacket struct {
	due time.Time
	b   []byte
}

// packetQueueLen bounds the packets in flight in one direction; more are
// dropped and counted as overflow (a router's full queue).
const packetQueueLen = 4096

// read moves packets from the source device into the queue until the
// device is closed. Only IPv4 packets pass: the kernel's own IPv6 chatter
// (router solicitations) has no business on the path.
func (l *packetLine) read() {
	defer close(l.queue)
	buf := make([]byte, 65535)
	for {
		n, err := l.from.Read(buf)
		if err != nil {
			return // closed
		}
		if n == 0 || buf[0]>>4 != 4 {
			continue
		}
		if l.loss > 0 && l.rng.Float64() < l.loss {
			l.stats.dropped.Add(1)
			continue
		}
		p := delayedPacket{due: time.Now().Add(l.delay), b: append([]byte(nil), buf[:n]...)}
		select {
		case l.queue <- p:
		default:
			l.stats.overflow.Add(1)
		}
	}
}

// write passes each queued packet on at its due time, until the queue is
// closed or stop.
func (l *packetLine) write() {
	// Stopped at once: since Go 1.23 a Reset after Stop never sees a stale
	// tick.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for p := range l.queue {
		if wait := time.Until(p.due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-l.stop:
				return
			}
		}
		if _, err := l.to.Write(p.b); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			continue // e.g. the device is down for a moment: the packet is lost
		}
		l.stats.passed.Add(1)
	}
}

// runLines starts both directions' goroutines under wg.
func runLines(wg *sync.WaitGroup, lines ...*packetLine) {
	for _, l := range lines {
		wg.Add(2)
		go func() {
			defer wg.Done()
			l.read()
		}()
		go func() {
			defer wg.Done()
			l.write()
		}()
	}
}

// newPacketLine is one direction of cfg from one device to the other.
func newPacketLine(cfg netemConfig, dir int, from, to *os.File, stats *netemStats, stop chan struct{}) *packetLine {
	return &packetLine{
		from: from, to: to, delay: cfg.rtt / 2, loss: cfg.loss,
		rng:   rand.New(rand.NewPCG(cfg.seed, uint64(dir))),
		queue: make(chan delayedPacket, packetQueueLen),
		stats: stats, stop: stop,
	}
}

// errNetemUnavailable says why the TUN emulator can't run here.
func errNetemUnavailable(why string) error {
	return fmt.Errorf("tun emulator: %s", why)
}
