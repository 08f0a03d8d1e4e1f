package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portico-gw/portico/demo"
	"github.com/portico-gw/portico/node"
)

//go:embed dev.yaml
var devConfig []byte

func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("portico dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "edge address (default 127.0.0.1:8080)")
	admin := fs.String("admin", "", "admin address (default 127.0.0.1:9901)")
	demoAddr := fs.String("demo", "127.0.0.1:0", "demo upstream address")
	dataDir := fs.String("data", filepath.Join(os.TempDir(), "portico-dev"), "data directory")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ln, err := net.Listen("tcp", *demoAddr)
	if err != nil {
		fmt.Fprintf(stderr, "portico dev: demo upstream: %v\n", err)
		return 1
	}
	up := &http.Server{Handler: demo.New(demo.Options{}), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := up.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "portico dev: demo upstream: %v\n", err)
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = up.Shutdown(sctx)
	}()
	demoURL := "http://" + ln.Addr().String()
	env := func(k string) (string, bool) {
		switch k {
		case "PORTICO_DEMO_URL":
			return demoURL, true
		case "PORTICO_DEV_DATA":
			return *dataDir, true
		}
		return os.LookupEnv(k)
	}
	cfg := node.Config{Source: devConfig, SourceName: "dev.yaml (embedded)", Env: env, Override: overrides(*listen, *admin)}
	return runNode(ctx, cfg, stdout, stderr, func(n *node.Node) { printTour(stdout, n, demoURL) })
}

// tour lists what to try; TestDev requests every line of it.
func tour(gw, admin string) []string {
	return []string{
		"http://" + gw + "/anything?hello=portico",
		"http://" + gw + "/status/418",
		"http://" + gw + "/delay/300",
		"http://" + gw + "/bytes/1024",
		"http://" + gw + "/cache/60",
		"http://" + gw + "/stream/5?delay_ms=200",
		"http://" + gw + "/sse/3?delay_ms=300",
		"http://" + gw + "/v1/users/42",
		"http://" + gw + "/echo/any/path",
		"ws://" + gw + "/ws",
		"http://" + admin + "/health",
		"http://" + admin + "/ready",
		"http://" + admin + "/config",
		"http://" + admin + "/metrics",
	}
}

func printTour(w io.Writer, n *node.Node, demoURL string) {
	fmt.Fprintf(w, `
Portico dev is up (dev mode: admin API on loopback without a token).
  gateway        http://%s
  admin          http://%s
  demo upstream  %s

Try:
`, n.EdgeAddr(), n.AdminAddr(), demoURL)
	for _, u := range tour(n.EdgeAddr(), n.AdminAddr()) {
		if ws, ok := strings.CutPrefix(u, "ws://"); ok {
			// curl may lack ws://; show the upgrade handshake (101) instead.
			fmt.Fprintf(w, "  curl -i -N --max-time 2 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: cG9ydGljbyBkZXYgdG91cg==' http://%s\n", ws)
			continue
		}
		fmt.Fprintf(w, "  curl -i %s\n", u)
	}
	fmt.Fprint(w, "\nCtrl-C drains and stops. The access log follows.\n\n")
}
