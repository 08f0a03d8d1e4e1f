// Package store is Portico's Raft config store: it replicates ONE opaque,
// versioned document (the gateway's cluster-wide config) across the
// Raft-eligible nodes with hashicorp/raft. The leader accepts writes
// (Propose, with compare-and-set on the version); every node applies them
// through the same deterministic FSM and hands each new Document to
// Config.OnApply. Reads (Current) never block and never touch the network,
// so losing quorum stops config writes, never traffic.
//
// It also owns Raft membership: Reconcile, fed by the caller with the live
// and departed Raft-eligible members, bootstraps a new cluster the way
// Consul's bootstrap_expect does and, on the leader, adds, promotes and
// removes servers under a voter cap (rules: Reconcile in reconcile.go,
// planner in plan.go).
//
// It does not know the document's schema, does not discover members (the
// gossip layer does, and the cluster package calls Reconcile), and does not
// forward writes to the leader: Propose on a follower returns a
// *NotLeaderError naming the leader so the caller can.
//
// Transport: Raft's network transport over a net.Listener and a dialer
// the caller passes (Config.Listener, Config.Dial). The store does not
// secure them: the cluster package passes mutual TLS keyed by the cluster
// key (cluster/peer's StreamListener), so a process without the key can't
// read the term or send an AppendEntries; tests pass plain TCP.
//
// Entries it can't apply: each log entry is a one-byte command type and a
// payload. A type this binary doesn't know is skipped (with a warning) if
// it carries the "ignore if unknown" flag (0x80); otherwise, or for an
// empty entry, the FSM stops for good at that entry: the document stays
// at the last version applied, later entries are refused, the store logs
// one error saying to upgrade the node and shuts its Raft down, and
// Propose, Barrier and Err return a *StoppedError (ErrStopped). The node
// keeps serving its last config. It does not panic: a panic would crash
// the process, and every restart (Raft replays the log) would crash it
// again. A restart of an old binary meets the entry and stops the same
// way; the new binary applies it.
//
// Storage: raft-wal for the log and stable store and file snapshots under
// Config.DataDir (locked with flock against a second store), or Raft's
// in-memory stores when Config.InMemory is set.
//
// Imports: the standard library, github.com/hashicorp/raft,
// github.com/hashicorp/raft-wal and github.com/hashicorp/go-hclog (the
// logger type of both: log.go adapts it to slog). Nothing of Portico's.
//
// Concurrency: every exported method of Store may be called from any
// goroutine. OnApply runs on Raft's FSM goroutine, one document at a time in
// log order.
package store
