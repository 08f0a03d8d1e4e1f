//go:build unix

package edge

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// h3SocketBuffers returns pc's receive and send buffer sizes as the
// kernel reports them (SO_RCVBUF, SO_SNDBUF).
func h3SocketBuffers(pc net.PacketConn) (recv, send int, err error) {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return 0, 0, fmt.Errorf("packet conn %T has no socket", pc)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, 0, fmt.Errorf("get raw socket: %w", err)
	}
	var rerr, serr error
	cerr := raw.Control(func(fd uintptr) {
		recv, rerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		send, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
	})
	if err := errors.Join(cerr, rerr, serr); err != nil {
		return 0, 0, fmt.Errorf("read socket buffer sizes: %w", err)
	}
	return recv, send, nil
}
