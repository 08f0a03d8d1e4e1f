package config

import (
	"crypto/sha256"
	"encoding/hex"
)

// Snapshot is one immutable, defaulted and validated configuration: what a
// node compiles its router, pools and pipeline from and swaps in
// atomically (an atomic.Pointer[Snapshot]), so an in-flight request
// finishes on the snapshot it started with.
//
// Nothing may mutate a Snapshot, or anything it reaches, after
// NewSnapshot returns: it is shared by every goroutine serving requests
// without locks. Build a new one instead. Reading it from many goroutines
// at once is safe.
type Snapshot struct {
	// Version orders snapshots: the Raft index of the document, or a local
	// counter for file reloads. Higher is newer.
	Version int64
	// Digest is the hex SHA-256 of the canonical YAML of Gateway: two
	// snapshots of equal documents share a digest whatever their version,
	// formatting or key order, so a node can skip rebuilding for a no-op
	// change.
	Digest string
	// Node holds the node-local settings.
	Node Node
	// Gateway holds the cluster-wide document.
	Gateway Gateway
}

// NewSnapshot copies f (deeply: nothing is shared with f) into a Snapshot
// at version. f must be defaulted and validated, as Parse returns it.
func NewSnapshot(f *File, version int64) *Snapshot {
	c := clone(f)
	return &Snapshot{Version: version, Digest: c.Gateway.Digest(), Node: c.Node, Gateway: c.Gateway}
}

// Digest returns the hex SHA-256 of g's canonical YAML (map keys sorted,
// units in human form, zero values left out, secrets included). Equal
// documents have equal digests.
func (g *Gateway) Digest() string {
	sum := sha256.Sum256(canonicalYAML(g))
	return hex.EncodeToString(sum[:])
}
