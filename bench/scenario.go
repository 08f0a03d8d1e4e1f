package bench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"
)

// Loop is how a scenario drives load.
type Loop string

const (
	// LoopClosed keeps a fixed number of connections busy back to back:
	// it measures throughput (ClosedLoop).
	LoopClosed Loop = "closed"
	// LoopOpen sends at a fixed rate: it measures latency at a known load
	// (OpenLoop).
	LoopOpen Loop = "open"
	// LoopCluster sends no load: it starts its own cluster of portico
	// nodes and measures config writes, failure detection and idle cost
	// (see cluster.go). Its rows are measures, not targets.
	LoopCluster Loop = "cluster"
	// LoopProtocols is a closed loop over TLS, once per protocol (h1, h2,
	// h3), against a portico and a Caddy of its own (see protocols.go).
	LoopProtocols Loop = "protocols"
	// LoopWAN times new connections and short request series through an
	// emulated WAN, against a portico of its own (see wan.go).
	LoopWAN Loop = "wan"
	// LoopCache is a closed loop of cache hits against targets of its
	// own: a portico with a cached route and the peers with their caches
	// on (see cache.go).
	LoopCache Loop = "cache"
	// LoopCacheCluster starts a portico cluster with a cached route and
	// times, in an open loop, hits served by a key's owner against hits
	// a node fetches from the owner (see cachecluster.go).
	LoopCacheCluster Loop = "cache-cluster"
	// LoopRateLimit is a closed loop against rate-limited targets of its
	// own: a plain route, a local limit on one node, and global limits
	// (async, strict) on a cluster (see ratelimit.go).
	LoopRateLimit Loop = "ratelimit"
	// LoopRateLimitLatency is an open loop against the same targets.
	LoopRateLimitLatency Loop = "ratelimit-latency"
)

// Scenario is one measured situation: what each target is asked, and how.
// Every scenario runs against the targets of one testbed in a fixed order
// (direct, portico, then the peers), each after its own warm-up.
type Scenario struct {
	// Name is the scenario's key in --scenarios and in the reports.
	Name string `json:"name"`
	// About says in a line what it measures.
	About string `json:"about"`
	// Path is the request path every target is sent, e.g. "/bytes/1024";
	// empty for a cluster scenario.
	Path string `json:"path,omitempty"`
	// Loop is the load model.
	Loop Loop `json:"loop"`
	// Connections is the number of connections of a closed loop.
	Connections int `json:"connections,omitempty"`
	// Rate is the requests per second of an open loop.
	Rate int `json:"rate,omitempty"`
	// Targets restricts the scenario to these targets; nil means all.
	Targets []string `json:"targets,omitempty"`
	// Nodes is the size of a cluster scenario's cluster, Voters how many
	// of them vote in Raft (the first ones started; the others join as
	// non-voters).
	Nodes  int `json:"nodes,omitempty"`
	Voters int `json:"voters,omitempty"`
	// Writes is the number of sequential config writes of a cluster
	// scenario.
	Writes int `json:"writes,omitempty"`
	// IdleS is how long, in seconds, a cluster scenario samples its idle
	// nodes.
	IdleS float64 `json:"idle_s,omitempty"`
	// Protocols are the protocols of a protocols scenario, each measured
	// with Connections requests in flight (see edgeShape).
	Protocols []Protocol `json:"protocols,omitempty"`
	// WAN is the emulated network and the samples of a wan scenario.
	WAN *WANSpec `json:"wan,omitempty"`
	// Keys is how many keys, all owned by one node, a cache-cluster
	// scenario requests in turn (Path with ?k=N), or how many values of
	// X-Bench-Key, the global limits' key, a ratelimit scenario sends in
	// turn.
	Keys int `json:"keys,omitempty"`
}

// WANSpec is what a wan scenario emulates and how many samples it takes.
type WANSpec struct {
	// RTTMS is the round-trip time added to every packet's way there and
	// back, half each way, in milliseconds.
	RTTMS float64 `json:"rtt_ms"`
	// LossPct is the chance, in percent, that a packet is dropped, drawn
	// for each packet in each direction.
	LossPct float64 `json:"loss_pct"`
	// NewConns is how many new connections each TTFB measure opens (K).
	NewConns int `json:"new_conns"`
	// SeriesConns is how many connections the series measure opens, each
	// sending SeriesRequests requests one after the other.
	SeriesConns    int `json:"series_conns"`
	SeriesRequests int `json:"series_requests"`
	// BoundS bounds each measure in seconds: it stops early, with fewer
	// samples, when its connections take longer.
	BoundS float64 `json:"bound_s"`
}

