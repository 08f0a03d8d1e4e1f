package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/portico-gw/portico/demo"
	"github.com/portico-gw/portico/edge"
	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/config"
)

//go:embed dev.yaml
var devConfig []byte

// devNodes is the size of the dev cluster.
const devNodes = 3

// devAPIKey is the demo consumer's API key; dev.yaml holds its hash. It is
// public: for the tour only.
const devAPIKey = "portico-demo-key-not-a-secret"

func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("portico dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "first node's edge address; the others take the next ports (port 0: free ports everywhere)")
	tlsListen := fs.String("tls-listen", "127.0.0.1:8443", "first node's HTTPS and HTTP/3 address; the others take the next ports")
	admin := fs.String("admin", "127.0.0.1:9901", "first node's admin address; the others take the next ports")
	demoAddr := fs.String("demo", "127.0.0.1:0", "demo upstream address")
	dataDir := fs.String("data", "", "data directory (default: a fresh temporary one, removed at exit)")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if *dataDir == "" {
		d, err := os.MkdirTemp("", "portico-dev-data-")
		if err != nil {
			fmt.Fprintf(stderr, "portico dev: %v\n", err)
			return 1
		}
		defer os.RemoveAll(d)
		*dataDir = d
	}
	demoURL, _, stopDemo, err := startDemo(*demoAddr)
	if err != nil {
		fmt.Fprintf(stderr, "portico dev: demo upstream: %v\n", err)
		return 1
	}
	defer stopDemo()
	key, token := randomB64(32), randomHex(16)
	if err := writeDevToken(token); err != nil {
		fmt.Fprintf(stderr, "portico dev: %v\n", err)
		return 1
	}
	// One dev CA for every node, kept beside the token so that a browser
	// or curl told to trust it once keeps trusting later runs.
	cert, err := edge.DevCertificate(filepath.Join(filepath.Dir(devTokenFile()), "tls"), nil, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "portico dev: %v\n", err)
		return 1
	}
	if strings.HasSuffix(*listen, ":0") {
		*tlsListen = "127.0.0.1:0"
	}
	seed := "127.0.0.1:7946"
	cfgs := make([]node.Config, devNodes)
	for i := range cfgs {
		cfgs[i] = devNodeConfig(i, devPorts{*listen, *tlsListen, *admin}, filepath.Join(*dataDir, fmt.Sprintf("dev-%d", i+1)), demoURL, key, token, cert, &seed)
	}
	// With free ports the seed is known only once node 1 runs.
	afterStart := func(i int, n *node.Node) {
		if i == 0 {
			seed = n.Cluster().GossipAddr()
		}
	}
	return runCluster(ctx, cfgs, stdout, stderr, afterStart, func(ns []*node.Node) {
		waitClusterConfig(ctx, ns, stderr)
		printTour(stdout, ns, demoURL, cert.CAFile)
	})
}

// devPorts are the first dev node's addresses; node i takes port+i.
type devPorts struct{ listen, tls, admin string }

// devNodeConfig gives dev node i its name, ports and seeds.
func devNodeConfig(i int, ports devPorts, data, demoURL, key, token string, cert edge.DevCert, seed *string) node.Config {
	env := func(k string) (string, bool) {
		switch k {
		case "PORTICO_DEMO_URL":
			return demoURL, true
		case "PORTICO_DEV_DATA":
			return data, true
		case "PORTICO_DEV_KEY":
			return key, true
		case "PORTICO_DEV_TOKEN":
			return token, true
		case "PORTICO_DEV_CERT":
			return cert.CertFile, true
		case "PORTICO_DEV_CERT_KEY":
			return cert.KeyFile, true
		}
		return os.LookupEnv(k)
	}
	free := strings.HasSuffix(ports.listen, ":0")
	override := func(f *config.File) {
		f.Node.Name = fmt.Sprintf("dev-%d", i+1)
		f.Node.Listen = nthPort(ports.listen, i)
		f.Node.TLS.Listen = nthPort(ports.tls, i)
		f.Node.Admin.Listen = nthPort(ports.admin, i)
		c := f.Node.Cluster
		for _, ep := range []*config.Endpoint{&c.Gossip, &c.Raft, &c.Peer} {
			if free {
				ep.Bind = "127.0.0.1:0"
			} else {
				ep.Bind = nthPort(ep.Bind, 10*i)
			}
		}
		if i > 0 {
			c.Join = []string{*seed}
		}
	}
	return node.Config{Source: devConfig, SourceName: "dev.yaml (embedded)", Env: env, Override: override, Version: version}
}

// localhost names a loopback address "localhost:PORT", the name the dev
// certificate is for and browsers trust it with.
func localhost(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return net.JoinHostPort("localhost", port)
}

// nthPort returns addr with its port increased by n (port 0 stays 0).
func nthPort(addr string, n int) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	p, _ := strconv.Atoi(port)
	if p == 0 {
		return addr
	}
	return net.JoinHostPort(host, strconv.Itoa(p+n))
}

// waitClusterConfig waits (up to 30 s) until every node serves the
// cluster's first config and sees every other node on its ring, so the
// printed commands show a settled cluster (global limits and quotas are
// counted by each key's owner on the ring).
func waitClusterConfig(ctx context.Context, ns []*node.Node, stderr io.Writer) {
	deadline := time.Now().Add(30 * time.Second)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		ready := true
		for _, n := range ns {
			if n.Snapshot().Version < 1 || n.Cluster() != nil && n.Cluster().Ring().Len() < len(ns) {
				ready = false
			}
		}
		if ready {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintln(stderr, "portico dev: the cluster has not agreed on a config yet; the nodes serve their file's routes meanwhile")
}

// startDemo serves the demo upstream on addr. Serve's error, if it stops
// on its own, arrives on errc; stop shuts it down gracefully.
func startDemo(addr string) (url string, errc <-chan error, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, nil, err
	}
	up := &http.Server{Handler: demo.New(demo.Options{}), ReadHeaderTimeout: 10 * time.Second}
	ch := make(chan error, 1)
	go func() {
		if err := up.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			ch <- err
		}
	}()
	stop = func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = up.Shutdown(sctx)
	}
	return "http://" + ln.Addr().String(), ch, stop, nil
}

