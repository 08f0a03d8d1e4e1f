package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Options configures a run. The zero value of a field means its default.
type Options struct {
	// Binary is the portico binary that runs the gateway (`serve`) and the
	// backend (`demo-upstream`). (Required)
	Binary string
	// Duration is the length of each measured phase. (Optional) Defaults
	// to 10s.
	Duration time.Duration
	// Warmup is the unmeasured load sent to each target before its phase.
	// (Optional) Defaults to 1s; negative means none.
	Warmup time.Duration
	// Scenarios names the scenarios to run, in the order of Scenarios.
	// (Optional) Defaults to all.
	Scenarios []string
	// Peers names the peers to compare with. (Optional) nil means nginx,
	// haproxy and caddy; an empty non-nil slice means none. nginx and
	// HAProxy join the plain HTTP scenarios, Caddy the edge scenarios.
	Peers []string
	// NoInstall keeps missing peers uninstalled (they are skipped) instead
	// of running apt-get when root, or building Caddy with go install.
	NoInstall bool
	// NoPin leaves the CPU affinity of everything alone.
	NoPin bool
	// Connections is the closed-loop connection count. (Optional) Defaults
	// to 64.
	Connections int
	// Rate is the open-loop rate in requests per second. (Optional)
	// Defaults to 2000.
	Rate int
	// ClusterWrites is the number of config writes the cluster scenario
	// times. (Optional) Defaults to 200.
	ClusterWrites int
	// ClusterIdle is how long the cluster scenario samples its idle
	// nodes' CPU and memory. (Optional) Defaults to 10s.
	ClusterIdle time.Duration
	// WANConns is how many new connections each TTFB measure of the wan
	// scenario opens; its series measure opens a tenth of that (at least
	// one). (Optional) Defaults to 100.
	WANConns int
	// Progress receives the progress display (usually stderr); nil shows
	// nothing.
	Progress io.Writer
}

// Defaults of Options.
const (
	defaultRate          = 2000
	defaultClusterWrites = 200
	defaultClusterIdle   = 10 * time.Second
	defaultWANConns      = 100
)

func (o Options) withDefaults() Options {
	if o.Duration <= 0 {
		o.Duration = defaultDuration
	}
	if o.Warmup == 0 {
		o.Warmup = time.Second
	}
	if o.Connections <= 0 {
		o.Connections = defaultConnections
	}
	if o.Rate <= 0 {
		o.Rate = defaultRate
	}
	if o.ClusterWrites <= 0 {
		o.ClusterWrites = defaultClusterWrites
	}
	if o.ClusterIdle <= 0 {
		o.ClusterIdle = defaultClusterIdle
	}
	if o.WANConns <= 0 {
		o.WANConns = defaultWANConns
	}
	if o.Peers == nil {
		o.Peers = defaultPeers()
	}
	return o
}

// defaultPeers are all the peers we know: the apt-installed ones, then
// Caddy.
func defaultPeers() []string {
	var names []string
	for _, p := range peers() {
		names = append(names, p.name)
	}
	return append(names, PeerCaddy)
}

// plan resolves the options into the scenarios and the apt-installed
// peers to run (Caddy, the edge scenarios' peer, is found by wantsCaddy).
func (o Options) plan() ([]Scenario, []peer, error) {
	if o.Binary == "" {
		return nil, nil, errors.New("no portico binary: pass --binary")
	}
	if _, err := os.Stat(o.Binary); err != nil {
		return nil, nil, fmt.Errorf("portico binary: %w", err)
	}
	all := Scenarios(o)
	var scenarios []Scenario
	for _, sc := range all {
		if len(o.Scenarios) > 0 && !slices.Contains(o.Scenarios, sc.Name) {
			continue
		}
		if err := sc.validate(); err != nil {
			return nil, nil, err
		}
		scenarios = append(scenarios, sc)
	}
	for _, name := range o.Scenarios {
		if !slices.ContainsFunc(all, func(sc Scenario) bool { return sc.Name == name }) {
			return nil, nil, fmt.Errorf("unknown scenario %q (known: %s)", name, scenarioNames(all))
		}
	}
	var chosen []peer
	for _, name := range o.Peers {
		if name == PeerCaddy {
			continue
		}
		i := slices.IndexFunc(peers(), func(p peer) bool { return p.name == name })
		if i < 0 {
			return nil, nil, fmt.Errorf("unknown peer %q (known: %s)", name, strings.Join(defaultPeers(), ", "))
		}
		chosen = append(chosen, peers()[i])
	}
	return scenarios, chosen, nil
}

// needsProxies reports whether a scenario loads the testbed's plain HTTP
// targets: the gateway and the apt peers are started (and installed) only
// then. The other scenarios start their own.
func needsProxies(scenarios []Scenario) bool {
	return slices.ContainsFunc(scenarios, func(sc Scenario) bool { return sc.Loop == LoopClosed || sc.Loop == LoopOpen })
}