// Scenarios is the built-in list, in run order, for the load settings of
// o (its zero fields take their defaults): a closed loop of
// o.Connections, an open loop of o.Rate requests per second, the edge
// protocols over TLS with o.Connections requests in flight, the emulated
// WAN with o.WANConns new connections per measure, a 5-node cluster, cache
// hits on one node (closed loop of o.Connections) and across a 3-node
// cluster (an open loop of its own rate), and the cost of rate limits
// (closed loop of o.Connections, open loop of o.Rate).
func Scenarios(o Options) []Scenario {
	o = o.withDefaults()
	connections, rate := o.Connections, o.Rate
	return []Scenario{
		{
			Name:        "passthrough",
			About:       "throughput of a plain proxied GET of 1 KiB over keep-alive connections",
			Path:        "/bytes/1024",
			Loop:        LoopClosed,
			Connections: connections,
		},
		{
			Name:  "latency",
			About: "latency of a plain proxied GET of 1 KiB at a fixed request rate, and what the proxy adds to direct",
			Path:  "/bytes/1024",
			Loop:  LoopOpen,
			Rate:  rate,
		},
		{
			Name: "cache",
			About: "throughput and proxy CPU per request of cache hits on one node, against nginx proxy_cache " +
				"and the HAProxy cache, and direct to the backend",
			Path:        cachePath,
			Loop:        LoopCache,
			Connections: connections,
		},
		{
			Name: "protocols",
			About: "throughput and proxy CPU per request of a proxied GET of 1 KiB over TLS: " +
				"HTTP/1.1, HTTP/2 and HTTP/3, portico against Caddy",
			Path:        "/bytes/1024",
			Loop:        LoopProtocols,
			Connections: connections,
			Protocols:   []Protocol{ProtoH1, ProtoH2, ProtoH3},
		},
		{
			Name: "wan",
			About: "time to first byte of a new connection through an emulated WAN: HTTP/2 over TLS 1.3, " +
				"HTTP/3, HTTP/3 with 0-RTT; and requests in series on one connection",
			Path: "/bytes/1024",
			Loop: LoopWAN,
			WAN: &WANSpec{
				RTTMS: wanRTT.Seconds() * 1000, LossPct: wanLoss * 100,
				NewConns: o.WANConns, SeriesConns: max(1, o.WANConns/10), SeriesRequests: wanSeriesRequests,
				BoundS: wanBound(o.Duration).Seconds(),
			},
		},
		{
			Name: "cluster",
			About: "a loopback cluster: config write until applied on every node, " +
				"failure detection of a killed node, and the idle cost of each node",
			Loop:   LoopCluster,
			Nodes:  clusterNodes,
			Voters: clusterVoters,
			Writes: o.ClusterWrites,
			IdleS:  o.ClusterIdle.Seconds(),
		},
		{
			Name: "cache-cluster",
			About: "latency a remote cache hit adds: keys owned by one node of a 3-node cluster, " +
				"asked of another node (which fetches the owner's entry) and of the owner itself",
			Path:   cachePath,
			Loop:   LoopCacheCluster,
			Nodes:  cacheClusterNodes,
			Voters: cacheClusterNodes,
			Rate:   cacheClusterRate,
			Keys:   cacheClusterKeys,
		},
		{
			Name: "ratelimit",
			About: "throughput and proxy CPU per request of a rate-limited route that never denies: " +
				"no limit, a local limit, global limits (async, strict) on a 3-node cluster",
			Path:        rateLimitPath,
			Loop:        LoopRateLimit,
			Connections: connections,
			Nodes:       rateLimitNodes,
			Voters:      rateLimitNodes,
			Keys:        rateLimitKeys,
		},
		{
			Name: "ratelimit-latency",
			About: "latency a rate limit that never denies adds at a fixed request rate: " +
				"no limit, a local limit, global limits (async, strict) on a 3-node cluster",
			Path:   rateLimitPath,
			Loop:   LoopRateLimitLatency,
			Rate:   rate,
			Nodes:  rateLimitNodes,
			Voters: rateLimitNodes,
			Keys:   rateLimitKeys,
		},
	}
}

