package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// tunNetem is the TUN emulator: the clients live in a network namespace
// of their own whose only way to the gateway is a TUN device this process
// reads. Each packet is held rtt/2 (or dropped), then written to a second
// TUN device in our own namespace, where the kernel delivers it to the
// gateway; the answers take the same way back. Both ends are the kernel's
// real TCP and UDP stacks, so TCP sees the delay and the losses as it
// would on a real path (retransmission timers, congestion window).
//
// The namespace is anonymous (unshare on a locked thread; only our file
// descriptors keep it alive) and the devices are not persistent, so the
// kernel removes everything when we close them or die, even on SIGKILL:
// nothing to clean up by name. The addresses come from 198.18.0.0/15,
// the range RFC 2544 sets aside for benchmarks; the gateway side's is a
// local address of this machine, reachable only from here.
type tunNetem struct {
	rootNS, clientNS int // namespace fds
	clientTun        *os.File
	gatewayTun       *os.File
	clientIP         net.IP
	gatewayIP        net.IP
	stats            [2]netemStats // by direction: toGateway, toClient
	stop             chan struct{}
	wg               sync.WaitGroup
	closeOnce        sync.Once
}

var _ wanPath = (*tunNetem)(nil)

// startTUNNetem sets the emulator up and starts forwarding. It fails
// without root, without /dev/net/tun, or when namespaces are refused
// (a container without CAP_SYS_ADMIN).
func startTUNNetem(cfg netemConfig) (*tunNetem, error) {
	if os.Geteuid() != 0 {
		return nil, errNetemUnavailable("needs root")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return nil, errNetemUnavailable("no /dev/net/tun")
	}
	gw, cl, err := freeBenchSubnet()
	if err != nil {
		return nil, err
	}
	n := &tunNetem{rootNS: -1, clientNS: -1, gatewayIP: gw, clientIP: cl, stop: make(chan struct{})}
	if err := onLockedThread(n.setUp); err != nil {
		n.closeFiles()
		return nil, err
	}
	lines := []*packetLine{
		newPacketLine(cfg, toGateway, n.clientTun, n.gatewayTun, &n.stats[toGateway], n.stop),
		newPacketLine(cfg, toClient, n.gatewayTun, n.clientTun, &n.stats[toClient], n.stop),
	}
	runLines(&n.wg, lines...)
	return n, nil
}

// freeBenchSubnet picks 198.18.N.1 (gateway) and 198.18.N.2 (client)
// with N from our pid, skipping any N whose addresses this machine
// already has (another run, or a real network).
func freeBenchSubnet() (gw, client net.IP, err error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, nil, errNetemUnavailable("listing addresses: " + err.Error())
	}
	taken := map[string]bool{}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			taken[ipn.IP.String()] = true
		}
	}
	start := os.Getpid() % 250
	for i := range 250 {
		n := byte(1 + (start+i)%250)
		gw, client = net.IPv4(198, 18, n, 1).To4(), net.IPv4(198, 18, n, 2).To4()
		if !taken[gw.String()] && !taken[client.String()] {
			return gw, client, nil
		}
	}
	return nil, nil, errNetemUnavailable("no free 198.18.N.0/30")
}

// setUp runs on a locked thread: it makes the gateway's device in our
// namespace, then a new namespace with the client's device, and returns
// to our namespace. It reports whether the thread is back in it: a thread
// left in the client namespace must die with its goroutine.
func (n *tunNetem) setUp() (back bool, err error) {
	if n.rootNS, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return true, errNetemUnavailable("opening our namespace: " + err.Error())
	}
	if n.gatewayTun, err = openTUN("ptcbg%d", n.gatewayIP, n.clientIP); err != nil {
		return true, err
	}
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return true, errNetemUnavailable("creating a network namespace: " + err.Error())
	}
	if n.clientNS, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		err = errNetemUnavailable("opening the client namespace: " + err.Error())
	} else {
		n.clientTun, err = openTUN("ptcbc%d", n.clientIP, n.gatewayIP)
	}
	if unix.Setns(n.rootNS, unix.CLONE_NEWNET) != nil {
		return false, errNetemUnavailable("could not return to our namespace")
	}
	return true, err
}

