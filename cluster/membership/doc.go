// Package membership tells a Portico node who else is in its cluster. It
// runs hashicorp/memberlist (SWIM gossip over TCP and UDP on one port),
// carries each node's metadata (region, zone, version, advertised
// addresses, Raft eligibility), joins through seeds with backoff, rotates
// gossip keys, and hands every change to one callback on one goroutine.
//
// Member states are Alive, Suspect, Dead and Left. memberlist reports only
// joins, leaves and metadata updates, so two of them are derived here:
// Suspect from memberlist's own "Suspect X has failed" log line (it has no
// callback for it) until the node answers again, and Left (a graceful
// Shutdown) from a "leaving" flag the node gossips in its metadata before
// it leaves. A node whose leave was missed is reported Dead.
//
// It does not own the ring (cluster/ring rebuilds from OnChange), Raft,
// the peer listener or where keys come from (node reads files and flags
// and calls ParseKey and SetKeys). It imports the standard library and
// github.com/hashicorp/memberlist only.
//
// Concurrency: every exported method may be called from any goroutine.
// OnChange is called on one goroutine, one call at a time, in the order
// the changes were seen.
package membership
