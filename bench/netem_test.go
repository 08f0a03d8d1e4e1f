package bench

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testRTT is the round trip the emulator tests configure. They check
// lower bounds only: a busy machine may add to it, never take from it.
const testRTT = 40 * time.Millisecond

// udpEcho serves UDP echo on host:0 until the test ends and counts the
// datagrams it got.
func udpEcho(t *testing.T, host string) (addr string, got *atomic.Int64) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	got = new(atomic.Int64)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			got.Add(1)
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		wg.Wait()
	})
	return pc.LocalAddr().String(), got
}

// tcpEcho serves TCP echo on host:0 until the test ends, when it also
// closes the connections still open (a client behind a closed emulator
// can't say goodbye).
func tcpEcho(t *testing.T, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp4", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// udpRoundTrip sends one datagram from pc to addr and returns when its
// echo is back, with the time it took.
func udpRoundTrip(t *testing.T, pc net.PacketConn, addr string) time.Duration {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := pc.WriteTo([]byte("ping"), to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("echo = %q, %v; want ping", buf[:n], err)
	}
	return time.Since(start)
}

// tcpRoundTrip dials addr through p (timing the dial), then sends a line
// and reads its echo (timing that).
func tcpRoundTrip(t *testing.T, p wanPath, addr string) (dial, echo time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	c, err := p.dialTCP(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dial = time.Since(start)
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo = %q, %v; want ping", buf, err)
	}
	return dial, time.Since(start)
}

// needTUN skips a test unless the TUN emulator can run here.
func needTUN(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the TUN emulator needs root")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("no /dev/net/tun")
	}
}

func TestTUNNetem_DelaysBothWays(t *testing.T) {
	needTUN(t)
	n, err := startTUNNetem(netemConfig{rtt: testRTT, seed: 1})
	if err != nil {
		t.Fatalf("startTUNNetem: %v", err)
	}
	gwDev := n.gatewayTun.Name()
	defer func() {
		if err := n.close(); err != nil {
			t.Error(err)
		}
		if _, err := net.InterfaceByName(gwDev); err == nil {
			t.Errorf("device %s still exists after close", gwDev)
		}
	}()
	if n.kind() != emulationTUN {
		t.Errorf("kind = %q, want %q", n.kind(), emulationTUN)
	}
	addr, _ := udpEcho(t, n.gatewayHost())
	pc, err := n.listenUDP()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if got := udpRoundTrip(t, pc, addr); got < testRTT {
		t.Errorf("udp round trip through the emulator = %v, want ≥ %v", got, testRTT)
	}
	// The client lives in its own namespace: the gateway's address is
	// reached through the emulator only, so TCP's handshake takes the RTT.
	dial, echo := tcpRoundTrip(t, n, tcpEcho(t, n.gatewayHost()))
	if dial < testRTT || echo < testRTT {
		t.Errorf("tcp dial = %v, echo = %v; want both ≥ %v", dial, echo, testRTT)
	}
	if got := n.stats[toGateway].passed.Load(); got < 4 {
		t.Errorf("packets passed to the gateway = %d, want the datagram and TCP's (≥ 4)", got)
	}
}

func TestTUNNetem_LossAllPassesNothing(t *testing.T) {
	needTUN(t)
	n, err := startTUNNetem(netemConfig{rtt: testRTT, loss: 1, seed: 1})
	if err != nil {
		t.Fatalf("startTUNNetem: %v", err)
	}
	defer n.close()
	addr, got := udpEcho(t, n.gatewayHost())
	pc, err := n.listenUDP()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	to, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	const sent = 20
	for range sent {
		if _, err := pc.WriteTo([]byte("lost"), to); err != nil {
			t.Fatal(err)
		}
	}
	// Every datagram has reached the emulator once it has dropped them all.
	waitFor(t, 10*time.Second, "the emulator to drop every datagram", func() bool {
		return n.stats[toGateway].dropped.Load() >= sent
	})
	if p, g := n.stats[toGateway].passed.Load(), got.Load(); p != 0 || g != 0 {
		t.Errorf("with 100%% loss: %d passed, the server got %d; want none", p, g)
	}
}

func TestUserNetem_DelaysBothWays(t *testing.T) {
	u := newUserNetem(netemConfig{rtt: testRTT, seed: 1})
	if u.kind() != emulationUser || u.gatewayHost() != "127.0.0.1" {
		t.Errorf("kind, host = %q, %q; want %q on loopback", u.kind(), u.gatewayHost(), emulationUser)
	}
	addr, _ := udpEcho(t, u.gatewayHost())
	pc, err := u.listenUDP()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if got := udpRoundTrip(t, pc, addr); got < testRTT {
		t.Errorf("udp round trip = %v, want ≥ %v", got, testRTT)
	}
	dial, echo := tcpRoundTrip(t, u, tcpEcho(t, u.gatewayHost()))
	if dial < testRTT || echo < testRTT {
		t.Errorf("tcp dial = %v, echo = %v; want both ≥ %v (the handshake charged at dial)", dial, echo, testRTT)
	}
}

func TestUserNetem_LossAllPassesNothing(t *testing.T) {
	t.Parallel() // its dial waits two initial RTOs
	u := newUserNetem(netemConfig{rtt: testRTT, loss: 1, seed: 1})
	addr, got := udpEcho(t, u.gatewayHost())
	pc, err := u.listenUDP()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	to, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	const sent = 20
	for range sent {
		if _, err := pc.WriteTo([]byte("lost"), to); err != nil {
			t.Fatal(err)
		}
	}
	if d, p, g := u.stats[toGateway].dropped.Load(), u.stats[toGateway].passed.Load(), got.Load(); d != sent || p != 0 || g != 0 {
		t.Errorf("with 100%% loss: %d dropped, %d passed, the server got %d; want %d, 0, 0", d, p, g, sent)
	}
	// A TCP dial is charged the initial RTO for each lost handshake packet.
	start := time.Now()
	c, err := u.dialTCP(context.Background(), "tcp", tcpEcho(t, u.gatewayHost()))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if took := time.Since(start); took < 2*tcpInitialRTO {
		t.Errorf("dial with SYN and SYN-ACK lost took %v, want ≥ %v", took, 2*tcpInitialRTO)
	}
}

func TestDelayConn_ReadDeadline(t *testing.T) {
	u := newUserNetem(netemConfig{rtt: testRTT, seed: 1})
	c, err := u.dialTCP(context.Background(), "tcp", tcpEcho(t, "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Nothing was sent, so nothing comes: a past deadline ends the Read.
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 4))
		done <- err
	}()
	if err := c.SetReadDeadline(time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !os.IsTimeout(err) {
		t.Errorf("Read after a past deadline = %v, want a timeout", err)
	}
}
