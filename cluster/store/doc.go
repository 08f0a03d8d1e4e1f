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
