package store

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// changeKind is one Raft membership operation.
type changeKind uint8

const (
	addVoter     changeKind = iota + 1 // AddVoter: new voter, promotion or address change
	addNonvoter                        // AddNonvoter: new non-voter or address change
	removeServer                       // RemoveServer
)

func (k changeKind) String() string {
	switch k {
	case addVoter:
		return "add voter"
	case addNonvoter:
		return "add non-voter"
	case removeServer:
		return "remove"
	}
	return fmt.Sprintf("changeKind(%d)", uint8(k))
}

// change is one step of a membership plan.
type change struct {
	kind   changeKind
	id     string
	addr   string
	reason string
}

// planner decides the leader's membership changes. It is pure: the same
// configuration, view and clock give the same plan, so tests check it by
// hand. The rules, applied in this order, one change at a time:
//
//  1. Remove a server that is in the configuration, not live, and departed:
//     at once if it left, after deadAfter if it failed. Never self. A voter
//     is removed only if the live voters that remain are still a strict
//     majority of the voters that remain, so one step never leaves the
//     configuration without a live quorum (if most voters look gone, this
//     leader's own view is the likelier fault: it waits).
//  2. Update the address of a live server whose address changed (same
//     suffrage).
//  3. While voters < cap, promote the live non-voter with the smallest ID.
//  4. Add each live server missing from the configuration, smallest ID
//     first: as a voter while voters < cap, else as a non-voter.
//
// Servers that are neither live nor departed (gossip hasn't converged yet)
// are left alone. Voters above the cap (the cap was lowered) are not demoted.
type planner struct {
	self      string
	voterCap  int
	deadAfter time.Duration
	now       time.Time
}

// next returns the first change to make to cfg, if any.
func (p planner) next(cfg []raft.Server, live []Server, gone map[string]Departure) (change, bool) {
	liveAddr := make(map[string]string, len(live)+1)
	for _, s := range live {
		liveAddr[s.ID] = s.Addr
	}
	cfg = slices.Clone(cfg)
	slices.SortFunc(cfg, func(a, b raft.Server) int { return cmp.Compare(a.ID, b.ID) })
	if c, ok := p.removal(cfg, liveAddr, gone); ok {
		return c, true
	}
	if c, ok := p.addressChange(cfg, liveAddr); ok {
		return c, true
	}
	voters := countVoters(cfg)
	if voters < p.voterCap {
		for _, s := range cfg {
			if _, ok := liveAddr[string(s.ID)]; ok && s.Suffrage == raft.Nonvoter {
				return change{addVoter, string(s.ID), string(s.Address), "promote to replace a voter"}, true
			}
		}
	}
	ids := make([]string, 0, len(liveAddr))
	for id := range liveAddr {
		if !inConfig(cfg, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return change{}, false
	}
	slices.Sort(ids)
	if voters < p.voterCap {
		return change{addVoter, ids[0], liveAddr[ids[0]], "new server"}, true
	}
	return change{addNonvoter, ids[0], liveAddr[ids[0]], "new server, voters at cap"}, true
}

// removal is rule 1.
func (p planner) removal(cfg []raft.Server, liveAddr map[string]string, gone map[string]Departure) (change, bool) {
	for _, s := range cfg {
		id := string(s.ID)
		d, departed := gone[id]
		if _, isLive := liveAddr[id]; isLive || !departed || id == p.self {
			continue
		}
		reason := "left"
		if !d.Left {
			if p.now.Sub(d.Since) < p.deadAfter {
				continue
			}
			reason = fmt.Sprintf("failed since %s", d.Since.UTC().Format(time.RFC3339))
		}
		if s.Suffrage == raft.Voter && !p.keepsLiveMajority(cfg, id, liveAddr) {
			continue
		}
		return change{removeServer, id, string(s.Address), reason}, true
	}
	return change{}, false
}

// keepsLiveMajority reports whether removing voter id leaves live voters a
// strict majority of the remaining voters. Self always counts as live.
func (p planner) keepsLiveMajority(cfg []raft.Server, id string, liveAddr map[string]string) bool {
	remaining, liveRemaining := 0, 0
	for _, s := range cfg {
		if s.Suffrage != raft.Voter || string(s.ID) == id {
			continue
		}
		remaining++
		if _, ok := liveAddr[string(s.ID)]; ok || string(s.ID) == p.self {
			liveRemaining++
		}
	}
	return liveRemaining*2 > remaining
}

// addressChange is rule 2.
func (p planner) addressChange(cfg []raft.Server, liveAddr map[string]string) (change, bool) {
	for _, s := range cfg {
		addr, ok := liveAddr[string(s.ID)]
		if !ok || addr == "" || addr == string(s.Address) {
			continue
		}
		kind := addVoter
		if s.Suffrage != raft.Voter {
			kind = addNonvoter
		}
		return change{kind, string(s.ID), addr, "address changed from " + string(s.Address)}, true
	}
	return change{}, false
}

// wake returns how long until a failed server in cfg reaches deadAfter
// (the next time rule 1 may fire without any new input), if one will.
func (p planner) wake(cfg []raft.Server, live []Server, gone map[string]Departure) (time.Duration, bool) {
	var soonest time.Duration
	found := false
	for _, s := range cfg {
		d, ok := gone[string(s.ID)]
		if !ok || d.Left || slices.ContainsFunc(live, func(l Server) bool { return l.ID == string(s.ID) }) {
			continue
		}
		left := d.Since.Add(p.deadAfter).Sub(p.now)
		if left > 0 && (!found || left < soonest) {
			soonest, found = left, true
		}
	}
	return soonest, found
}

// plan returns every change next would make, one after another, applying
// each to a copy of cfg (what the reconcile loop converges to).
func (p planner) plan(cfg []raft.Server, live []Server, gone map[string]Departure) []change {
	cfg = slices.Clone(cfg)
	var out []change
	for range 2*len(cfg) + 2*len(live) + 1 {
		c, ok := p.next(cfg, live, gone)
		if !ok {
			break
		}
		out = append(out, c)
		cfg = applyChange(cfg, c)
	}
	return out
}

// applyChange returns cfg with c applied, as Raft would.
func applyChange(cfg []raft.Server, c change) []raft.Server {
	i := slices.IndexFunc(cfg, func(s raft.Server) bool { return string(s.ID) == c.id })
	if c.kind == removeServer {
		if i >= 0 {
			cfg = slices.Delete(cfg, i, i+1)
		}
		return cfg
	}
	suffrage := raft.Voter
	if c.kind == addNonvoter {
		suffrage = raft.Nonvoter
	}
	s := raft.Server{Suffrage: suffrage, ID: raft.ServerID(c.id), Address: raft.ServerAddress(c.addr)}
	if i >= 0 {
		cfg[i] = s
		return cfg
	}
	return append(cfg, s)
}

func countVoters(cfg []raft.Server) int {
	n := 0
	for _, s := range cfg {
		if s.Suffrage == raft.Voter {
			n++
		}
	}
	return n
}

func inConfig(cfg []raft.Server, id string) bool {
	return slices.ContainsFunc(cfg, func(s raft.Server) bool { return string(s.ID) == id })
}
