package ring

import (
	"cmp"
	"slices"
)

// Member is one node that can own keys.
type Member struct {
	// ID names the member uniquely in the cluster (the gossip node name).
	// Ownership is derived from it, so every node must use the same IDs.
	ID string
	// Region groups members for Ring.Scope. Empty is a region like any other.
	Region string
	// Weight is the member's relative share of keys. If zero, it defaults
	// to 1; a negative, NaN or infinite weight also counts as 1.
	Weight float64
}

// Ring answers which members own a key. It is immutable and safe for
// concurrent use; a nil *Ring is an empty ring.
type Ring struct {
	members  []Member            // sorted by ID, IDs unique, as given to New
	weights  []float64           // effective weight of members[i]
	uniform  bool                // all weights equal: rank by hash alone
	hash     func([]byte) uint64 // injected hash, or nil for the default
	maxIDLen int                 // longest ID, sizes an injected hash's buffer
	scopes   map[string]*Ring    // region → ring of its members
	empty    *Ring               // Scope's answer for a region with no members
}

// Option configures New.
type Option func(*options)

type options struct {
	hash func([]byte) uint64
}

// WithHash replaces the default hash. A member's score for a key is derived
// from hash(key ++ 0x00 ++ member.ID); hash must not keep or modify its
// argument, and every node must use the same function. If hash is nil, the
// default (FNV-1a 64 with the fmix64 finalizer) is used. With an injected
// hash Owner allocates one buffer per lookup.
func WithHash(hash func([]byte) uint64) Option {
	return func(o *options) { o.hash = hash }
}

// New returns a ring of members. Their order does not matter. Members with
// the same ID count once: of those, the one first by (Region, Weight) is kept,
// so that the result still does not depend on the order. New copies members;
// the caller may reuse the slice.
func New(members []Member, opts ...Option) *Ring {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	ms := slices.Clone(members)
	slices.SortFunc(ms, compareMembers)
	ms = slices.CompactFunc(ms, func(a, b Member) bool { return a.ID == b.ID })

	r := newRing(ms, o.hash)
	r.empty = newRing(nil, o.hash)
	r.empty.empty = r.empty
	r.scopes = make(map[string]*Ring)
	for _, region := range regions(ms) {
		sub := newRing(inRegion(ms, region), o.hash)
		sub.scopes = map[string]*Ring{region: sub}
		sub.empty = r.empty
		r.scopes[region] = sub
	}
	return r
}

// compareMembers orders by ID, then Region, then Weight, a total order, so
// that duplicates of an ID resolve the same way whatever the input order.
func compareMembers(a, b Member) int {
	return cmp.Or(
		cmp.Compare(a.ID, b.ID),
		cmp.Compare(a.Region, b.Region),
		cmp.Compare(a.Weight, b.Weight),
	)
}

// newRing builds a ring over ms, which must be sorted by ID with unique IDs.
// It keeps ms; scopes and empty are left to New.
func newRing(ms []Member, hash func([]byte) uint64) *Ring {
	r := &Ring{members: ms, weights: make([]float64, len(ms)), uniform: true, hash: hash}
	for i, m := range ms {
		r.weights[i] = effectiveWeight(m.Weight)
		if r.weights[i] != r.weights[0] {
			r.uniform = false
		}
		r.maxIDLen = max(r.maxIDLen, len(m.ID))
	}
	return r
}

// regions lists the distinct regions of ms.
func regions(ms []Member) []string {
	var rs []string
	for _, m := range ms {
		if !slices.Contains(rs, m.Region) {
			rs = append(rs, m.Region)
		}
	}
	return rs
}

// inRegion returns the members of ms in region, in ms's order.
func inRegion(ms []Member, region string) []Member {
	var out []Member
	for _, m := range ms {
		if m.Region == region {
			out = append(out, m)
		}
	}
	return out
}

// Len returns the number of distinct members.
func (r *Ring) Len() int {
	if r == nil {
		return 0
	}
	return len(r.members)
}

// Members returns a copy of the members, sorted by ID.
func (r *Ring) Members() []Member {
	if r == nil {
		return nil
	}
	return slices.Clone(r.members)
}

// Scope returns the ring of r's members in region, precomputed by New, so it
// costs one map lookup. A region without members gives an empty ring. Keys
// are owned within a scope exactly as on a ring built from its members with
// the same options.
func (r *Ring) Scope(region string) *Ring {
	if r == nil {
		return nil
	}
	if s, ok := r.scopes[region]; ok {
		return s
	}
	return r.empty
}
