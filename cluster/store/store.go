package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// Store is one server's replica of the config document. Create it with
// Open and stop it with Shutdown.
type Store struct {
	cfg   Config
	log   *slog.Logger
	fsm   *fsm
	raft  *raft.Raft
	trans raft.Transport
	st    storage
	// retry is how long the reconcile loop waits before retrying a step
	// that failed (Raft's HeartbeatTimeout: about one election's worth).
	retry time.Duration

	notifyCh chan bool     // Raft's NotifyCh; drained by watchLeadership
	leaderCh chan bool     // LeaderCh: latest leadership value, buffer 1
	kick     chan struct{} // buffer 1: run a reconcile pass soon
	stop     chan struct{} // closed by Shutdown
	started  chan struct{} // closed once Open has started Raft

	mu      sync.Mutex // guards view, hasView, closed, and wg.Go after close
	view    view
	hasView bool
	closed  bool
	wg      sync.WaitGroup // watchLeadership, reconcileLoop, Propose waiters

	// bootstrapPending is true until this node has bootstrapped, found
	// existing state, or learned that its peers have; only the reconcile
	// goroutine touches it after Open.
	bootstrapPending bool

	shutdownOnce sync.Once
	shutdownDone chan struct{}
	shutdownErr  error
}

// view is the membership last handed to Reconcile.
type view struct {
	servers []Server
	gone    map[string]Departure
}

// storage is the Raft log, stable and snapshot stores.
type storage struct {
	logs   raft.LogStore
	stable raft.StableStore
	snaps  raft.SnapshotStore
	close  func() error // nil for in-memory stores
}

// Open starts this server's Raft. A server with existing state (log,
// term or snapshot) rejoins its cluster with it and never bootstraps; a new
// one bootstraps only through Reconcile (BootstrapExpect) or waits to be
// added by a leader.
func Open(cfg Config) (*Store, error) {
	s, err := open(cfg.withDefaults())
	if err != nil && cfg.Transport == nil && cfg.Listener != nil {
		_ = cfg.Listener.Close() // ours from Open on (a second Close is harmless)
	}
	return s, err
}

func open(cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "store")
	hl := newHCLogAdapter(cfg.Logger, "raft")
	s := &Store{
		cfg:          cfg,
		log:          log,
		started:      make(chan struct{}),
		notifyCh:     make(chan bool, 10),
		leaderCh:     make(chan bool, 1),
		kick:         make(chan struct{}, 1),
		stop:         make(chan struct{}),
		shutdownDone: make(chan struct{}),
	}
	s.fsm = newFSM(cfg.OnApply, log, s.stopOnFatal)
	st, err := openStorage(cfg, hl)
	if err != nil {
		return nil, err
	}
	s.st = st
	if s.trans, err = openTransport(cfg, hl); err != nil {
		return nil, errors.Join(err, st.closeQuietly())
	}
	rc, err := s.raftConfig(hl)
	if err == nil {
		err = s.startRaft(rc)
	}
	if err != nil {
		if c, ok := s.trans.(raft.WithClose); ok && cfg.Transport == nil {
			_ = c.Close()
		}
		return nil, errors.Join(err, st.closeQuietly())
	}
	s.retry = rc.HeartbeatTimeout
	close(s.started)
	s.wg.Go(s.watchLeadership)
	s.wg.Go(s.reconcileLoop)
	return s, nil
}

// startRaft checks for existing state and starts Raft.
func (s *Store) startRaft(rc *raft.Config) error {
	has, err := raft.HasExistingState(s.st.logs, s.st.stable, s.st.snaps)
	if err != nil {
		return fmt.Errorf("checking raft state: %w", err)
	}
	s.bootstrapPending = !has && s.cfg.BootstrapExpect > 0
	if s.raft, err = raft.NewRaft(rc, s.fsm, s.st.logs, s.st.stable, s.st.snaps, s.trans); err != nil {
		return fmt.Errorf("starting raft: %w", err)
	}
	s.log.Info("raft started", "id", s.cfg.ID, "addr", s.trans.LocalAddr(), "existing_state", has)
	return nil
}

