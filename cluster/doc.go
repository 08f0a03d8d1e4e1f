// Package cluster makes gateway nodes one cluster: membership by gossip
// (cluster/membership, hashicorp/memberlist), the cluster-wide config
// document through Raft (cluster/store, hashicorp/raft), consistent-hash
// ownership over live members (cluster/ring) and one authenticated
// node-to-node listener (cluster/peer, mutual TLS keyed by the cluster key).
//
// Cluster composes them: it starts them in order, feeds membership changes
// to the ring and to Raft's reconciliation on one goroutine, forwards
// config writes to the leader over the peer transport, and answers the
// cluster's own peer RPCs (/cluster/v1/...). It does not know the
// gateway's config schema: the document is opaque bytes with a version.
//
// It imports only its own subtree of this module (docs/architecture.md).
package cluster
