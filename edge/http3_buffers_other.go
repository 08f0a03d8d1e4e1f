//go:build !unix

package edge

import (
	"errors"
	"net"
)

// h3SocketBuffers cannot inspect socket buffers on this platform.
func h3SocketBuffers(net.PacketConn) (recv, send int, err error) {
	return 0, 0, errors.New("inspecting socket buffers is not supported on this platform")
}
