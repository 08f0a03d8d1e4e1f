package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Output file names, written in --out.
const (
	ResultsFile = "bench-results.json"
	ReportFile  = "bench-report.md"
)

// Main is `portico bench`: it parses args (without the program and
// subcommand names), runs the benchmark, prints the table on stdout and
// progress on stderr, and writes ResultsFile and ReportFile. It returns the
// exit code: 0 on success, 1 when the run failed or was interrupted (the
// partial results are still written), 2 on bad arguments. Ctrl-C (SIGINT)
// and SIGTERM stop the run and every child.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, out, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	o.Progress = stderr
	rep, runErr := Run(ctx, o)
	if rep == nil {
		fmt.Fprintf(stderr, "bench: %v\n", runErr)
		return 1
	}
	fmt.Fprintln(stdout)
	if err := WriteTable(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if err := writeFiles(out, rep); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "wrote %s and %s\n", filepath.Join(out, ResultsFile), filepath.Join(out, ReportFile))
	if runErr != nil {
		fmt.Fprintf(stderr, "bench: %v\n", runErr)
		return 1
	}
	return 0
}

// parseFlags turns the command line into Options and the output dir.
func parseFlags(args []string, stderr io.Writer) (Options, string, error) {
	fs := flag.NewFlagSet("portico bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	self, _ := os.Executable()
	var (
		o         Options
		out       string
		scenarios string
		peerList  string
	)
	fs.StringVar(&o.Binary, "binary", self, "portico binary that runs the gateway and the backend")
	fs.DurationVar(&o.Duration, "duration", defaultDuration, "measured time per scenario and target")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "unmeasured load before each measured phase (0 for none)")
	fs.StringVar(&scenarios, "scenarios", scenarioNames(Scenarios(Options{})), "comma-separated scenarios to run")
	fs.StringVar(&out, "out", ".", "directory for "+ResultsFile+" and "+ReportFile)
	fs.StringVar(&peerList, "peers", strings.Join(defaultPeers(), ","), `peers to compare with (comma list), or "none"`)
	fs.BoolVar(&o.NoInstall, "no-install", false, "do not apt-get install missing peers nor build Caddy (they are skipped)")
	fs.BoolVar(&o.NoPin, "no-pin", false, "do not pin the load generator and the processes under test to CPUs")
	fs.IntVar(&o.Connections, "connections", defaultConnections, "connections of the closed-loop scenarios")
	fs.IntVar(&o.Rate, "rate", defaultRate, "requests per second of the open-loop scenarios")
	fs.IntVar(&o.ClusterWrites, "cluster-writes", defaultClusterWrites, "config writes the cluster scenario times")
	fs.DurationVar(&o.ClusterIdle, "cluster-idle", defaultClusterIdle, "how long the cluster scenario samples its idle nodes")
	fs.IntVar(&o.WANConns, "wan-conns", defaultWANConns, "new connections per TTFB measure of the wan scenario")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: portico bench [flags]\n\nBenchmarks portico against a direct baseline, nginx and HAProxy on loopback\n"+
			"(cache hits too: scenario cache), h1/h2/h3 over TLS against Caddy (scenario\n"+
			"protocols), new connections through an emulated WAN (scenario wan), a 5-node\n"+
			"portico cluster (scenario cluster), remote cache hits in a 3-node one\n"+
			"(scenario cache-cluster) and what rate limits cost, local and global\n"+
			"(scenarios ratelimit, ratelimit-latency).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, "", err
	}
	if fs.NArg() > 0 {
		return o, "", fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.Duration <= 0 || o.Warmup < 0 || o.Connections <= 0 || o.Rate <= 0 || o.ClusterWrites <= 0 || o.ClusterIdle <= 0 || o.WANConns <= 0 {
		return o, "", errors.New("--duration, --connections, --rate, --cluster-writes, --cluster-idle and --wan-conns must be positive, --warmup not negative")
	}
	if o.Warmup == 0 {
		o.Warmup = -1 // Options: zero means the default, negative means none
	}
	o.Scenarios = splitList(scenarios)
	o.Peers = splitList(peerList)
	if o.Peers == nil || peerList == "none" {
		o.Peers = []string{} // Options: nil means the default peers
	}
	if _, _, err := o.withDefaults().plan(); err != nil {
		return o, "", err
	}
	return o, out, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// writeFiles writes the JSON and Markdown reports into dir.
func writeFiles(dir string, rep *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating output dir: %w", err)
	}
	write := func(name string, fn func(io.Writer, *Report) error) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("creating %s: %w", name, err)
		}
		if err := fn(f, rep); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		return nil
	}
	if err := write(ResultsFile, WriteJSON); err != nil {
		return err
	}
	return write(ReportFile, WriteMarkdown)
}
