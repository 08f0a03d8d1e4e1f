package edge

import (
	"net"
)

// h3WantBuffer is the UDP socket buffer size, as the kernel reports it,
// below which quic-go warns (its desiredBufferSize, 7 MiB): smaller
// buffers drop packets at high rates. On Linux getsockopt reports twice
// the value set, and the set value is capped at net.core.rmem_max /
// wmem_max unless the process may force it (CAP_NET_ADMIN).
const h3WantBuffer = 7 << 20

// h3BufferFix is the remedy that the warning names.
const h3BufferFix = "sysctl -w net.core.rmem_max=7500000 net.core.wmem_max=7500000"

// checkBuffers logs one warning if pc's receive or send buffer is
// smaller than quic-go wants. It runs after quic-go has tried to enlarge
// them (Transport init), so it reports what the socket really got.
//
// quic-go prints its own warning for the same condition with the
// standard log package, once per process, unless the environment has
// QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING=true. Library code must not set
// process environment, so edge leaves that to the binary's main.
func (s *h3Server) checkBuffers(pc net.PacketConn) {
	recv, send, err := s.bufferSizes(pc)
	if err != nil {
		s.log.Debug("cannot inspect udp buffer sizes", "error", err)
		return
	}
	if recv >= h3WantBuffer && send >= h3WantBuffer {
		return
	}
	s.log.Warn("udp socket buffers are smaller than http3 needs; packets may be dropped under load; fix with: "+h3BufferFix,
		"recv_bytes", recv, "send_bytes", send, "want_bytes", h3WantBuffer)
}
