package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/portico-gw/portico/node"
	"github.com/portico-gw/portico/node/config"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("portico serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "config file (YAML)")
	listen := fs.String("listen", "", "edge address, overrides node.listen")
	admin := fs.String("admin", "", "admin address, overrides node.admin.listen")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "portico serve: needs --config FILE and no other arguments (to try Portico without a file: portico dev)")
		return 2
	}
	return runNode(ctx, node.Config{File: *file, Override: overrides(*listen, *admin), Version: version}, stdout, stderr, nil)
}

// overrides applies command-line flags over the file's node settings.
func overrides(listen, admin string) func(*config.File) {
	return func(f *config.File) {
		if listen != "" {
			f.Node.Listen = listen
		}
		if admin != "" {
			f.Node.Admin.Listen = admin
		}
	}
}

// runNode runs one node; see runCluster.
func runNode(ctx context.Context, cfg node.Config, stdout, stderr io.Writer, started func(*node.Node)) int {
	return runCluster(ctx, []node.Config{cfg}, stdout, stderr, nil, func(ns []*node.Node) {
		if started != nil {
			started(ns[0])
		}
	})
}

// runCluster builds and starts the nodes in order, then supervises them
// until ctx ends (SIGTERM, SIGINT) or a listener fails; SIGHUP reloads
// every node. afterStart, if not nil, runs after each node starts;
// started, if not nil, runs once all serve. Each node is
// built after the previous one started, so a later node's Override may
// use an earlier node's addresses.
func runCluster(ctx context.Context, cfgs []node.Config, stdout, stderr io.Writer, afterStart func(int, *node.Node), started func([]*node.Node)) int {
	var ns []*node.Node
	defer func() { shutdownAll(ns) }()
	for _, cfg := range cfgs {
		logger, err := newLogger(cfg, stderr)
		if err != nil {
			defer fmt.Fprintln(stderr, "portico: nothing was started")
			return reportConfigError(stderr, err)
		}
		if len(cfgs) > 1 {
			logger = logger.With("node", len(ns)+1)
		}
		cfg.Logger, cfg.Stdout = logger, stdout
		n, err := node.New(cfg)
		if err != nil {
			return reportConfigError(stderr, err)
		}
		ns = append(ns, n)
		if err := n.Start(); err != nil {
			logger.Error("start failed", "err", err)
			return 1
		}
		if afterStart != nil {
			afterStart(len(ns)-1, n)
		}
	}
	if started != nil {
		started(ns)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	errc := make(chan error, len(ns))
	for _, n := range ns {
		go func() {
			select {
			case err := <-n.Err():
				errc <- err
			case <-ctx.Done():
			}
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return 0
		case err := <-errc:
			fmt.Fprintf(stderr, "portico: listener failed; stopping: %v\n", err)
			return 1
		case <-hup:
			for _, n := range ns {
				if err := n.Reload(); err != nil {
					fmt.Fprintf(stderr, "portico: config reload refused; the previous config keeps serving (version %d):\n%v\n", n.Snapshot().Version, err)
				}
			}
		}
	}
}

// shutdownAll drains every node (in reverse order) within its
// shutdown_timeout.
func shutdownAll(ns []*node.Node) {
	for i := len(ns) - 1; i >= 0; i-- {
		n := ns[i]
		timeout := n.Snapshot().Node.ShutdownTimeout.D()
		sctx, cancel := context.WithTimeout(context.Background(), timeout)
		if err := n.Shutdown(sctx); err != nil {
			fmt.Fprintf(os.Stderr, "portico: %s: drain ended before every request finished: %v\n", n.Snapshot().Node.Name, err)
		}
		cancel()
	}
}

// newLogger builds the process log from the config's node.log settings.
func newLogger(cfg node.Config, stderr io.Writer) (*slog.Logger, error) {
	var f *config.File
	var err error
	if cfg.File != "" {
		data, rerr := os.ReadFile(cfg.File)
		if rerr != nil {
			return nil, fmt.Errorf("read config: %w", rerr)
		}
		f, err = config.ParseWith(cfg.File, data, envOr(cfg.Env), cfg.Override)
	} else {
		f, err = config.ParseWith(cfg.SourceName, cfg.Source, envOr(cfg.Env), cfg.Override)
	}
	if err != nil {
		return nil, err
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(f.Node.Log.Level)) // validated already
	opts := &slog.HandlerOptions{Level: level}
	if f.Node.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts)), nil
	}
	return slog.New(slog.NewTextHandler(stderr, opts)), nil
}

func envOr(env config.Env) config.Env {
	if env == nil {
		return os.LookupEnv
	}
	return env
}

// reportConfigError prints a config (or startup) error, every problem on
// its own line, and returns exit code 1.
func reportConfigError(stderr io.Writer, err error) int {
	var cerrs config.Errors
	if errors.As(err, &cerrs) {
		fmt.Fprintln(stderr, cerrs.Error())
		fmt.Fprintf(stderr, "portico: config invalid (%d problem(s))\n", len(cerrs))
		return 1
	}
	fmt.Fprintf(stderr, "portico: %v\n", err)
	return 1
}
