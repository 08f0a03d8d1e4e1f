package store

import (
	"cmp"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// Status is a point-in-time view of this server's Raft state, for the
// admin API and `portico cluster status`.
type Status struct {
	ID    string
	State string // "Leader", "Follower", "Candidate" or "Shutdown"
	Term  uint64
	// LastIndex is the last log index stored here; CommitIndex the last
	// known committed; AppliedIndex the last applied to the FSM.
	LastIndex, CommitIndex, AppliedIndex uint64
	LeaderID, LeaderAddr                 string
	// Voters and NonVoters are the latest Raft configuration (possibly not
	// yet committed), sorted by ID.
	Voters, NonVoters []Server
	// Version is Current().Version.
	Version int64
	// LastContact is when a follower last heard from the leader (zero on
	// the leader and before any contact).
	LastContact time.Time
	// Stopped says why Raft stopped on this server when it met a log
	// entry it can't apply (see StoppedError); empty otherwise.
	Stopped string
}

// Status reads this server's Raft state. It doesn't block on the network.
func (s *Store) Status() Status {
	st := Status{
		ID:           s.cfg.ID,
		State:        s.raft.State().String(),
		Term:         s.raft.CurrentTerm(),
		LastIndex:    s.raft.LastIndex(),
		CommitIndex:  s.raft.CommitIndex(),
		AppliedIndex: s.raft.AppliedIndex(),
		Version:      s.Current().Version,
		LastContact:  s.raft.LastContact(),
	}
	st.LeaderID, st.LeaderAddr = s.Leader()
	if err := s.Err(); err != nil {
		st.Stopped = err.Error()
	}
	if st.State == raft.Leader.String() {
		st.LastContact = time.Time{}
	}
	if f := s.raft.GetConfiguration(); f.Error() == nil {
		for _, srv := range f.Configuration().Servers {
			m := Server{ID: string(srv.ID), Addr: string(srv.Address)}
			if srv.Suffrage == raft.Voter {
				st.Voters = append(st.Voters, m)
			} else {
				st.NonVoters = append(st.NonVoters, m)
			}
		}
	}
	byID := func(a, b Server) int { return cmp.Compare(a.ID, b.ID) }
	slices.SortFunc(st.Voters, byID)
	slices.SortFunc(st.NonVoters, byID)
	return st
}