// needsLoop reports whether a scenario has that loop.
func needsLoop(scenarios []Scenario, loop Loop) bool {
	return slices.ContainsFunc(scenarios, func(sc Scenario) bool { return sc.Loop == loop })
}

// needsCaddy reports whether a scenario has Caddy as a peer.
func needsCaddy(scenarios []Scenario) bool {
	return slices.ContainsFunc(scenarios, func(sc Scenario) bool { return sc.Loop == LoopProtocols || sc.Loop == LoopWAN })
}

func scenarioNames(all []Scenario) string {
	names := make([]string, len(all))
	for i, sc := range all {
		names[i] = sc.Name
	}
	return strings.Join(names, ", ")
}

// Run starts the testbed, measures every scenario against every target,
// stops every child and returns the report. When ctx ends first it
// returns the rows measured so far, marked Interrupted, with ctx's error.
func Run(ctx context.Context, o Options) (*Report, error) {
	o = o.withDefaults()
	scenarios, chosenPeers, err := o.plan()
	if err != nil {
		return nil, err
	}
	taskset := findBinary("taskset")
	pin := planPinning(!o.NoPin, taskset)
	rep := &Report{
		Started:  time.Now().UTC(),
		Settings: newSettings(o),
	}
	tb, err := startTestbed(ctx, bedConfig{
		binary: o.Binary, peers: chosenPeers, install: !o.NoInstall,
		cpu: pin.childCPU(), taskset: taskset, proxies: needsProxies(scenarios), findPeers: needsLoop(scenarios, LoopCache),
		caddy: wantsCaddy(o.Peers) && needsCaddy(scenarios),
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		// A fresh context: the children must be stopped even after Ctrl-C.
		stopCtx, cancel := context.WithTimeout(context.Background(), 2*stopGrace)
		defer cancel()
		_ = tb.close(stopCtx)
	}()
	pr := newProgress(o.Progress)
	if needsCaddy(scenarios) {
		// Before pinning: building Caddy (go install, a child) would
		// inherit the load generator's single CPU.
		if _, err := tb.edgeKit(ctx, pr); err != nil {
			return nil, err
		}
	}
	if pin.Enabled {
		restore, err := pinSelf(pin.LoadCPU)
		if err != nil {
			pin = Pinning{Note: "off: " + err.Error()}
		} else {
			defer restore()
		}
	}
	rep.Environment = environment(ctx, pin, tb.versions)
	seed := uint64(time.Now().UnixNano())
	ph := phase{tb: tb, rng: rand.New(rand.NewPCG(seed, seed)), duration: o.Duration, warmup: max(0, o.Warmup), progress: pr}
	for _, sc := range scenarios {
		if ctx.Err() != nil {
			break
		}
		sr := ScenarioReport{Scenario: sc}
		switch sc.Loop {
		case LoopCluster:
			sr.Rows = ph.measureCluster(ctx, sc)
		case LoopProtocols:
			sr.Rows, sr.Ratios = ph.measureProtocols(ctx, sc)
		case LoopWAN:
			sr.Rows, sr.Ratios = ph.measureWAN(ctx, sc)
		case LoopCache:
			sr.Rows, sr.Ratios, sr.Notes = ph.measureCache(ctx, sc)
		case LoopCacheCluster:
			sr.Rows, sr.Notes = ph.measureCacheCluster(ctx, sc)
		case LoopRateLimit, LoopRateLimitLatency:
			sr.Rows, sr.Ratios, sr.Notes = ph.measureRateLimit(ctx, sc)
		default:
			for _, t := range tb.targets {
				if sc.wants(t.name) && ctx.Err() == nil {
					sr.Rows = append(sr.Rows, ph.measure(ctx, sc, t))
				}
			}
		}
		compare(sc, sr.Rows)
		rep.Scenarios = append(rep.Scenarios, sr)
	}
	rep.Finished = time.Now().UTC()
	if err := ctx.Err(); err != nil {
		rep.Interrupted = true
		return rep, fmt.Errorf("run interrupted: %w", err)
	}
	return rep, nil
}

// environment describes the machine and the software measured.
func environment(ctx context.Context, pin Pinning, versions map[string]string) Environment {
	env := Environment{
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
		CPUs:      runtime.NumCPU(),
		CPUModel:  cpuModel(),
		Kernel:    readTrim("/proc/sys/kernel/osrelease"),
		Pinning:   pin,
		Versions:  versions,
	}
	if out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty", "--tags").Output(); err == nil {
		env.GitDescribe = strings.TrimSpace(string(out))
	}
	return env
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
