package node

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// listenPair binds TCP and UDP on the same port number of addr, as
// HTTP/3 wants (Alt-Svc names one port). With port 0 the system picks the
// TCP port and UDP takes the same number; when that is taken by someone
// else, both are released and tried again with another port.
func listenPair(addr string) (net.Listener, net.PacketConn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	tries := 1
	if port == "0" {
		tries = 20
	}
	for i := 0; ; i++ {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, err
		}
		p := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return ln, pc, nil
		}
		_ = ln.Close()
		if i+1 >= tries || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, fmt.Errorf("udp (HTTP/3) on port %d: %w", p, err)
		}
	}
}
