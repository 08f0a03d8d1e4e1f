package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures a Membership. The zero value of each optional field
// means its default; New applies them in one place (withDefaults).
type Config struct {
	// Meta describes this node. Meta.Name is required and is the
	// memberlist node name, unique in the cluster.
	Meta Meta

	// BindAddr is the gossip host:port, TCP and UDP. Port 0 picks a free
	// port (tests); GossipAddr reports the real one. (Optional) Defaults
	// to ":7946"; an empty host means all interfaces.
	BindAddr string

	// AdvertiseAddr is the host:port other nodes dial, for NAT and
	// containers; a host name is resolved once at New. (Optional) Defaults
	// to the bound address, or the first private address when bound to all
	// interfaces; port 0 or none means the bound port.
	AdvertiseAddr string

	// Join lists seeds (host:port, port defaulting to the bound port); a
	// name resolving to several addresses counts as several seeds. New
	// retries all of them until one answers. Empty: wait to be joined.
	Join []string

	// JoinBackoff is the first wait between join rounds; it doubles up to
	// JoinMaxBackoff, each wait jittered to between half and all of it.
	// (Optional) Default 1s and 30s.
	JoinBackoff, JoinMaxBackoff time.Duration

	// Keys are the gossip keys (16, 24 or 32 bytes; see ParseKey), the
	// first one primary: it encrypts, all of them decrypt. Nil means
	// unencrypted gossip, which New warns about once; whether that is
	// allowed (dev mode only) is the caller's decision.
	Keys [][]byte

	// Profile picks memberlist's timing defaults: "lan" (the default,
	// DefaultLANConfig: 1s probes, dead after about 5s) or "wan"
	// (DefaultWANConfig).
	Profile string

	// Tune, if set, adjusts the memberlist config after the profile is
	// applied (tests shrink timings). Name, addresses, transport, keyring,
	// logger and delegates are set by this package afterwards and can't be
	// changed here.
	Tune func(*memberlist.Config)

	// Logger receives this package's lines and memberlist's own (at Debug).
	// (Optional) If nil, logs are discarded.
	Logger *slog.Logger

	// OnChange is called after every change of the member list with a
	// fresh copy of all members (alive, suspect, dead and left, sorted by
	// name); it may keep the slice. It runs on one goroutine, one call at
	// a time, in order; a slow OnChange delays later calls, never gossip.
	// (Optional) If nil, changes are only visible through Members.
	OnChange func(members []Member)

	// Now stamps Member.Since. (Optional) Defaults to time.Now.
	Now func() time.Time

	// LookupHost resolves seed and advertise host names to addresses.
	// (Optional) Defaults to net.DefaultResolver.LookupHost.
	LookupHost func(ctx context.Context, host string) ([]string, error)

	// Rand jitters join backoff; only the join goroutine uses it.
	// (Optional) Defaults to a randomly seeded PCG source.
	Rand *rand.Rand

	// BroadcastTimeout bounds how long UpdateMeta waits for memberlist to
	// finish gossiping the change, and Shutdown its leave when its context
	// has no deadline. (Optional) Defaults to 5s.
	BroadcastTimeout time.Duration

	// LeaveTimeout bounds how long Shutdown waits for its leave to be
	// gossiped, whatever its context allows. memberlist waits until the
	// leave was sent as often as it means to, which never happens when
	// the nodes it could send to stop at the same moment (a whole cluster
	// stopped together) — it then waits its whole timeout. A leave reaches
	// everyone in a few gossip rounds, and a leave that didn't is caught by
	// failure detection. (Optional) Defaults to 10 gossip intervals, at
	// least 1s and at most 5s (2s with the LAN profile).
	LeaveTimeout time.Duration

	// DeadRetention is how long Dead and Left members stay listed before
	// they are dropped. (Optional) Defaults to 24h, like serf's reap.
	DeadRetention time.Duration
	// ReconnectInterval is how often members seen dead (not left) are
	// dialled again, so gossip heals after a partition. (Optional)
	// Default 10s.
	ReconnectInterval time.Duration
}

const defaultGossipPort = 7946

// withDefaults returns cfg with every unset optional field filled in.
func (cfg Config) withDefaults() Config {
	if cfg.BindAddr == "" {
		cfg.BindAddr = ":" + strconv.Itoa(defaultGossipPort)
	}
	if cfg.JoinBackoff <= 0 {
		cfg.JoinBackoff = time.Second
	}
	if cfg.JoinMaxBackoff <= 0 {
		cfg.JoinMaxBackoff = 30 * time.Second
	}
	cfg.JoinMaxBackoff = max(cfg.JoinMaxBackoff, cfg.JoinBackoff)
	if cfg.Profile == "" {
		cfg.Profile = "lan"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LookupHost == nil {
		cfg.LookupHost = net.DefaultResolver.LookupHost
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if cfg.BroadcastTimeout <= 0 {
		cfg.BroadcastTimeout = 5 * time.Second
	}
	if cfg.ReconnectInterval <= 0 {
		cfg.ReconnectInterval = 10 * time.Second
	}
	if cfg.DeadRetention <= 0 {
		cfg.DeadRetention = 24 * time.Hour
	}
	return cfg
}

// validate reports the first problem of a defaulted config.
func (cfg Config) validate() error {
	if cfg.Meta.Name == "" {
		return errors.New("membership: Meta.Name is required (the node's unique name)")
	}
	if cfg.Profile != "lan" && cfg.Profile != "wan" {
		return fmt.Errorf("membership: profile %q: want \"lan\" or \"wan\"", cfg.Profile)
	}
	for i, k := range cfg.Keys {
		if err := memberlist.ValidateKey(k); err != nil {
			return fmt.Errorf("membership: gossip key %d: %w", i+1, err)
		}
	}
	if _, err := encodeMeta(cfg.Meta, false); err != nil {
		return fmt.Errorf("membership: %w", err)
	}
	return nil
}

// memberlistConfig builds memberlist's config from the profile, then
// Tune, then the fields this package owns.
func (cfg Config) memberlistConfig() *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	if cfg.Profile == "wan" {
		mc = memberlist.DefaultWANConfig()
	}
	if cfg.Tune != nil {
		cfg.Tune(mc)
	}
	mc.Name = cfg.Meta.Name
	mc.LogOutput = nil
	mc.SecretKey = nil
	mc.Keyring = nil
	if len(cfg.Keys) > 0 {
		// Checked by validate; copies so the caller's slices stay theirs.
		mc.Keyring, _ = memberlist.NewKeyring(copyKeys(cfg.Keys[1:]), copyKey(cfg.Keys[0]))
	}
	return mc
}

// splitAddr splits host:port; a missing port is defPort and an empty host
// stays empty.
func splitAddr(addr string, defPort int) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) && ae.Err == "missing port in address" {
			return addr, defPort, nil
		}
		return "", 0, fmt.Errorf("parsing address %q: %w", addr, err)
	}
	if p == "" {
		return host, defPort, nil
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("parsing address %q: bad port %q", addr, p)
	}
	return host, port, nil
}
