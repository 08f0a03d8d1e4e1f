package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	// The image is FROM scratch: no CA bundle. The fallback roots (the
	// Mozilla set, kept by the Go team) are used only when the system has
	// none, so https upstreams verify in the image too.
	_ "golang.org/x/crypto/x509roots/fallback"
)

// version is set at build time with -ldflags "-X main.version=..." (make
// does); otherwise `portico version` reads the build info.
var version = "dev"

const usage = `Portico — a self-clustering API gateway.

Usage:
  portico serve --config FILE [--listen ADDR] [--admin ADDR]
                                  run a gateway node
  portico dev [--listen ADDR] [--admin ADDR]
                                  run the showcase: a node on the embedded config and the demo upstream
  portico config validate FILE... check config files; every problem as file:line:col: reason
  portico config schema           print the config's JSON Schema (for editors)
  portico config diff -f FILE     compare FILE's upstreams and routes with the served config
                                  (exit 0: same, 1: they differ, 2: trouble, like diff(1))
  portico config apply -f FILE [--if-version N] [--force]
                                  apply FILE's upstreams and routes (to the whole cluster);
                                  --force: even if FILE has no routes
  portico members                 list cluster members
  portico cluster status          leader, term, voters, non-voters, config version per node
  portico purge --key K | --prefix URL | --tag T
                                  remove cached responses on every live node
  portico usage CONSUMER [--reset]
                                  a consumer's quota usage this period (--reset: back to zero)
  portico keygen                  print a new cluster key (node.cluster.gossip_key)
  portico apikey                  print a new API key for a consumer, and the sha256:... hash
                                  that goes in consumers[].api_keys (the key itself is never stored)
                                  (members, cluster, purge, usage and config diff/apply take --admin ADDR
                                  and --token-file FILE; defaults: 127.0.0.1:9901 and the
                                  dev cluster's token file; $PORTICO_ADMIN_TOKEN wins)
  portico demo-upstream --listen ADDR
                                  run the httpbin-like demo upstream
  portico bench [flags]           run the benchmark suite (portico bench -h)
  portico version                 print the version, commit and Go version
  (every command: -h or --help prints its help)

Signals (serve, dev): SIGHUP reloads the config file; SIGTERM or SIGINT drains
in-flight requests (up to node.shutdown_timeout) and exits 0.
`

func main() {
	// quic-go prints its own small-UDP-buffer warning with the std log
	// package; edge logs one with the fix instead (structured, once per
	// listener). The user's explicit setting wins.
	if _, set := os.LookupEnv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING"); !set {
		_ = os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if flaglessHelp(args, stdout) {
		return 0
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "dev":
		return cmdDev(ctx, args[1:], stdout, stderr)
	case "config":
		return cmdConfig(args[1:], stdout, stderr)
	case "demo-upstream":
		return cmdDemo(ctx, args[1:], stdout, stderr)
	case "bench":
		return cmdBench(ctx, args[1:], stdout, stderr)
	case "members":
		return cmdMembers(args[1:], stdout, stderr)
	case "cluster":
		return cmdCluster(args[1:], stdout, stderr)
	case "purge":
		return cmdPurge(args[1:], stdout, stderr)
	case "usage":
		return cmdUsage(args[1:], stdout, stderr)
	case "keygen":
		return cmdKeygen(stdout, stderr)
	case "apikey":
		return cmdAPIKey(stdout, stderr)
	case "version", "--version", "-v":
		printVersion(stdout)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "portico: unknown command %q\n\n%s", args[0], usage)
	return 2
}
