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
	"strings"
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
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "portico serve: needs --config FILE and no other arguments (to try Portico without a file: portico dev)")
		return 2
	}
	return runNode(ctx, node.Config{File: *file, Override: overrides(*listen, *admin)}, stdout, stderr, nil)
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

// runNode builds, starts and supervises a node until ctx ends (SIGTERM,
// SIGINT) or a listener fails; SIGHUP reloads. started, if not nil, runs
// once the node serves.
func runNode(ctx context.Context, cfg node.Config, stdout, stderr io.Writer, started func(*node.Node)) int {
	logger, err := newLogger(cfg, stderr)
	if err != nil {
		return reportConfigError(stderr, err)
	}
	cfg.Logger, cfg.Stdout = logger, stdout
	n, err := node.New(cfg)
	if err != nil {
		return reportConfigError(stderr, err)
	}
	if err := n.Start(); err != nil {
		logger.Error("start failed", "err", err)
		_ = n.Shutdown(context.Background())
		return 1
	}
	if started != nil {
		started(n)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	code := 0
	for loop := true; loop; {
		select {
		case <-ctx.Done():
			loop = false
		case err := <-n.Err():
			logger.Error("listener failed; stopping", "err", err)
			code, loop = 1, false
		case <-hup:
			if err := n.Reload(); err != nil {
				logger.Error("config reload refused; the previous config keeps serving",
					"version", n.Snapshot().Version, "errors", strings.Split(err.Error(), "\n"))
			}
		}
	}
	timeout := n.Snapshot().Node.ShutdownTimeout.D()
	logger.Info("draining", "timeout", timeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := n.Shutdown(sctx); err != nil {
		logger.Warn("drain ended before every request finished", "err", err)
	}
	return code
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
		fmt.Fprintf(stderr, "portico: config invalid (%d problem(s)); nothing was started\n", len(cerrs))
		return 1
	}
	fmt.Fprintf(stderr, "portico: %v\n", err)
	return 1
}