// raftConfig builds Raft's config: its defaults, then ours, then Tune.
func (s *Store) raftConfig(hl hclog.Logger) (*raft.Config, error) {
	rc := raft.DefaultConfig()
	rc.Logger = hl
	rc.SnapshotThreshold = s.cfg.SnapshotThreshold
	rc.SnapshotInterval = s.cfg.SnapshotInterval
	// A removed server stays up as a follower outside the configuration,
	// so the leader can add it back when it returns; only Shutdown stops
	// Raft (Consul does the same).
	rc.ShutdownOnRemove = false
	if s.cfg.Tune != nil {
		s.cfg.Tune(rc)
	}
	// Set after Tune: the store's wiring depends on them.
	rc.LocalID = raft.ServerID(s.cfg.ID)
	rc.NotifyCh = s.notifyCh
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("store: invalid raft config: %w", err)
	}
	return rc, nil
}

// openStorage opens raft-wal and file snapshots under DataDir, or Raft's
// in-memory stores.
func openStorage(cfg Config, hl hclog.Logger) (storage, error) {
	if cfg.InMemory {
		mem := raft.NewInmemStore()
		return storage{logs: mem, stable: mem, snaps: raft.NewInmemSnapshotStore()}, nil
	}
	walDir := filepath.Join(cfg.DataDir, "wal")
	if err := os.MkdirAll(walDir, 0o700); err != nil {
		return storage{}, fmt.Errorf("creating raft data dir: %w", err)
	}
	unlock, err := lockDir(cfg.DataDir)
	if err != nil {
		return storage{}, err
	}
	// Our own metadata store: WAL.Close doesn't close the one it makes,
	// which would keep its file lock until the process exits.
	meta := &metadb.BoltMetaDB{}
	w, err := wal.Open(walDir, wal.WithLogger(hl.Named("wal")), wal.WithMetaStore(meta))
	if err != nil {
		return storage{}, errors.Join(fmt.Errorf("opening raft log %s: %w", walDir, err), meta.Close(), unlock())
	}
	closeAll := func() error { return errors.Join(w.Close(), meta.Close(), unlock()) }
	// Two snapshots: the latest plus one to fall back on if it is corrupt.
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 2, hl.Named("snapshots"))
	if err != nil {
		return storage{}, errors.Join(fmt.Errorf("opening raft snapshots: %w", err), closeAll())
	}
	return storage{logs: w, stable: w, snaps: snaps, close: closeAll}, nil
}

func (st storage) closeQuietly() error {
	if st.close == nil {
		return nil
	}
	if err := st.close(); err != nil {
		return fmt.Errorf("closing raft log: %w", err)
	}
	return nil
}

// openTransport returns cfg.Transport or a network transport over
// cfg.Listener and cfg.Dial.
func openTransport(cfg Config, hl hclog.Logger) (raft.Transport, error) {
	if cfg.Transport != nil {
		return cfg.Transport, nil
	}
	sl := &streamLayer{Listener: cfg.Listener, dial: cfg.Dial}
	if cfg.AdvertiseAddr != "" {
		a, err := net.ResolveTCPAddr("tcp", cfg.AdvertiseAddr)
		if err != nil {
			return nil, fmt.Errorf("resolving raft advertise address: %w", err)
		}
		sl.adv = a
	} else if a, ok := cfg.Listener.Addr().(*net.TCPAddr); !ok || a.IP.IsUnspecified() {
		return nil, fmt.Errorf("raft listens on %s, which others can't dial: set an advertise address", cfg.Listener.Addr())
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  sl,
		MaxPool: 3,
		// I/O deadline of every RPC, snapshots excepted (Consul's value).
		Timeout: 10 * time.Second,
		Logger:  hl.Named("transport"),
	}), nil
}

// streamLayer is raft.StreamLayer over the caller's listener and dialer.
type streamLayer struct {
	net.Listener
	adv  net.Addr // nil: the listener's
	dial func(addr string, timeout time.Duration) (net.Conn, error)
}

func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.dial(string(addr), timeout)
}

func (s *streamLayer) Addr() net.Addr {
	if s.adv != nil {
		return s.adv
	}
	return s.Listener.Addr()
}

// Shutdown stops Raft (pending writes fail with ErrClosed), the store's
// goroutines and the transport, then closes the log. It is idempotent:
// every call waits for the same teardown. If ctx ends first, it returns
// ctx's error and the teardown finishes in the background.
func (s *Store) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
		go s.teardown()
	})
	select {
	case <-s.shutdownDone:
		return s.shutdownErr
	case <-ctx.Done():
		return fmt.Errorf("shutting down raft store: %w", ctx.Err())
	}
}

