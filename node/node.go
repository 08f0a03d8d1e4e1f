package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gw/portico/cache"
	"github.com/portico-gw/portico/cluster"
	"github.com/portico-gw/portico/edge"
	"github.com/portico-gw/portico/limiter"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/limit"
	"github.com/portico-gw/portico/node/observe"
)

// Config says where a node's settings come from and injects what tests
// replace. The zero value of every field but File/Source is usable.
type Config struct {
	// File is the config file; Reload (SIGHUP) re-reads it. Either File or
	// Source must be set.
	File string
	// Source is the config text when there is no file (the embedded dev
	// config); SourceName labels its errors. Reload re-reads Source.
	Source     []byte
	SourceName string
	// Override, if not nil, adjusts every loaded file before defaults are
	// validated, e.g. command-line flags such as --listen.
	Override func(*config.File)
	// Env resolves ${VAR} in the config. If nil, os.LookupEnv is used.
	Env config.Env
	// Logger is the process log. If nil, a text logger on os.Stderr is used.
	Logger *slog.Logger
	// Stdout receives the access log when it goes to "stdout". If nil,
	// os.Stdout is used.
	Stdout io.Writer
	// EdgeListener and AdminListener, if not nil, are served instead of
	// listening on node.listen and node.admin.listen (tests pass
	// 127.0.0.1:0 listeners).
	EdgeListener  net.Listener
	AdminListener net.Listener
	// Now is the clock. If nil, time.Now is used.
	Now func() time.Time
	// Rand returns random numbers (request ids, jitter, random balancing).
	// If nil, math/rand/v2.Uint64 is used.
	Rand func() uint64
	// Version is the binary's version, gossiped to the cluster.
	Version string
	// TuneCluster, if not nil, adjusts the cluster config before it
	// starts (tests shrink gossip and Raft timings).
	TuneCluster func(*cluster.Config)
	// TuneLimiter, if not nil, adjusts the limiter config before it is
	// built (tests stretch DecisionTimeout or turn off the background
	// sync and call Limiter().Flush).
	TuneLimiter func(*limiter.Config)
}

// Node is one gateway node. Create it with New, then Start it; Shutdown
// drains and stops it.
type Node struct {
	cfg     Config
	logger  *slog.Logger
	now     func() time.Time
	rand    func() uint64
	env     config.Env
	metrics *observe.Metrics
	// unrouted counts requests no route took (400, 404, 405).
	unrouted *observe.RouteMetrics
	reg      *prometheus.Registry

	pipe  atomic.Pointer[pipeline]
	saved *savedConfig
	// fileDigest is the digest of the file's gateway part when it was
	// last applied or seen; guarded by mu.
	fileDigest string

	mu       sync.Mutex // serializes Reload, ApplyGateway and Shutdown
	edge     *edge.Server
	admin    *http.Server
	edgeLn   net.Listener   // cleartext; nil when node.listen is off
	tlsLn    net.Listener   // nil without node.tls
	udp      net.PacketConn // HTTP/3; nil without node.tls.http3
	adminLn  net.Listener
	draining atomic.Bool
	started  bool
	stopped  bool
	wg       sync.WaitGroup
	errc     chan error

	// cache is the node's share of the response cache (owner and near
	// tiers), shared by every pipeline.
	cache *cache.Cache
	// limits decides rate limits and quotas (local and cluster-global),
	// shared by every pipeline; ipGuard is node.server.ip_rate_limit (nil
	// when off), checked before routing. Both live as long as the node:
	// node.server changes need a restart.
	limits  *limiter.Limiter
	ipGuard *limit.IPGuard
	// limitShared is what every route's limit stage shares: the limiter,
	// the decision counters, the formatted policy headers.
	limitShared *limit.Shared

	// Cluster mode (nil cluster: a single node).
	cluster      *cluster.Cluster
	clusterPtr   atomic.Pointer[cluster.Cluster] // cluster, for request goroutines
	docs         chan cluster.Document           // latest committed document, for applyLoop
	quit         chan struct{}                   // closed by Shutdown: stops the node's goroutines
	warnedDigest string                          // the file digest last warned about (warnFileDiffers); guarded by mu
	servedMu     sync.Mutex
	served       chan struct{} // closed and replaced after every swap
}

