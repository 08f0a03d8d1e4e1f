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
// Every node-to-node port is authenticated by the cluster key: gossip is
// encrypted with it (memberlist refuses unencrypted packets), and the
// peer listener and the Raft port both speak TLS 1.3 with certificates
// from the key-derived CA (Raft with ALPN "portico-raft", so neither
// port's client can talk to the other's server).
//
// Members with Server false (no Raft) watch a server for the document
// (watch.go: a long poll on /cluster/v1/document) and send their writes
// to a server, which passes them on to the leader. A write fails at once
// with ErrNoWriteQuorum when this node knows of no leader and too few voters
// are alive to elect one.
//
// It imports only its own subtree of this module (docs/architecture.md).
package cluster