func writeDevToken(token string) error {
	f := devTokenFile()
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return err
	}
	return os.WriteFile(f, []byte(token+"\n"), 0o600)
}

func randomB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tour lists what to try on a gateway; TestDevTourAnswers requests it.
func tour(gw string) []string {
	return []string{
		"http://" + gw + "/anything?hello=portico",
		"http://" + gw + "/status/418",
		"http://" + gw + "/delay/300",
		"http://" + gw + "/bytes/1024",
		"http://" + gw + "/stream/5?delay_ms=200",
		"http://" + gw + "/sse/3?delay_ms=300",
		"http://" + gw + "/v1/users/42",
		"http://" + gw + "/echo/any/path",
		"ws://" + gw + "/ws",
	}
}

func printTour(w io.Writer, ns []*node.Node, demoURL, caFile string) {
	fmt.Fprintf(w, "\nPortico dev cluster is up: %d nodes, one Raft cluster, demo upstream at %s\n\n", len(ns), demoURL)
	for _, n := range ns {
		fmt.Fprintf(w, "  %-6s gateway http://%-21s https://%-21s admin http://%s\n", n.Snapshot().Node.Name, n.EdgeAddr(), localhost(n.TLSAddr()), n.AdminAddr())
	}
	fmt.Fprint(w, "\nTry any node (they share one config):\n")
	for i, u := range tour(ns[0].EdgeAddr()) {
		if i == 1 && len(ns) > 1 {
			u = "http://" + ns[1].EdgeAddr() + "/status/418"
		}
		if ws, ok := strings.CutPrefix(u, "ws://"); ok {
			// curl may lack ws://; show the upgrade handshake (101) instead.
			fmt.Fprintf(w, "  curl -i -N --max-time 2 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: cG9ydGljbyBkZXYgdG91cg==' http://%s\n", ws)
			continue
		}
		fmt.Fprintf(w, "  curl -i %s\n", u)
	}
	last := ns[len(ns)-1].EdgeAddr()
	fmt.Fprintf(w, `
The shared cache: /cache/60 is stored once, on the node that owns it, and
every node answers from that copy (see Cache-Status and Age):
  curl -i http://%s/cache/60
  curl -i http://%s/cache/60
  bin/portico purge --prefix http://127.0.0.1/cache/
`, ns[0].EdgeAddr(), last)
	fmt.Fprintf(w, `
Rate limits, counted by the whole cluster: /limited/ admits 5 requests a second
per client address (burst 5), whichever node they reach. Watch the 429s arrive;
every answer carries RateLimit-Policy and RateLimit, a 429 also Retry-After:
  for i in $(seq 12); do curl -s -o /dev/null -w '%%{http_code} ' http://%s/limited/hi; done; echo
  curl -i http://%s/limited/hi

API keys, consumers and plans: consumer "demo" is on plan "starter" (2 a second,
burst 4, 1000 a day). This key is for the demo only (bin/portico apikey makes real ones):
  curl -i -H 'X-API-Key: %s' http://%s/partner/hello
  bin/portico usage demo
  bin/portico usage demo --reset
`, ns[0].EdgeAddr(), last, devAPIKey, ns[0].EdgeAddr())
	fmt.Fprintf(w, `
CORS per route: the gateway answers a page's preflight itself (204 with the
Access-Control-* headers; the demo never sees it), before auth and limits:
  curl -i -X OPTIONS -H 'Origin: http://localhost:3000' -H 'Access-Control-Request-Method: PUT' -H 'Access-Control-Request-Headers: content-type' http://%s/cors/hello
`, ns[0].EdgeAddr())
	gw := localhost(ns[0].TLSAddr())
	fmt.Fprintf(w, `
HTTPS on the same nodes: HTTP/1.1 and HTTP/2 over TLS, HTTP/3 over QUIC on the
same port number (TCP responses advertise it with Alt-Svc). The dev CA is
%s (trust it, or pass it to curl):
  curl -i --cacert %s https://%s/anything?over=tls
  curl -i --http2 --cacert %s https://%s/bytes/1024
  curl -i --http3-only --cacert %s https://%s/anything?over=h3
(the last one needs a curl built with HTTP/3; curl -V lists "HTTP3")
`, caFile, caFile, gw, caFile, gw, caFile, gw)
	tf := devTokenFile()
	fmt.Fprintf(w, `
The cluster (the CLI finds node 1's admin API and its token by default):
  bin/portico members
  bin/portico cluster status
Admin API (token in %s):
  curl -i -H "Authorization: Bearer $(cat %s)" http://%s/config
  curl -i -H "Authorization: Bearer $(cat %s)" http://%s/metrics
  curl -i http://%s/ready
Browsers can't drive it: a cross-site request (CSRF, DNS rebinding) gets 403, token or not:
  curl -i -H 'Sec-Fetch-Site: cross-site' -H "Authorization: Bearer $(cat %s)" http://%s/config

Ctrl-C drains and stops every node. The access logs follow.

`, tf, tf, ns[0].AdminAddr(), tf, ns[0].AdminAddr(), ns[0].AdminAddr(), tf, ns[0].AdminAddr())
}