// teardown runs once, in the order Open built things, reversed.
func (s *Store) teardown() {
	defer close(s.shutdownDone)
	// Resolves every pending future (so Propose waiters and a reconcile
	// step in progress return) and closes the transport.
	err := s.raft.Shutdown().Error()
	if ns, ok := s.trans.(interface{ CloseStreams() }); ok {
		// Close pooled outbound connections too, so the peers' handlers
		// for them end now rather than at their next RPC.
		ns.CloseStreams()
	}
	s.wg.Wait()
	err = errors.Join(err, s.st.closeQuietly())
	if err != nil {
		s.shutdownErr = fmt.Errorf("shutting down raft store: %w", err)
	}
	s.log.Info("raft stopped", "id", s.cfg.ID)
}

// stopOnFatal runs on the FSM goroutine when it met an entry it can't
// apply: it logs why, once, and stops Raft on a tracked goroutine (Raft's
// Shutdown waits for the FSM goroutine, so not on this one). The node
// keeps serving the last document it applied; a restart meets the same
// entry and stops the same way, until the binary is upgraded.
func (s *Store) stopOnFatal(st *StoppedError) {
	s.log.Error("raft stopped on this node: the cluster's log has an entry this binary can't apply; it keeps serving the last config it applied. Upgrade this node to the cluster's version",
		"index", st.Index, "version", st.Version, "err", st)
	s.goTracked(func() {
		select {
		case <-s.started:
		case <-s.stop:
			return
		}
		if err := s.raft.Shutdown().Error(); err != nil {
			s.log.Warn("stopping raft after an entry it can't apply", "err", err)
		}
	})
}

// Err reports why this server stopped applying the log (a *StoppedError),
// or nil.
func (s *Store) Err() error {
	if st := s.fsm.stopped.Load(); st != nil {
		return st
	}
	return nil
}

// closedErr is the error of a call on a Raft that has shut down.
func (s *Store) closedErr() error {
	if err := s.Err(); err != nil {
		return err
	}
	return ErrClosed
}

// goTracked runs fn on a goroutine that Shutdown waits for; it refuses
// once Shutdown has begun.
func (s *Store) goTracked(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Go(fn)
	return true
}

// watchLeadership drains Raft's NotifyCh promptly (Raft blocks on it),
// logs each change, republishes it on LeaderCh and, on gaining
// leadership, runs a reconcile pass.
func (s *Store) watchLeadership() {
	for {
		select {
		case <-s.stop:
			return
		case leader := <-s.notifyCh:
			if leader {
				s.log.Info("became raft leader", "id", s.cfg.ID, "term", s.raft.CurrentTerm())
				s.kickReconcile()
			} else {
				s.log.Info("lost raft leadership", "id", s.cfg.ID)
			}
			offerLatest(s.leaderCh, leader)
		}
	}
}

// offerLatest puts v in the 1-buffered ch, replacing an unread value, so a
// slow reader sees the latest state instead of blocking the writer. It
// must have a single writer.
func offerLatest(ch chan bool, v bool) {
	select {
	case ch <- v:
		return
	default:
	}
	select {
	case <-ch:
	default:
	}
	ch <- v
}

// Current returns the last applied document (the zero Document before the
// first write). It never blocks: on a follower or a partitioned node it may
// lag the leader. Data is shared: do not modify it.
func (s *Store) Current() Document { return *s.fsm.current() }

// Leader returns the leader's ID and address as this node knows them
// (empty during an election or without quorum).
func (s *Store) Leader() (id, addr string) {
	a, i := s.raft.LeaderWithID()
	return string(i), string(a)
}

// IsLeader reports whether this node is the Raft leader now.
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// LeaderCh delivers true when this node becomes leader and false when it
// stops being leader. It holds only the latest value: a slow reader may
// miss a flap but always ends on the current state. It is never closed.
func (s *Store) LeaderCh() <-chan bool { return s.leaderCh }

// Addr returns the Raft address this node advertises (the bound one when
// BindAddr has port 0).
func (s *Store) Addr() string { return string(s.trans.LocalAddr()) }
