package cache

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/portico-gw/portico/problem"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxBytes    = 256 << 20
	DefaultNearTTL     = 5 * time.Second
	DefaultPeerTimeout = 2 * time.Second
)

// OwnerPicker says which node owns a key. node adapts the cluster's ring
// to it. Owner must be safe for concurrent use and should not block: it
// runs on every cacheable request that misses the near tier.
type OwnerPicker interface {
	// Owner returns the peer that owns key within scope ("region" or
	// "cluster", the Policy's Scope) as the "host:port" the Transport
	// dials, or self true when this node owns it. An empty peer with self
	// false is taken as self: no owner is known.
	Owner(key, scope string) (peer string, self bool)
}

// Config configures a Cache. Zero fields take their defaults.
type Config struct {
	// Name is this node's name, shown in Cache-Status ("node=dev-1") and
	// sent to peers with the entries this node owns. (Optional) Defaults
	// to "portico".
	Name string

	// MaxBytes bounds the owner tier: entries this node owns, counted as
	// body + headers + key + a fixed per-entry overhead (see doc.go).
	// (Optional) Defaults to 256 MiB.
	MaxBytes int64
	// NearMaxBytes bounds the near tier: copies of entries owned by other
	// nodes, kept briefly on the node that asked. (Optional) Defaults to
	// MaxBytes/8; negative disables the near tier.
	NearMaxBytes int64
	// NearTTL caps how long a near copy is served. (Optional) Defaults to
	// 5s.
	NearTTL time.Duration

	// Owners picks the owner of each key. (Optional) If nil, every key is
	// owned here and no peer is ever asked.
	Owners OwnerPicker
	// Transport carries peer requests: POST https://<peer>/cache/v2/fill
	// and /cache/v1/purge (peer.go). Required with Owners, and by
	// PurgeCluster.
	// Peers' fills are served with the published Routes (Cache.Publish).
	Transport http.RoundTripper
	// Peers lists the peer addresses ("host:port", as the Transport dials
	// them) of the other live nodes. A successful unsafe request
	// invalidates its URL's entries there too (PurgeCluster), before its
	// response goes to the client. (Optional) If nil, invalidations stay
	// on this node.
	Peers func() []string
	// PeerTimeout bounds the wait for an owner's response headers; past it
	// this node fetches from the upstream itself. The body then streams
	// without a deadline (the proxy bounds upstream time). (Optional)
	// Defaults to 2s.
	PeerTimeout time.Duration

	// Now is the clock for freshness and Age. (Optional) Defaults to
	// time.Now. Timeouts (PeerTimeout) and ristretto's memory expiry use
	// the real clock.
	Now func() time.Time
	// Registerer, if not nil, gets the Cache's Prometheus collectors
	// (portico_cache_*, see metrics.go). Each Cache has its own
	// collectors: two Caches need two registries. (Optional) If nil,
	// nothing is registered.
	Registerer prometheus.Registerer
	// Logger receives peer failures (at debug: each one is also counted in
	// portico_cache_peer_errors_total), fills an owner refused for
	// another config version or an older protocol (at debug, counted in
	// portico_cache_peer_version_mismatches_total) and misuse (at error:
	// Publish of another Cache's Routes). (Optional) If nil, discarded.
	Logger *slog.Logger
	// Problem writes the answers the cache makes itself (the
	// only-if-cached 504), so that the caller can add the request id and
	// record the problem. (Optional) If nil, problem.Write without a
	// request id.
	Problem func(w http.ResponseWriter, r *http.Request, t problem.Type)
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "portico"
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.NearMaxBytes == 0 {
		c.NearMaxBytes = c.MaxBytes / 8
	}
	if c.NearTTL == 0 {
		c.NearTTL = DefaultNearTTL
	}
	if c.PeerTimeout == 0 {
		c.PeerTimeout = DefaultPeerTimeout
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
	case c.MaxBytes < minTierBytes:
		return errors.New("max bytes must be at least 4 KiB")
	case c.NearMaxBytes > 0 && c.NearMaxBytes < minTierBytes:
		return errors.New("near max bytes must be at least 4 KiB, or negative to disable the near tier")
	case c.NearTTL < 0:
		return errors.New("near ttl must not be negative")
	case c.PeerTimeout < 0:
		return errors.New("peer timeout must not be negative")
	case c.Owners != nil && c.Transport == nil:
		return errors.New("owners need a transport for peer requests")
	case !validToken(c.Name):
		return errors.New("name must be a token (letters, digits and -._~!#$&'*+^`|)")
	}
	return nil
}

// validToken reports whether s is a non-empty RFC 9110 token, so it can
// stand unquoted in Cache-Status.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte(s[i]) {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