// New loads and validates the config, then compiles the first pipeline.
// It binds no listener. A bad config returns config.Errors with every
// problem in it.
func New(cfg Config) (*Node, error) {
	if cfg.File == "" && cfg.Source == nil {
		return nil, errors.New("node: no config file or source")
	}
	n := &Node{cfg: cfg, logger: cfg.Logger, now: cfg.Now, rand: cfg.Rand, env: cfg.Env, errc: make(chan error, 2),
		docs: make(chan cluster.Document, 1), quit: make(chan struct{}), served: make(chan struct{})}
	if n.logger == nil {
		n.logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if n.now == nil {
		n.now = time.Now
	}
	if n.rand == nil {
		n.rand = rand.Uint64
	}
	if n.env == nil {
		n.env = os.LookupEnv
	}
	f, err := n.load()
	if err != nil {
		return nil, err
	}
	n.reg = prometheus.NewRegistry()
	n.metrics = observe.NewMetrics(n.reg)
	n.unrouted = n.metrics.Route("(unrouted)")
	if n.saved, err = openSavedConfig(f.Node.DataDir); err != nil {
		return nil, err
	}
	snap, err := n.startingSnapshot(f)
	if err != nil {
		return nil, err
	}
	log, err := n.newAccessLog(snap.Node.AccessLog)
	if err != nil {
		return nil, err
	}
	if n.cache, err = n.newCache(snap.Node); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("cache: %w", err)
	}
	if err := n.newLimits(snap.Node); err != nil {
		_ = log.Close()
		_ = n.cache.Close()
		return nil, fmt.Errorf("limiter: %w", err)
	}
	p, err := n.compile(snap, nil, log)
	if err != nil {
		err = checkErrors(n.cfg.File, err)
		_ = log.Close()
		_ = n.cache.Close()
		_ = n.limits.Close(context.Background()) // nothing sent yet: no cluster
		return nil, err
	}
	n.pipe.Store(p)
	n.cache.Publish(p.fills)
	n.metrics.SetConfigVersion(uint64(snap.Version))
	return n, nil
}

// load reads the config file (or Source) and applies Override.
func (n *Node) load() (*config.File, error) {
	var f *config.File
	var err error
	if n.cfg.File != "" {
		data, rerr := os.ReadFile(n.cfg.File)
		if rerr != nil {
			return nil, fmt.Errorf("read config: %w", rerr)
		}
		f, err = config.ParseWith(n.cfg.File, data, n.env, n.cfg.Override)
	} else {
		name := n.cfg.SourceName
		if name == "" {
			name = "<embedded>"
		}
		f, err = config.ParseWith(name, n.cfg.Source, n.env, n.cfg.Override)
	}
	return f, err
}

func (n *Node) newAccessLog(c config.AccessLog) (*observe.AccessLog, error) {
	return observe.NewAccessLog(c, observe.LogOptions{Stdout: n.cfg.Stdout, Now: n.now})
}

