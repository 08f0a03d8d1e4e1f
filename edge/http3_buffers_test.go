package edge

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestH3Server_BufferWarning(t *testing.T) {
	tests := []struct {
		name       string
		recv, send int
		err        error
		wantWarn   bool
	}{
		{name: "both small", recv: 212992, send: 212992, wantWarn: true},
		{name: "send small", recv: 16 << 20, send: 212992, wantWarn: true},
		{name: "large enough", recv: 7 << 20, send: 8 << 20},
		{name: "cannot inspect", err: errors.New("no socket")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs h3LogBuffer
			sv := h3TestServe(t, HTTP3Config{}, http.NotFoundHandler(), h3Hooks{}, func(s *h3Server) {
				s.log = slog.New(slog.NewTextHandler(&logs, nil))
				s.bufferSizes = func(net.PacketConn) (int, int, error) { return tt.recv, tt.send, tt.err }
			})
			client, _ := h3TestClient(t, sv, nil)
			h3Get(t, client, sv.url("/")) // Serve checked the buffers before accepting this
			got := strings.Count(logs.String(), "sysctl -w net.core.rmem_max=7500000 net.core.wmem_max=7500000")
			if want := map[bool]int{true: 1, false: 0}[tt.wantWarn]; got != want {
				t.Errorf("buffer warnings logged = %d, want %d; log:\n%s", got, want, logs.String())
			}
			if tt.wantWarn && !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("warning not at WARN level; log:\n%s", logs.String())
			}
		})
	}
}

func TestH3SocketBuffers(t *testing.T) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	defer pc.Close()
	recv, send, err := h3SocketBuffers(pc)
	if err != nil {
		t.Skipf("platform cannot inspect buffers: %v", err)
	}
	if recv <= 0 || send <= 0 {
		t.Errorf("h3SocketBuffers = %d, %d, want positive sizes", recv, send)
	}
}
