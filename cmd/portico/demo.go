package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/portico-gw/portico/bench"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("portico demo-upstream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9000", "address to serve on")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	url, errc, stop, err := startDemo(*listen)
	if err != nil {
		fmt.Fprintf(stderr, "portico demo-upstream: %v\n", err)
		return 1
	}
	defer stop()
	fmt.Fprintf(stdout, "demo upstream on %s\n", url)
	select {
	case <-ctx.Done():
		return 0
	case err := <-errc:
		fmt.Fprintf(stderr, "portico demo-upstream: %v\n", err)
		return 1
	}
}

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return bench.Main(ctx, args, stdout, stderr)
}
