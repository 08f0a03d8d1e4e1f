package store

import (
	"errors"
	"fmt"
)

var (
	// ErrNotLeader is matched (errors.Is) by *NotLeaderError: the write must
	// go to the leader.
	ErrNotLeader = errors.New("store: not the raft leader")

	// ErrConflict is matched by *ConflictError: a compare-and-set lost.
	ErrConflict = errors.New("store: version conflict")

	// ErrNoQuorum means a write was not acknowledged in time: there is no
	// leader, or the leader could not reach a majority before the deadline.
	// The outcome is unknown (like any timed-out consensus write, the entry
	// may still commit later), so callers should re-read Current before
	// retrying a compare-and-set.
	ErrNoQuorum = errors.New("store: no quorum")

	// ErrClosed is returned by calls made after Shutdown.
	ErrClosed = errors.New("store: closed")

	// ErrStopped is matched by *StoppedError: this server met a log entry
	// it can't apply and stopped its Raft.
	ErrStopped = errors.New("store: stopped")
)

// StoppedError says which log entry stopped this server: one it can't
// apply (an unknown command type without the ignore flag, most likely
// written by a newer binary, or an empty entry). Propose and Barrier
// return it from then on, and Err reports it. Version is the document
// version the server kept serving.
type StoppedError struct {
	Index   uint64
	Type    uint8
	Empty   bool
	Version int64
}

func (e *StoppedError) Error() string {
	what := fmt.Sprintf("unknown command type %#x", e.Type)
	if e.Empty {
		what = "an empty entry"
	}
	return fmt.Sprintf("store: stopped: raft log entry %d is %s, which this binary can't apply (was it written by a newer version? upgrade this node); config stays at version %d", e.Index, what, e.Version)
}

// Is makes errors.Is(err, ErrStopped) true.
func (e *StoppedError) Is(target error) bool { return target == ErrStopped }

// NotLeaderError is returned by Propose and Barrier on a node that is not
// the leader. LeaderID (the leader's node name) and LeaderAddr (its Raft
// address) name the leader this node knows of, so the caller can forward
// the write (mapping the ID to the leader's other addresses through
// membership). LeaderID is never empty: with no known leader, Propose
// waits for one and returns ErrNoQuorum instead.
type NotLeaderError struct {
	LeaderID   string
	LeaderAddr string
}

func (e *NotLeaderError) Error() string {
	return fmt.Sprintf("store: not the raft leader (leader is %q at %s)", e.LeaderID, e.LeaderAddr)
}

// Is makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// ConflictError is returned by Propose when its ifVersion does not hold.
// Current is the version the FSM held when it refused the write.
type ConflictError struct {
	Current int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("store: version conflict (current version is %d)", e.Current)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
