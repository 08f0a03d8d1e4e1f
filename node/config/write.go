package config

import "errors"

// ApplyOptions adjust a write of the gateway document (PUT /config,
// node.ApplyGateway).
type ApplyOptions struct {
	// IfVersion, if not zero, must equal the version served now, or the
	// write fails with ErrVersionConflict (compare-and-set).
	IfVersion int64
	// Force accepts a document without routes (else ErrRemovesAllRoutes).
	Force bool
}

// The outcomes of a gateway-document write that are not config errors.
// The node returns them (wrapped, with context); the admin API turns each
// into its answer.
var (
	// ErrVersionConflict: ApplyOptions.IfVersion is not the version
	// served (or, in a cluster, the cluster's).
	ErrVersionConflict = errors.New("config version conflict")

	// ErrRemovesAllRoutes: the document has no routes (an empty PUT body,
	// say) and ApplyOptions.Force is not set: it would answer 404 to
	// every request.
	ErrRemovesAllRoutes = errors.New("the document has no routes: the gateway would answer 404 to every request (force it if that is what you want)")

	// ErrQuorumLost: in cluster mode the write can't be committed (no
	// leader, or no majority of voters reachable). Traffic is
	// unaffected: the node keeps serving its last config.
	ErrQuorumLost = errors.New("config writes need a majority of the cluster's voters, and they can't be reached now (quorum lost); traffic is still served with the last config. A write that a leader had already logged may still be applied once a majority answers: read the version before retrying, or retry with If-Match")
)
