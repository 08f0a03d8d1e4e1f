package limiter

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultSyncInterval    = 50 * time.Millisecond
	DefaultBatchWindow     = 500 * time.Microsecond
	DefaultBatchMax        = 64
	DefaultDecisionTimeout = 250 * time.Millisecond
	DefaultMaxKeys         = 1 << 20
	DefaultFlushInterval   = time.Second
	DefaultPeerRetry       = time.Second
)

// OwnerPicker says which node owns a global key. node adapts the
// cluster's ring to it. Both methods must be safe for concurrent use
// and must not block: Owner runs on every global decision.
type OwnerPicker interface {
	// Owner returns the peer that owns key as the "host:port" the
	// Transport dials, or self true when this node owns it. An empty
	// peer is taken as self.
	Owner(key string) (peer string, self bool)
	// Nodes returns how many nodes are live, this one included: the
	// divisor of a fallback limit. Values below 1 count as 1.
	Nodes() int
}

// ReplicaPicker is implemented by an OwnerPicker that can name a key's
// successor on the ring: the node that would own the key if its owner
// left. Owners push quota counters to it (see doc.go). Without it,
// quotas are not replicated.
type ReplicaPicker interface {
	// Replica returns the key's successor, or ok false when there is
	// none (a single node) or it is this node.
	Replica(key string) (peer string, ok bool)
}

// Config configures a Limiter. Zero fields take their defaults. A Config
// is read once by New; its functions and interfaces must be safe for
// concurrent use.
type Config struct {
	// Name is this node's name, in logs. (Optional) Defaults to
	// "portico".
	Name string

	// Owners picks each global key's owner. (Optional) If nil, this node
	// owns every key: global limits are enforced as local ones.
	Owners OwnerPicker
	// Transport carries peer requests: POST https://<peer>/limiter/v1/...
	// Required with Owners.
	Transport http.RoundTripper

	// SyncInterval is how often async hits go to their owners in one
	// batch per owner, and views come back. (Optional) Defaults to 50ms;
	// negative disables the background sync (tests call Flush).
	SyncInterval time.Duration
	// BatchWindow bounds how long a strict decision waits to join a
	// batch while earlier batches to the same owner are still out; a
	// decision with none ahead of it leaves at once. (Optional) Defaults
	// to 500µs.
	BatchWindow time.Duration
	// BatchMax sends a strict batch early when it holds this many
	// decisions. (Optional) Defaults to 64.
	BatchMax int
	// DecisionTimeout bounds how long a strict decision waits for its
	// owner (batching included); past it the node decides that one with
	// the fallback limit, charged to the owner. It is sized for a loaded
	// machine, where an answer waits for a core: a deadline near the
	// round trip turns load into fallbacks, which admit on top of the
	// owner. (Optional) Defaults to 250ms.
	DecisionTimeout time.Duration
	// PeerRetry is how long, on the Now clock, an owner that failed is
	// left alone (its keys use the fallback limit) before it is asked
	// again: after a refused or broken connection or an error status, or
	// after three peer requests in a row missed their deadline (one slow
	// answer is not a failure). A sync it answers ends it early.
	// (Optional) Defaults to 1s.
	PeerRetry time.Duration

	// MaxKeys bounds the states this node keeps for rate limits (local
	// keys, owned keys, views and fallbacks together); past it the least
	// recently used are evicted. Quota counters are not bounded by it
	// (see doc.go). (Optional) Defaults to 1<<20 (about 130 MiB).
	MaxKeys int

	// DataDir is where the quota counters this node holds are persisted
	// (file quotas.json). (Optional) If empty, quotas live in memory
	// only (and on replicas).
	DataDir string
	// FlushInterval is how often quota counters are written to DataDir
	// and pushed to replicas, and expired states swept. (Optional)
	// Defaults to 1s; negative disables the background flush (tests call
	// Flush).
	FlushInterval time.Duration

	// Now is the clock of every algorithm. (Optional) Defaults to
	// time.Now. Peer deadlines and batching use the real clock.
	Now func() time.Time
	// Registerer, if not nil, gets the Limiter's collectors
	// (portico_limiter_*, see metrics.go); two Limiters need two
	// registries. (Optional) If nil, nothing is registered.
	Registerer prometheus.Registerer
	// Logger receives peer and file failures. (Optional) If nil,
	// discarded.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "portico"
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.BatchWindow == 0 {
		c.BatchWindow = DefaultBatchWindow
	}
	if c.BatchMax == 0 {
		c.BatchMax = DefaultBatchMax
	}
	if c.DecisionTimeout == 0 {
		c.DecisionTimeout = DefaultDecisionTimeout
	}
	if c.PeerRetry == 0 {
		c.PeerRetry = DefaultPeerRetry
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = DefaultMaxKeys
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate checks a Config that has its defaults.
func (c Config) validate() error {
	switch {
	case c.Owners != nil && c.Transport == nil:
		return errors.New("owners need a transport for peer requests")
	case c.BatchWindow < 0:
		return errors.New("batch window must not be negative")
	case c.BatchMax < 1:
		return errors.New("batch max must be at least 1")
	case c.DecisionTimeout < 0:
		return errors.New("decision timeout must not be negative")
	case c.PeerRetry < 0:
		return errors.New("peer retry must not be negative")
	case c.MaxKeys < 1:
		return errors.New("max keys must be at least 1")
	}
	return nil
}
