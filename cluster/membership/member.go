package membership

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// Meta is what a node tells the others about itself. It travels in every
// gossip alive message, so it must encode to at most MaxMetaSize bytes.
type Meta struct {
	// Name is the node's unique name in the cluster (memberlist's node
	// name). It never changes while a node runs.
	Name string
	// Region and Zone place the node; the ring scopes ownership by region.
	Region, Zone string
	// Version is the node's software version, for rolling upgrades.
	Version string
	// RaftAddr, PeerAddr, EdgeAddr and AdminAddr are the advertised
	// host:port of the node's listeners; empty until known.
	RaftAddr, PeerAddr, EdgeAddr, AdminAddr string
	// Server says whether the node is eligible for Raft.
	Server bool
}

// MaxMetaSize is the most bytes a Meta may take encoded: memberlist's limit
// (512) less the room kept for the leaving flag.
const MaxMetaSize = memberlist.MetaMaxSize - leavingFlagSize

// leavingFlagSize is what the leaving flag adds to the encoding: `,"l":true`.
const leavingFlagSize = 9

// State is a member's health as this node sees it.
type State uint8

// The states of a member. A member starts Alive, may turn Suspect when a
// probe fails and back to Alive when it answers, and ends Dead (failure
// detected) or Left (it shut down gracefully).
const (
	Alive State = iota
	Suspect
	Dead
	Left
)

// String returns "alive", "suspect", "dead" or "left".
func (s State) String() string {
	switch s {
	case Alive:
		return "alive"
	case Suspect:
		return "suspect"
	case Dead:
		return "dead"
	case Left:
		return "left"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Member is one node of the cluster as this node sees it.
type Member struct {
	Meta
	// Addr is the member's gossip host:port.
	Addr string
	// State is the member's health.
	State State
	// Since is when State last changed (Config.Now).
	Since time.Time
}

// wireMeta is Meta as gossiped: JSON with short keys and empty fields left
// out, so a full set of addresses stays well under MaxMetaSize. The name is
// not repeated (memberlist carries it). Unknown keys are ignored on decode,
// so a newer node may add fields.
type wireMeta struct {
	Region  string `json:"r,omitempty"`
	Zone    string `json:"z,omitempty"`
	Version string `json:"v,omitempty"`
	Raft    string `json:"ra,omitempty"`
	Peer    string `json:"pa,omitempty"`
	Edge    string `json:"ea,omitempty"`
	Admin   string `json:"aa,omitempty"`
	Server  bool   `json:"s,omitempty"`
	// Leaving is set by a node about to leave gracefully, so the others
	// can tell Left from Dead (memberlist doesn't say which).
	Leaving bool `json:"l,omitempty"`
}

// encodeMeta returns m's gossip encoding, or an error if it exceeds
// MaxMetaSize.
func encodeMeta(m Meta, leaving bool) ([]byte, error) {
	b, err := json.Marshal(wireMeta{
		Region: m.Region, Zone: m.Zone, Version: m.Version,
		Raft: m.RaftAddr, Peer: m.PeerAddr, Edge: m.EdgeAddr, Admin: m.AdminAddr,
		Server: m.Server, Leaving: leaving,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding node metadata: %w", err)
	}
	size := len(b)
	if leaving {
		size -= leavingFlagSize
	}
	if size > MaxMetaSize {
		return nil, fmt.Errorf("node metadata is %d bytes encoded, over the gossip limit of %d: shorten the addresses, region, zone or version", size, MaxMetaSize)
	}
	return b, nil
}

// decodeMeta reads a member's gossiped metadata. Empty metadata is valid
// (a node that hasn't set any); the name comes from memberlist.
func decodeMeta(name string, b []byte) (meta Meta, leaving bool, err error) {
	var w wireMeta
	if len(b) > 0 {
		if err := json.Unmarshal(b, &w); err != nil {
			return Meta{Name: name}, false, fmt.Errorf("decoding metadata of node %q: %w", name, err)
		}
	}
	return Meta{
		Name: name, Region: w.Region, Zone: w.Zone, Version: w.Version,
		RaftAddr: w.Raft, PeerAddr: w.Peer, EdgeAddr: w.Edge, AdminAddr: w.Admin,
		Server: w.Server,
	}, w.Leaving, nil
}
