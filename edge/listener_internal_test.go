package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
)

func TestClientKey(t *testing.T) {
	tests := []struct {
		name string
		addr net.Addr
		want string
	}{
		{"IPv4", &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 1}, "192.0.2.7"},
		{"IPv4-mapped IPv6 is IPv4", &net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 1}, "192.0.2.7"},
		{"IPv6 by its /64", &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 1}, "2001:db8:1:2::"},
		{"QUIC (UDP)", &net.UDPAddr{IP: net.ParseIP("2001:db8:1:2::9"), Port: 1}, "2001:db8:1:2::"},
		{"not IP", &net.UnixAddr{Name: "/tmp/s", Net: "unix"}, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientKey(tt.addr).String(); got != tt.want {
				t.Errorf("clientKey(%v) = %s, want %s", tt.addr, got, tt.want)
			}
		})
	}
	if clientKey(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2::1")}) != netip.MustParseAddr("2001:db8:1:2::") {
		t.Error("two addresses of one /64 have different keys")
	}
}

func TestHandshakeFailure(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"deadline", context.DeadlineExceeded, hsTimeout},
		{"record header", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, hsNotTLS},
		{"eof", io.EOF, hsEOF},
		{"reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, hsEOF},
		{"untrusted", &net.OpError{Op: "remote error", Err: errors.New("tls: unknown certificate authority")}, hsBadCertificate},
		{"client alert", &net.OpError{Op: "remote error", Err: errors.New("tls: handshake failure")}, hsClientAlert},
		{"versions", errors.New("tls: client offered only unsupported versions: [302 301]"), hsProtocolVersion},
		{"ciphers", errors.New("tls: no cipher suite supported by both client and server; client offered: [a]"), hsNoSharedCipher},
		{"curves", errors.New("tls: no ECDHE curve supported by both client and server"), hsNoSharedCipher},
		{"other", fmt.Errorf("tls: something else"), hsOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := handshakeFailure(tt.err); got != tt.want {
				t.Errorf("handshakeFailure(%v) = %s, want %s", tt.err, got, tt.want)
			}
		})
	}
}
