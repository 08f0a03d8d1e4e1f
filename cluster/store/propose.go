package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// leaderPoll is how often Propose re-checks for a leader while an election
// is in progress.
const leaderPoll = 20 * time.Millisecond

// Propose replaces the document through Raft and returns the new Document
// once this leader has committed and applied it. ifVersion 0 writes
// unconditionally, -1 only if nothing was ever written (the first leader
// seeding version 1 from its file), and >0 only if it is the current
// version.
//
// Errors: *NotLeaderError (errors.Is ErrNotLeader) on a follower that knows
// the leader; *ConflictError (ErrConflict) when ifVersion doesn't hold;
// ErrNoQuorum when no leader is elected or the commit doesn't happen before
// ctx's deadline or Config.ProposeTimeout, whichever is first (the write's
// outcome is then unknown: re-read before retrying); ctx's error if ctx is
// cancelled; ErrClosed after Shutdown; a *StoppedError (ErrStopped) once
// this server met a log entry it can't apply.
func (s *Store) Propose(ctx context.Context, data []byte, ifVersion int64) (Document, error) {
	if ifVersion < -1 {
		return Document{}, fmt.Errorf("store: ifVersion %d: want -1, 0 or a version", ifVersion)
	}
	if err := s.Err(); err != nil {
		return Document{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ProposeTimeout)
	defer cancel()
	if err := s.awaitLeadership(ctx, "proposing"); err != nil {
		return Document{}, err
	}
	f := s.raft.Apply(encodeSetDocument(data, ifVersion), untilDeadline(ctx))
	if err := s.await(ctx, f, "proposing"); err != nil {
		return Document{}, err
	}
	switch r := f.Response().(type) {
	case Document:
		return r, nil
	case *ConflictError:
		return Document{}, r
	case *StoppedError:
		return Document{}, r
	case error:
		return Document{}, fmt.Errorf("proposing: %w", r)
	default:
		return Document{}, fmt.Errorf("proposing: unexpected fsm response %T", r)
	}
}

// Barrier returns once this leader has applied every entry committed
// before the call, so Current reflects every acknowledged write. On a
// follower it returns a *NotLeaderError; errors are otherwise Propose's.
func (s *Store) Barrier(ctx context.Context) error {
	if err := s.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ProposeTimeout)
	defer cancel()
	if err := s.awaitLeadership(ctx, "waiting for barrier"); err != nil {
		return err
	}
	return s.await(ctx, s.raft.Barrier(untilDeadline(ctx)), "waiting for barrier")
}

// untilDeadline is the time left before ctx's deadline, at least 1ms
// (Raft reads a zero enqueue timeout as "wait forever").
func untilDeadline(ctx context.Context) time.Duration {
	deadline, _ := ctx.Deadline()
	return max(time.Until(deadline), time.Millisecond)
}

// awaitLeadership returns nil on the leader and a *NotLeaderError on a
// follower that knows the leader. With no known leader (an election, or a
// minority partition) it polls until one appears or ctx ends: an election
// usually settles within a second or two, and a minority never elects.
func (s *Store) awaitLeadership(ctx context.Context, doing string) error {
	tick := time.NewTicker(leaderPoll)
	defer tick.Stop()
	for {
		switch s.raft.State() {
		case raft.Leader:
			return nil
		case raft.Shutdown:
			return s.closedErr()
		}
		if id, addr := s.Leader(); id != "" {
			return &NotLeaderError{LeaderID: id, LeaderAddr: addr}
		}
		select {
		case <-ctx.Done():
			return ctxError(ctx, doing+": no leader elected")
		case <-tick.C:
		}
	}
}

// await waits for a Raft future without outliving ctx. The wait itself
// runs on a tracked goroutine: Raft resolves every future (at the latest
// on Shutdown), so it always ends.
func (s *Store) await(ctx context.Context, f raft.Future, doing string) error {
	done := make(chan error, 1)
	if !s.goTracked(func() { done <- f.Error() }) {
		return s.closedErr()
	}
	select {
	case err := <-done:
		return s.raftError(err, doing)
	case <-ctx.Done():
		return ctxError(ctx, doing+": waiting for commit")
	}
}

// raftError maps Raft's errors to the store's.
func (s *Store) raftError(err error, doing string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrRaftShutdown):
		return s.closedErr()
	case errors.Is(err, raft.ErrNotLeader):
		if id, addr := s.Leader(); id != "" {
			return &NotLeaderError{LeaderID: id, LeaderAddr: addr}
		}
		return fmt.Errorf("%s: %w: %w", doing, ErrNoQuorum, err)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrEnqueueTimeout),
		errors.Is(err, raft.ErrAbortedByRestore), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%s: %w: %w", doing, ErrNoQuorum, err)
	default:
		return fmt.Errorf("%s: %w", doing, err)
	}
}

// ctxError reports a ctx that ended: ErrNoQuorum for a deadline (the
// caller's or ProposeTimeout), the plain cause for a cancellation.
func ctxError(ctx context.Context, doing string) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%s: %w", doing, ctx.Err())
	}
	return fmt.Errorf("%s: %w: %w", doing, ErrNoQuorum, ctx.Err())
}
