package membership

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// UpdateMeta replaces this node's metadata (for example with listener
// addresses known only after they bind) and gossips it. meta.Name must be
// empty or unchanged. It waits up to BroadcastTimeout for memberlist to
// finish gossiping the change; past that the change is still on its way
// (and push/pull carries it too), so that is not an error.
func (m *Membership) UpdateMeta(meta Meta) error {
	if m.closed.Load() {
		return ErrShutdown
	}
	if meta.Name == "" {
		meta.Name = m.cfg.Meta.Name
	}
	if meta.Name != m.cfg.Meta.Name {
		return fmt.Errorf("updating node metadata: a node can't be renamed (%q to %q) while it runs", m.cfg.Meta.Name, meta.Name)
	}
	enc, err := encodeMeta(meta, false)
	if err != nil {
		return fmt.Errorf("updating node metadata: %w", err)
	}
	m.metaMu.Lock()
	// Checked again under the lock: once Shutdown has set the leaving flag,
	// an update must not clear it.
	if m.closed.Load() {
		m.metaMu.Unlock()
		return ErrShutdown
	}
	m.meta, m.encoded = meta, enc
	m.metaMu.Unlock()
	if err := m.list.UpdateNode(m.cfg.BroadcastTimeout); err != nil {
		m.logger.Debug("gossip: metadata update still spreading", "err", err)
	}
	return nil
}

// Shutdown leaves the cluster gracefully and stops gossip: it cancels the
// join goroutine, gossips that this node is leaving (so the others record
// Left rather than Dead), waits for memberlist to broadcast the leave,
// shuts memberlist down, then waits for the event and join goroutines.
// ctx bounds the whole; the leave is also bounded by LeaveTimeout, and a
// leave cut short by it is not an error (failure detection tells the
// others the rest). Memberlist is shut down even when ctx expires, and the
// error says what was cut short (a join round stuck dialling a silent seed
// ends at memberlist's TCPTimeout). Later calls return nil.
func (m *Membership) Shutdown(ctx context.Context) error {
	return m.shutdown(ctx, true)
}

// shutdown with leave=false stops gossip without a word to the others, as a
// crash would (tests use it to check failure detection).
func (m *Membership) shutdown(ctx context.Context, leave bool) error {
	if !m.closed.CompareAndSwap(false, true) {
		return nil
	}
	var errs []error
	// Stop joining first; a round may be inside memberlist's dial (up to
	// its TCPTimeout), which nothing can interrupt, so it is waited for
	// last and leaving doesn't queue behind it.
	m.stopJoin()
	final := Dead
	if leave {
		final = Left
		errs = append(errs, m.leave(ctx)...)
	}
	if err := m.list.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("shutting down gossip: %w", err))
	}
	close(m.stopEvents)
	if err := waitDone(ctx, m.eventsDone); err != nil {
		errs = append(errs, fmt.Errorf("stopping change delivery (OnChange still running): %w", err))
	}
	if err := waitDone(ctx, m.joinDone); err != nil {
		errs = append(errs, fmt.Errorf("stopping the join loop: %w", err))
	}
	m.table.setState(m.cfg.Meta.Name, final, m.cfg.Now())
	return errors.Join(errs...)
}

// leave gossips the leaving flag, then memberlist's leave message. Each
// wait ends when memberlist has sent its message as often as it means to
// (at once when no one else is alive), or at the deadline: LeaveTimeout,
// or ctx's deadline if sooner. A leave that hits LeaveTimeout is still on
// its way, and the others detect the rest, so only ctx's end is an error.
func (m *Membership) leave(ctx context.Context) []error {
	deadline := time.Now().Add(m.cfg.LeaveTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	report := func(what string, err error) []error {
		if ctx.Err() != nil {
			return []error{fmt.Errorf("%s: %w (%w)", what, err, ctx.Err())}
		}
		m.logger.Debug("gossip: "+what+" cut short; failure detection tells the rest", "err", err)
		return nil
	}
	// memberlist waits forever on a zero timeout, so never pass one.
	remaining := func() time.Duration { return max(time.Until(deadline), time.Millisecond) }
	var errs []error
	m.metaMu.Lock()
	m.encoded, _ = encodeMeta(m.meta, true) // encodeMeta reserved room for the flag
	m.metaMu.Unlock()
	if err := m.list.UpdateNode(remaining()); err != nil {
		errs = append(errs, report("announcing that this node is leaving", err)...)
	}
	if err := m.list.Leave(remaining()); err != nil {
		errs = append(errs, report("leaving the cluster", err)...)
	}
	return errs
}

// waitDone waits for done to close or ctx to end.
func waitDone(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