// onLockedThread runs fn on an OS thread of its own, which it may move to
// another namespace: fn says whether the thread is back in ours, and if
// not the thread ends with fn's goroutine instead of serving others.
func onLockedThread(fn func() (back bool, err error)) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		back, err := fn()
		if back {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// inClientNS runs fn with the calling thread in the client namespace:
// sockets fn opens live there for good, whatever thread uses them later.
func (n *tunNetem) inClientNS(fn func()) error {
	return onLockedThread(func() (bool, error) {
		if err := unix.Setns(n.clientNS, unix.CLONE_NEWNET); err != nil {
			return true, fmt.Errorf("entering the client namespace: %w", err)
		}
		fn()
		return unix.Setns(n.rootNS, unix.CLONE_NEWNET) == nil, nil
	})
}

// openTUN makes a non-persistent TUN device (no packet information
// header) named after pattern ("%d" is the kernel's number) in the
// calling thread's namespace, gives it the point-to-point addresses local
// and peer (the kernel then routes peer through it), and brings it up.
// The file is non-blocking, so the runtime's poller serves its reads and
// Close interrupts them.
func openTUN(pattern string, local, peer net.IP) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, errNetemUnavailable("opening /dev/net/tun: " + err.Error())
	}
	ifr, err := unix.NewIfreq(pattern)
	if err == nil {
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	if err == nil {
		err = configurePointToPoint(ifr.Name(), local, peer)
	}
	if err != nil {
		unix.Close(fd)
		return nil, errNetemUnavailable("creating tun device: " + err.Error())
	}
	return os.NewFile(uintptr(fd), ifr.Name()), nil
}

// configurePointToPoint sets the device's address, peer and /32 mask and
// brings it up, with the classic ioctls (no netlink, no ip(8)).
func configurePointToPoint(name string, local, peer net.IP) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening a control socket: %w", err)
	}
	defer unix.Close(s)
	for _, step := range []struct {
		req  uint
		addr net.IP
	}{
		{unix.SIOCSIFADDR, local},
		{unix.SIOCSIFDSTADDR, peer},
		{unix.SIOCSIFNETMASK, net.IPv4(255, 255, 255, 255)},
	} {
		ifr, err := unix.NewIfreq(name)
		if err == nil {
			err = ifr.SetInet4Addr(step.addr.To4())
		}
		if err == nil {
			err = unix.IoctlIfreq(s, step.req, ifr)
		}
		if err != nil {
			return fmt.Errorf("configuring %s: %w", name, err)
		}
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading flags of %s: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing %s up: %w", name, err)
	}
	return nil
}

func (n *tunNetem) gatewayHost() string { return n.gatewayIP.String() }
func (n *tunNetem) kind() string        { return emulationTUN }

// dialTCP dials from the client namespace: the connection's packets take
// the emulated path both ways.
func (n *tunNetem) dialTCP(ctx context.Context, _, addr string) (net.Conn, error) {
	var (
		c   net.Conn
		err error
	)
	if nsErr := n.inClientNS(func() {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: n.clientIP}}
		c, err = d.DialContext(ctx, "tcp4", addr)
	}); nsErr != nil {
		return nil, nsErr
	}
	return c, err
}

// listenUDP opens a UDP socket in the client namespace.
func (n *tunNetem) listenUDP() (net.PacketConn, error) {
	var (
		c   net.PacketConn
		err error
	)
	if nsErr := n.inClientNS(func() {
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: n.clientIP})
	}); nsErr != nil {
		return nil, nsErr
	}
	return c, err
}

// close stops forwarding and releases the devices and the namespace. Safe
// to call more than once.
func (n *tunNetem) close() error {
	n.closeOnce.Do(func() {
		close(n.stop)
		n.closeFiles()
		n.wg.Wait()
	})
	return nil
}

// closeFiles closes what setUp opened; the kernel then removes the
// devices, and the namespace once no socket in it is open.
func (n *tunNetem) closeFiles() {
	for _, f := range []*os.File{n.clientTun, n.gatewayTun} {
		if f != nil {
			_ = f.Close()
		}
	}
	for _, fd := range []int{n.clientNS, n.rootNS} {
		if fd >= 0 {
			_ = unix.Close(fd)
		}
	}
	n.clientNS, n.rootNS = -1, -1
}
