package store

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// Document is the replicated config document. Version counts applied writes
// (1, 2, 3…) and is assigned by the FSM; the zero Document means nothing was
// ever written. Data is opaque to the store and shared: treat it as
// read-only.
type Document struct {
	Version int64
	Data    []byte
}

// Server is a Raft-eligible member: ID is its node name (the Raft server
// ID) and Addr its advertised Raft host:port.
type Server struct {
	ID   string
	Addr string
}

// Departure tells Reconcile why and since when a server is gone.
type Departure struct {
	// Since is when the member was first seen failed (or left).
	Since time.Time
	// Left is true when the member left gracefully: it is removed from the
	// Raft configuration at once. A failed member (Left false) is removed
	// once it has been gone for Config.DeadServerTimeout.
	Left bool
}

// Defaults applied by withDefaults; each is documented on its field.
const (
	defaultVoters            = 3
	defaultDeadServerTimeout = 10 * time.Minute
	defaultSnapshotThreshold = 8192
	defaultSnapshotInterval  = 2 * time.Minute
	defaultProposeTimeout    = 5 * time.Second
	maxVoters                = 7
)

// Config configures a Store. The zero value of every optional field means
// "use the default".
type Config struct {
	// ID is this server's Raft ID: the node name, unique and stable across
	// restarts. Required.
	ID string

	// Listener accepts Raft's connections and Dial opens them (timeout
	// bounds the dial and any handshake). The store does not secure the
	// stream: the caller passes authenticated ones (the cluster package
	// passes mutual TLS from cluster/peer; tests pass plain TCP). The store
	// owns Listener from Open on: it closes it at Shutdown or when Open
	// fails. Both are required unless Transport is set.
	Listener net.Listener
	Dial     func(addr string, timeout time.Duration) (net.Conn, error)
	// AdvertiseAddr is the host:port other servers dial. If empty, the
	// listener's address is used, which must then not be a wildcard
	// (0.0.0.0, ::).
	AdvertiseAddr string
	// Transport, if set, replaces the stream transport (tests pass a
	// raft.InmemTransport or a TCP one); Listener, Dial and AdvertiseAddr
	// are then ignored. Raft closes it on Shutdown.
	Transport raft.Transport

	// DataDir holds the raft-wal log and stable store (DataDir/wal) and the
	// file snapshots (DataDir/snapshots). Required unless InMemory is set.
	DataDir string
	// InMemory keeps the log, stable store and snapshots in memory (tests):
	// nothing survives Shutdown.
	InMemory bool

	// BootstrapExpect is how many servers a brand-new cluster waits for
	// before bootstrapping (like Consul's bootstrap_expect). Zero (the
	// default) means this node never bootstraps: it waits to be added by a
	// leader. It must not exceed Voters.
	BootstrapExpect int
	// Voters caps the number of voting servers; further servers follow as
	// non-voters. If zero, defaults to 3. Must be odd, at most 7 (an even
	// count adds no fault tolerance).
	Voters int
	// DeadServerTimeout is how long a failed server stays in the Raft
	// configuration before the leader removes it (and promotes a non-voter
	// in its place). If zero, defaults to 10 minutes: long enough for a
	// reboot or a rolling restart, short enough that a lost machine's vote
	// goes to a live non-voter the same hour.
	DeadServerTimeout time.Duration

	// SnapshotThreshold is how many log entries since the last snapshot
	// trigger a new one (after which the log is compacted). If zero,
	// defaults to 8192.
	SnapshotThreshold uint64
	// SnapshotInterval is how often Raft checks SnapshotThreshold (it
	// staggers randomly up to twice this). If zero, defaults to 2 minutes.
	SnapshotInterval time.Duration
	// ProposeTimeout bounds how long Propose waits for a leader and for the
	// commit when the caller's context allows longer. If zero, defaults to
	// 5s.
	ProposeTimeout time.Duration

	// Tune, if set, is called last on the Raft config, so it may override
	// anything above (tests shrink HeartbeatTimeout, ElectionTimeout,
	// LeaderLeaseTimeout, TrailingLogs…).
	Tune func(*raft.Config)
	// OnApply, if set, is called with every new Document: after the FSM
	// applies a write, and after a snapshot restore (during Open, from the
	// latest local snapshot, or when the leader sends one). Calls never
	// overlap and follow log order; they run on Raft's FSM goroutine (or
	// Open's, for the restore at start), so keep it fast and never call
	// Propose or Barrier from it.
	OnApply func(Document)
	// Logger receives the store's and Raft's logs (Raft's info lines at
	// debug level). If nil, logs are discarded.
	Logger *slog.Logger
	// Now is the clock used to age failed servers. If nil, time.Now.
	Now func() time.Time
}

// withDefaults returns a copy of c with every zero optional field set.
func (c Config) withDefaults() Config {
	if c.Voters == 0 {
		c.Voters = defaultVoters
	}
	if c.DeadServerTimeout == 0 {
		c.DeadServerTimeout = defaultDeadServerTimeout
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = defaultSnapshotThreshold
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = defaultSnapshotInterval
	}
	if c.ProposeTimeout == 0 {
		c.ProposeTimeout = defaultProposeTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// validate reports every problem of a defaulted Config at once.
func (c Config) validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("an ID is required"))
	}
	if c.Transport == nil && (c.Listener == nil || c.Dial == nil) {
		errs = append(errs, errors.New("a Listener and a Dial are required without a Transport"))
	}
	if !c.InMemory && c.DataDir == "" {
		errs = append(errs, errors.New("a DataDir is required unless InMemory"))
	}
	if c.Voters < 1 || c.Voters > maxVoters || c.Voters%2 == 0 {
		errs = append(errs, fmt.Errorf("voters %d: must be odd, between 1 and %d", c.Voters, maxVoters))
	}
	if c.BootstrapExpect < 0 || c.BootstrapExpect > c.Voters {
		errs = append(errs, fmt.Errorf("bootstrap expect %d: must be between 0 and voters (%d)", c.BootstrapExpect, c.Voters))
	}
	if c.DeadServerTimeout < 0 || c.SnapshotInterval < 0 || c.ProposeTimeout < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: invalid config: %w", err)
	}
	return nil
}