// wants reports whether the scenario runs against the named target.
func (s Scenario) wants(name string) bool {
	if s.Targets == nil {
		return true
	}
	for _, t := range s.Targets {
		if t == name {
			return true
		}
	}
	return false
}

// loader is one load phase: ClosedLoop or OpenLoop.
type loader interface {
	Run(ctx context.Context) (*Result, error)
}

// load builds the scenario's load phase against url, sending through tr.
func (s Scenario) load(url string, d time.Duration, done *atomic.Int64, tr *http.Transport) loader {
	if s.Loop == LoopOpen {
		return OpenLoop{URL: url, Rate: s.Rate, Duration: d, Done: done, Transport: tr}
	}
	return ClosedLoop{URL: url, Connections: s.Connections, Duration: d, Done: done, Transport: tr}
}

// transport is a connection pool large enough for the scenario's load.
func (s Scenario) transport() *http.Transport {
	if s.Loop == LoopOpen || s.Loop == LoopRateLimitLatency {
		return newTransport(defaultMaxWorkers)
	}
	return newTransport(s.Connections)
}

// validate reports a scenario that can't run.
func (s Scenario) validate() error {
	switch {
	case s.Loop == LoopClosed && s.Connections <= 0:
		return fmt.Errorf("scenario %s: connections must be positive", s.Name)
	case s.Loop == LoopOpen && s.Rate <= 0:
		return fmt.Errorf("scenario %s: rate must be positive", s.Name)
	case s.Loop == LoopCluster && (s.Nodes < 2 || s.Voters < 1 || s.Voters > s.Nodes || s.Writes <= 0 || s.IdleS <= 0):
		return fmt.Errorf("scenario %s: needs 2 nodes or more, 1 to nodes voters, writes and idle positive", s.Name)
	case s.Loop == LoopProtocols && (s.Connections <= 0 || len(s.Protocols) == 0):
		return fmt.Errorf("scenario %s: needs connections and protocols", s.Name)
	case s.Loop == LoopWAN && (s.WAN == nil || s.WAN.NewConns <= 0 || s.WAN.SeriesConns <= 0 ||
		s.WAN.SeriesRequests <= 0 || s.WAN.BoundS <= 0 || s.WAN.LossPct < 0 || s.WAN.LossPct > 100):
		return fmt.Errorf("scenario %s: needs connections, requests and a bound, loss from 0 to 100%%", s.Name)
	case s.Loop == LoopCache && (s.Connections <= 0 || s.Path == ""):
		return fmt.Errorf("scenario %s: needs connections and a path", s.Name)
	case s.Loop == LoopCacheCluster && (s.Nodes < 2 || s.Voters < 1 || s.Voters > s.Nodes || s.Rate <= 0 || s.Keys <= 0 || s.Path == ""):
		return fmt.Errorf("scenario %s: needs 2 nodes or more, 1 to nodes voters, a rate, keys and a path", s.Name)
	case (s.Loop == LoopRateLimit || s.Loop == LoopRateLimitLatency) && (s.Nodes < 2 || s.Voters < 1 || s.Voters > s.Nodes || s.Keys <= 0 || s.Path == ""):
		return fmt.Errorf("scenario %s: needs 2 nodes or more, 1 to nodes voters, keys and a path", s.Name)
	case s.Loop == LoopRateLimit && s.Connections <= 0, s.Loop == LoopRateLimitLatency && s.Rate <= 0:
		return fmt.Errorf("scenario %s: needs connections (closed loop) or a rate (open loop)", s.Name)
	case !slices.Contains([]Loop{LoopClosed, LoopOpen, LoopCluster, LoopProtocols, LoopWAN, LoopCache, LoopCacheCluster,
		LoopRateLimit, LoopRateLimitLatency}, s.Loop):
		return fmt.Errorf("scenario %s: unknown loop %q", s.Name, s.Loop)
	}
	return nil
}