// Start binds the edge and admin listeners (unless injected) and serves
// them in the background. Serve errors arrive on Err.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started {
		return errors.New("node: already started")
	}
	snap := n.pipe.Load().snap
	ec, err := n.edgeConfig(snap.Node)
	if err != nil {
		return err
	}
	if n.edge, err = edge.New(ec); err != nil {
		return err
	}
	if err := n.bindEdge(snap.Node); err != nil {
		return err
	}
	n.metrics.SetOpenConns(n.edge.OpenConns)
	if snap.Node.Admin.Listen != "off" {
		if n.adminLn, err = listen(n.cfg.AdminListener, snap.Node.Admin.Listen); err != nil {
			n.closeEdgeListeners()
			return fmt.Errorf("listen on node.admin.listen %s: %w", snap.Node.Admin.Listen, err)
		}
		n.admin = &http.Server{Handler: n.adminHandler(snap.Node.Admin.Token), ReadHeaderTimeout: 10 * time.Second}
		if t := snap.Node.Admin.TLS; t != nil {
			tc, err := adminTLS(t)
			if err != nil {
				_ = n.adminLn.Close()
				n.closeEdgeListeners()
				return err
			}
			n.adminLn = tls.NewListener(n.adminLn, tc)
		}
		n.serve("admin", func() error { return n.admin.Serve(n.adminLn) })
	}
	if n.edgeLn != nil {
		n.serve("edge", func() error { return n.edge.ServeCleartext(n.edgeLn) })
	}
	if n.tlsLn != nil {
		n.serve("tls", func() error { return n.edge.Serve(n.tlsLn) })
	}
	if n.udp != nil {
		n.serve("http3", func() error { return n.edge.ServeUDP(n.udp) })
	}
	n.started = true
	if snap.Node.Cluster != nil {
		if err := n.startCluster(snap.Node); err != nil {
			return err
		}
	}
	n.logger.Info("node started", "name", snap.Node.Name, "edge", n.EdgeAddr(), "tls", n.TLSAddr(), "http3", n.udp != nil, "admin", n.AdminAddr(), "config_version", snap.Version)
	return nil
}

func (n *Node) serve(name string, run func() error) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := run(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.errc <- fmt.Errorf("%s listener: %w", name, err)
		}
	}()
}

func listen(ln net.Listener, addr string) (net.Listener, error) {
	if ln != nil {
		return ln, nil
	}
	return net.Listen("tcp", addr)
}

// Err delivers a listener's fatal error; the caller should Shutdown.
func (n *Node) Err() <-chan error { return n.errc }

// EdgeAddr is the cleartext edge listener's address, once started (""
// when node.listen is off).
func (n *Node) EdgeAddr() string { return addrOf(n.edgeLn) }

// TLSAddr is the HTTPS (and HTTP/3) address, once started ("" without
// node.tls).
func (n *Node) TLSAddr() string { return addrOf(n.tlsLn) }

// AdminAddr is the admin listener's address, once started ("" when off).
func (n *Node) AdminAddr() string { return addrOf(n.adminLn) }

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}

// Snapshot returns the config snapshot the node serves now.
func (n *Node) Snapshot() *config.Snapshot { return n.pipe.Load().snap }

// Limiter is the node's rate limiter (tests step it with Flush).
func (n *Node) Limiter() *limiter.Limiter { return n.limits }

// Registry is the node's Prometheus registry (served on admin /metrics).
func (n *Node) Registry() *prometheus.Registry { return n.reg }

// Shutdown stops accepting connections, lets in-flight requests finish
// until ctx is done, then stops everything the node started. It is
// idempotent. Readiness turns false first, so load balancers stop sending.
func (n *Node) Shutdown(ctx context.Context) error {
	// mu is held only to flip stopped: applyLoop takes mu to swap in a
	// cluster document, and Shutdown waits for applyLoop below.
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		return nil
	}
	n.stopped = true
	n.mu.Unlock()
	n.draining.Store(true)
	close(n.quit)
	var errs []error
	if n.edge != nil && n.started {
		errs = append(errs, n.edge.Shutdown(ctx))
	} else {
		n.closeEdgeListeners()
	}
	// The limiter sends its last hits and quota counters to their owners
	// over the cluster, so it closes while the cluster still runs.
	errs = append(errs, n.limits.Close(ctx))
	if n.cluster != nil {
		errs = append(errs, n.cluster.Shutdown(ctx))
	}
	if n.admin != nil {
		errs = append(errs, n.admin.Shutdown(ctx))
	}
	n.wg.Wait()
	// The cache's background refreshes use the upstreams and the access
	// log: they stop (Close waits for them) before either is retired.
	errs = append(errs, n.cache.Close())
	p := n.pipe.Load()
	retire(p, nil)
	errs = append(errs, p.log.Close())
	n.logger.Info("node stopped")
	return errors.Join(errs...)
}
