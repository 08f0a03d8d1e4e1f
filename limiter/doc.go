// Package limiter owns Portico's rate limits and quotas: the algorithms,
// the node's local state, cluster-global counters held by each key's
// owner on the ring (gubernator's model), quota counters that survive
// restarts and owner changes, and a cheap per-IP flood guard.
//
// It imports nothing of Portico's. It declares what it needs
// (OwnerPicker, optionally ReplicaPicker, an http.RoundTripper for
// peers) and node adapts the cluster to it and mounts PeerHandler on
// the authenticated peer listener at /limiter/v1/. It does not write
// responses: Allow returns a Decision, and Decision's methods format the
// RateLimit, RateLimit-Policy and Retry-After values; node writes the
// 429 problem.
//
// # Algorithms
//
// Rates use GCRA (gcra.go): one timestamp per key (the theoretical
// arrival time), exact, O(1), no timers, smooth, with an explicit burst
// (Burst units at once from fresh, then one per Period/Rate); the wait
// until the next admission (RetryAfter) is exact. Per-minute and
// per-hour limits are GCRA too, not a sliding window: a sliding window
// needs two counters and is an approximation at its edge, while GCRA
// with Burst = Rate admits at most Rate + Burst in any Period-long
// window (2x at worst, only right after a quiet spell) and exactly Rate
// per Period sustained. A state whose TAT is in the past equals a fresh
// one and is dropped. Changing a Limit takes effect at once: the stored
// TAT is read with the new rate.
//
// Quotas (per day, week, month; quota.go) count units exactly in UTC
// calendar periods; weeks start on Monday. A counter from an earlier
// period counts nothing.
//
// Several limits on one request (Allow) all apply, in order; at the
// first denial the limits already applied are refunded (their units
// given back: GCRA's TAT moved back, a quota's count lowered), so a
// denied request costs no budget. Between the apply and the refund a
// concurrent request may see the lower budget: refunds err on the
// strict side. Refunds of global limits go to the owner with the next
// async sync.
//
// # Local state
//
// store.go is 64 shards of maps bounded to MaxKeys together, with CLOCK
// eviction that takes expired states first; about 130 bytes a key.
// Expired states are also swept every FlushInterval. A decision on an
// existing key allocates nothing.
//
// # Global limits
//
// A global key's owner (Owner(policy+"/"+key)) holds its state. Async
// mode (default): other nodes decide from their view and send the
// admitted units to the owner every SyncInterval (one batch per owner);
// the owner adds them and answers with its state, the new view. Between
// syncs each node may admit what its view allows, so a cluster of N
// nodes can overshoot by up to N-1 views' worth per interval; the owner
// keeps the debt (up to 2 bursts ahead), so the long-run rate stays
// close to the limit. Quotas ask the owner (strict) for a key's first
// decision on a node, so a fresh view never stands for a full period.
// Strict mode: every decision goes to the owner; a decision with nothing
// ahead of it leaves at once, and those that arrive while earlier batches
// to the same owner are out gather into one request (at most BatchMax
// items or BatchWindow): exact, one extra hop.
//
// # Faults
//
// Fallback never adds to what the owner admits for long: an owner is
// left alone only on real failure, and what is admitted without it is
// charged to it.
//
// An owner whose connection is refused or breaks, that answers an error
// status, or that misses DecisionTimeout (250ms by default, sized for a
// loaded machine where an answer waits for a core; nothing in Allow
// waits longer per strict limit) on downAfterTimeouts (3) peer requests
// in a row is left alone for PeerRetry (1s), or until a sync reaches it.
// One slow answer is not a failure: the decision that waited for it
// falls back, alone. Falling back decides with the limit divided by
// Owners.Nodes() (rate and burst; counted in
// portico_limiter_fallback_total, Decision.Fallback set), and a rate's
// admissions are charged to the owner: added to this node's view and
// queued like async hits, sent with each sync (queued again while no
// owner answers), so the owner's budget (its TAT, up to debtLimit bursts
// ahead) accounts for them and the cluster repays an overshoot. A
// strict decision that timed out may have been counted by the owner as
// well (strict side). Quotas fall back to this node's view, their
// queued units kept until an owner takes them: no quota unit is dropped.
//
// Bound: while an owner is unreachable from the others but still
// admitting, the cluster may admit up to (N-1)/N of the rate (plus the
// fallback bursts) on top of the limit, repaid from the owner's budget
// once the charges reach it.
//
// # Owner changes
//
// Queued hits and charges go to each key's owner at sync time, not the
// one they were queued for: after a ring change (a member gone, one
// added) the new owner receives them, and a node that now owns a key
// takes its own queue itself. The new owner starts from the cluster's
// view of the count: every request to an owner carries the asker's view
// (the last answer of the old owner plus what that node admitted since),
// the new owner's first decision on a key starts from its own view, and
// an owner merges every view it is sent by keeping the later TAT
// (adopt; in steady state its own). So an owner that is killed or
// removed loses only what it admitted that no survivor had seen yet:
// strict, its own admissions since its last answer to another node;
// async, at most one SyncInterval of its own and of the hits whose
// answer never came back; never more than one burst (the state the
// survivors hold is an earlier state of the same limit). Rate states
// are in memory only: a whole cluster restart forgets them, and they
// refill as if idle. Quota counters do better (below).
//
// # Quotas: persistence and loss
//
// The owner keeps quota counters in memory (not bounded by MaxKeys),
// writes them every FlushInterval (1s) and on Close to
// DataDir/quotas.json (temporary file, fsync, rename), and pushes the
// changed ones to the key's successor (ReplicaPicker) at the same time;
// a node loads its file on New. A crashed owner loses at most the
// increments of its last FlushInterval, and nothing of that if its
// replica received them (the replica takes over as owner from its
// copy, on the ring's next change). Usage and Reset act on the owner
// (Reset on the replica too).
//
// # IP guard
//
// IPGuard (ipguard.go) is separate from Limiter: a fixed table, GCRA,
// no allocation, for use before routing.
package limiter
