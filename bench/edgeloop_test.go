package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// edgeServer is an in-test gateway over TLS: HTTP/1.1 and HTTP/2 on TCP,
// HTTP/3 with 0-RTT on UDP, on the same port of 127.0.0.1. It answers
// 1 KiB to every GET and records each request's protocol and client
// address.
type edgeServer struct {
	addr  string
	certs *certFiles

	mu     sync.Mutex
	protos map[string]int  // r.Proto → requests
	peers  map[string]bool // r.RemoteAddr seen
}

func startEdgeServer(t *testing.T) *edgeServer {
	t.Helper()
	certs, err := writeCerts(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certs.cert, certs.key)
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{pair}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	s := &edgeServer{addr: ln.Addr().String(), certs: certs, protos: map[string]int{}, peers: map[string]bool{}}
	body := make([]byte, 1024)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.protos[r.Proto]++
		s.peers[r.RemoteAddr] = true
		s.mu.Unlock()
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
	hs := &http.Server{Handler: h, TLSConfig: conf.Clone()}
	h3 := &http3.Server{Handler: h, TLSConfig: http3.ConfigureTLSConfig(conf.Clone()), QUICConfig: &quic.Config{Allow0RTT: true}}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = hs.ServeTLS(ln, "", "")
	}()
	go func() {
		defer wg.Done()
		_ = h3.Serve(pc)
	}()
	t.Cleanup(func() {
		_ = hs.Close()
		_ = h3.Close()
		_ = pc.Close()
		wg.Wait()
	})
	return s
}

// seen returns the protocols the server saw and how many client
// addresses, and forgets them.
func (s *edgeServer) seen() (map[string]int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	protos, peers := s.protos, len(s.peers)
	s.protos, s.peers = map[string]int{}, map[string]bool{}
	return protos, peers
}

func TestEdgeLoop_Protocols(t *testing.T) {
	srv := startEdgeServer(t)
	tests := []struct {
		proto     Protocol
		wantProto string
		conns     int // for 16 requests in flight
	}{
		{ProtoH1, "HTTP/1.1", 16},
		{ProtoH2, "HTTP/2.0", edgeMuxConns},
		{ProtoH3, "HTTP/3.0", edgeMuxConns},
	}
	for _, tt := range tests {
		t.Run(string(tt.proto), func(t *testing.T) {
			conns, streams := edgeShape(tt.proto, 16)
			if conns != tt.conns || conns*streams != 16 {
				t.Fatalf("edgeShape(%s, 16) = %d × %d, want %d connections, 16 in flight", tt.proto, conns, streams, tt.conns)
			}
			pool := newEdgePool(&edgeDialer{proto: tt.proto, addr: srv.addr, tls: srv.certs.clientTLS()}, conns)
			defer pool.close()
			res, err := EdgeLoop{URL: "https://" + srv.addr + "/bytes/1024", Streams: streams, Duration: 300 * time.Millisecond, pool: pool}.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.OK == 0 || res.ErrorCount() != 0 || res.Requests != res.OK {
				t.Errorf("result = %d requests, %d ok, errors %v; want all ok", res.Requests, res.OK, res.Errors)
			}
			protos, peers := srv.seen()
			if len(protos) != 1 || protos[tt.wantProto] != int(res.Requests) {
				t.Errorf("server saw %v, want %d requests over %s", protos, res.Requests, tt.wantProto)
			}
			if peers != conns {
				t.Errorf("server saw %d client connections, want %d", peers, conns)
			}
		})
	}
}

func TestEdgeLoop_RedialsABrokenConnection(t *testing.T) {
	srv := startEdgeServer(t)
	pool := newEdgePool(&edgeDialer{proto: ProtoH2, addr: srv.addr, tls: srv.certs.clientTLS()}, 1)
	defer pool.close()
	first, err := pool.get(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	pool.broken(0, first)
	pool.broken(0, first) // a second report of the same connection is harmless
	res, err := EdgeLoop{URL: "https://" + srv.addr + "/", Duration: 100 * time.Millisecond, pool: pool}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == 0 || res.ErrorCount() != 0 {
		t.Errorf("after a broken connection: %d ok, errors %v; want a new connection and no errors", res.OK, res.Errors)
	}
	if second, _ := pool.get(context.Background(), 0); second == first {
		t.Error("the broken connection is still in the pool")
	}
}

func TestEdgeDialer_RefusedProtocol(t *testing.T) {
	srv := startEdgeServer(t)
	// A TCP listener that hangs up on every connection instead of TLS.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	d := &edgeDialer{proto: ProtoH2, addr: ln.Addr().String(), tls: srv.certs.clientTLS()}
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close() // not TLS: hang up
		}
	}()
	if c, err := d.dial(ctx); err == nil {
		c.close()
		t.Error("dial over h2 to a listener that hangs up succeeded, want an error")
	}
}

// TestWANFetch_ResumesAndUses0RTT checks the new-connection client of the
// wan scenario without emulation: the first connection gets a ticket,
// the next resumes, and with early its GET goes in 0-RTT.
func TestWANFetch_ResumesAndUses0RTT(t *testing.T) {
	srv := startEdgeServer(t)
	tests := []struct {
		mode                 string
		proto                Protocol
		wantEarly, wantProto string
	}{
		{wanH2, ProtoH2, "", "HTTP/2.0"},
		{wanH3, ProtoH3, "", "HTTP/3.0"},
		{wanEarly, ProtoH3, "0-RTT", "HTTP/3.0"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			tlsConf := srv.certs.clientTLS()
			tlsConf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			d := &edgeDialer{proto: tt.proto, addr: srv.addr, tls: tlsConf, early: tt.mode == wanEarly}
			url := "https://" + srv.addr + "/bytes/1024"
			first, err := wanFetch(context.Background(), d, url, tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			if first.code != http.StatusOK || first.resumed || first.early {
				t.Errorf("first connection = %+v, want 200, a full handshake", first)
			}
			second, err := wanFetch(context.Background(), d, url, tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			if second.code != http.StatusOK || !second.resumed || second.early != (tt.wantEarly != "") || second.ttfb <= 0 {
				t.Errorf("second connection = %+v, want 200, resumed, 0-RTT %v", second, tt.wantEarly != "")
			}
			if protos, _ := srv.seen(); protos[tt.wantProto] != 2 {
				t.Errorf("server saw %v, want 2 requests over %s", protos, tt.wantProto)
			}
		})
	}
}

func TestEdgeLoop_CanceledContext(t *testing.T) {
	srv := startEdgeServer(t)
	pool := newEdgePool(&edgeDialer{proto: ProtoH3, addr: srv.addr, tls: srv.certs.clientTLS()}, 2)
	defer pool.close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := EdgeLoop{URL: "https://" + srv.addr + "/", Duration: time.Minute, pool: pool}.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a canceled context = %v, want context.Canceled", err)
	}
}
