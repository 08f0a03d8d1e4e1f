package node

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"path/filepath"

	"github.com/portico-gw/portico/edge"
	"github.com/portico-gw/portico/node/config"
)

// This file turns node settings into the edge's config and binds its
// listeners: cleartext, TLS, and UDP for HTTP/3 on the TLS port number.
// Edge settings are node-local and read at Start; a reload does not
// rebind listeners (certificates reload on their own, and on SIGHUP).

// edgeConfig maps the node section to edge.Config. With
// tls.dev_certificate and no certificates it makes (or reuses) the
// development CA and certificate in data_dir/tls and logs the CA's path.
func (n *Node) edgeConfig(nc config.Node) (edge.Config, error) {
	s := nc.Server
	ec := edge.Config{
		Handler:           n,
		ReadHeaderTimeout: s.ReadHeaderTimeout.D(),
		IdleTimeout:       s.IdleTimeout.D(),
		MaxHeaderBytes:    int(s.MaxHeaderBytes.Bytes()),
		H2C:               s.H2C,
		HTTP2: edge.HTTP2Config{
			MaxConcurrentStreams: s.MaxConcurrentStreams,
			MaxResetsPerSecond:   s.MaxResetsPerSecond,
		},
		Limits: edge.Limits{
			MaxConns:            s.MaxConns,
			MaxConnsPerIP:       s.MaxConnsPerIP,
			TLSHandshakeTimeout: s.TLSHandshakeTimeout.D(),
			MinBodyRate:         offIfZero(int(s.MinBodyRate.Bytes())),
			MinBodyRateGrace:    s.MinBodyRateGrace.D(),
		},
		Registerer: n.reg,
		Logger:     n.logger.With("component", "edge"),
		ErrorLog:   n.logger.With("component", "edge"),
		Now:        n.now,
	}
	t := nc.TLS
	if t == nil {
		return ec, nil
	}
	tc := &edge.TLSConfig{MinVersion: tls.VersionTLS12}
	if t.MinVersion == "1.3" {
		tc.MinVersion = tls.VersionTLS13
	}
	for _, c := range t.Certificates {
		tc.Certificates = append(tc.Certificates, edge.CertFiles{CertFile: c.Cert, KeyFile: c.Key})
	}
	if len(tc.Certificates) == 0 && t.DevCertificate {
		dc, err := edge.DevCertificate(filepath.Join(nc.DataDir, "tls"), nil, n.now())
		if err != nil {
			return ec, fmt.Errorf("node.tls.dev_certificate: %w", err)
		}
		tc.Certificates = []edge.CertFiles{{CertFile: dc.CertFile, KeyFile: dc.KeyFile}}
		n.logger.Warn("serving HTTPS with a development certificate: trust its CA only on this machine",
			"ca", dc.CAFile, "try", "curl --cacert "+dc.CAFile+" https://localhost"+portOf(t.Listen)+"/")
	}
	ec.TLS = tc
	if h := t.HTTP3; *h.Enabled {
		ec.HTTP3 = &edge.HTTP3Config{
			MaxIncomingStreams:         int64(h.MaxStreams),
			MaxIdleTimeout:             h.IdleTimeout.D(),
			MaxStreamReceiveWindow:     uint64(h.StreamReceiveWindow.Bytes()),
			MaxConnectionReceiveWindow: uint64(h.ConnectionReceiveWindow.Bytes()),
			Disable0RTT:                !*h.ZeroRTT,
			AltSvcMaxAge:               h.AltSvcMaxAge.D(),
			RetryAboveHandshakes:       h.RetryAboveHandshakes,
			MaxHeaderBytes:             int(s.MaxHeaderBytes.Bytes()),
		}
	}
	return ec, nil
}

// bindEdge opens the edge's sockets; on error none stays open.
func (n *Node) bindEdge(nc config.Node) error {
	var err error
	if nc.Listen != "off" {
		if n.edgeLn, err = listen(n.cfg.EdgeListener, nc.Listen); err != nil {
			return fmt.Errorf("listen on node.listen %s: %w", nc.Listen, err)
		}
	}
	if t := nc.TLS; t != nil {
		if *t.HTTP3.Enabled {
			n.tlsLn, n.udp, err = listenPair(t.Listen)
		} else {
			n.tlsLn, err = net.Listen("tcp", t.Listen)
		}
		if err != nil {
			n.closeEdgeListeners()
			return fmt.Errorf("listen on node.tls.listen %s: %w", t.Listen, err)
		}
	}
	return nil
}

// closeEdgeListeners closes the sockets bindEdge opened, for a Start
// that fails or a node shut down before it served. (A nil interface
// field converts to a nil interface here.)
func (n *Node) closeEdgeListeners() {
	for _, c := range []io.Closer{n.edgeLn, n.tlsLn, n.udp} {
		if c != nil {
			_ = c.Close()
		}
	}
}

// offIfZero maps a "0 disables" setting to edge's "negative disables".
func offIfZero(v int) int {
	if v == 0 {
		return -1
	}
	return v
}

// portOf returns ":PORT" of a listen address.
func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return ":" + port
}
