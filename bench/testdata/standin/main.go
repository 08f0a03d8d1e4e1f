// Command standin imitates the parts of the portico CLI that the bench
// harness drives, so the harness can be tested before (or without) the real
// binary: `serve --config FILE` (a plain reverse proxy with /ready and
// /metrics on the admin address; with node.tls, also over TLS with HTTP/1.1
// and HTTP/2 on TCP and HTTP/3 with 0-RTT on UDP, same port),
// `demo-upstream --listen ADDR` (/bytes/{n}) and `version`. It is built by
// the tests only.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"go.yaml.in/yaml/v3"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: standin serve|demo-upstream|version")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, os.Args[2:])
	case "demo-upstream":
		err = upstream(ctx, os.Args[2:])
	case "version":
		fmt.Println("portico standin", runtime.Version())
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "standin:", err)
		os.Exit(1)
	}
}

type config struct {
	Node struct {
		Listen string `yaml:"listen"`
		Admin  struct {
			Listen string `yaml:"listen"`
		} `yaml:"admin"`
		TLS struct {
			Listen       string `yaml:"listen"`
			Certificates []struct {
				Cert string `yaml:"cert"`
				Key  string `yaml:"key"`
			} `yaml:"certificates"`
			HTTP3 struct {
				Enabled *bool `yaml:"enabled"`
			} `yaml:"http3"`
		} `yaml:"tls"`
	} `yaml:"node"`
	Upstreams []struct {
		Targets []struct {
			URL string `yaml:"url"`
		} `yaml:"targets"`
	} `yaml:"upstreams"`
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", "", "config file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(*path)
	if err != nil {
		return err
	}
	var c config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return err
	}
	if len(c.Upstreams) == 0 || len(c.Upstreams[0].Targets) == 0 {
		return errors.New("no upstream target")
	}
	to, err := url.Parse(c.Upstreams[0].Targets[0].URL)
	if err != nil {
		return err
	}
	proxy := httputil.NewSingleHostReverseProxy(to)
	proxy.Transport = &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	admin := http.NewServeMux()
	admin.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	admin.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintf(w, "# TYPE go_memstats_mallocs_total counter\ngo_memstats_mallocs_total %d\n", m.Mallocs)
	})
	servers := []server{plain(&http.Server{Addr: c.Node.Admin.Listen, Handler: admin})}
	if c.Node.Listen != "off" {
		servers = append(servers, plain(&http.Server{Addr: c.Node.Listen, Handler: proxy}))
	}
	if c.Node.TLS.Listen != "" {
		more, err := tlsServers(c, proxy)
		if err != nil {
			return err
		}
		servers = append(servers, more...)
	}
	return run(ctx, servers...)
}

// tlsServers serve h over TLS on the config's TLS address: HTTP/1.1 and
// HTTP/2 on TCP, and unless turned off HTTP/3 on UDP with 0-RTT.
func tlsServers(c config, h http.Handler) ([]server, error) {
	if len(c.Node.TLS.Certificates) == 0 {
		return nil, errors.New("tls: no certificates")
	}
	crt := c.Node.TLS.Certificates[0]
	pair, err := tls.LoadX509KeyPair(crt.Cert, crt.Key)
	if err != nil {
		return nil, err
	}
	conf := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	addr := c.Node.TLS.Listen
	hs := &http.Server{Addr: addr, Handler: h, TLSConfig: conf.Clone()}
	servers := []server{{
		serve: func() error { return hs.ListenAndServeTLS("", "") },
		stop:  hs.Shutdown,
	}}
	if e := c.Node.TLS.HTTP3.Enabled; e == nil || *e {
		h3 := &http3.Server{Addr: addr, Handler: h, TLSConfig: http3.ConfigureTLSConfig(conf.Clone()), QUICConfig: &quic.Config{Allow0RTT: true}}
		servers = append(servers, server{serve: h3.ListenAndServe, stop: func(context.Context) error { return h3.Close() }})
	}
	return servers, nil
}

func upstream(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo-upstream", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8081", "address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte('a' + i%26)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || n < 0 || n > len(buf) {
			http.Error(w, "bad n", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(n))
		_, _ = w.Write(buf[:n])
	})
	return run(ctx, plain(&http.Server{Addr: *listen, Handler: mux}))
}

// server is one listener: serve blocks until stop is called.
type server struct {
	serve func() error
	stop  func(context.Context) error
}

func plain(s *http.Server) server { return server{serve: s.ListenAndServe, stop: s.Shutdown} }

// run serves until ctx ends, then shuts the servers down.
func run(ctx context.Context, servers ...server) error {
	errs := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errs <- s.serve() }()
	}
	select {
	case err := <-errs:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.stop(shutdown)
	}
	return nil
}
