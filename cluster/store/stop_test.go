package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestUnknownCommand_StopsCleanlyAndAgainOnRestart: an entry with a
// command type this binary doesn't know (no ignore flag) used to panic on
// Raft's FSM goroutine, taking the process down, and again on every
// restart when Raft replayed it. Now the server stops its Raft with a
// clear error, keeps the last document, and a restart meets the entry and
// stops the same way.
func TestUnknownCommand_StopsCleanlyAndAgainOnRestart(t *testing.T) {
	dir := t.TempDir()
	solo := func(c *Config) {
		c.InMemory, c.DataDir, c.Voters, c.BootstrapExpect = false, dir, 1, 1
		onTCP(t, "127.0.0.1:0")(c)
	}
	s := openStore(t, testConfig("solo", solo))
	s.Reconcile(nil, nil)
	waitFor(t, 10*time.Second, "solo to lead", s.IsLeader)
	propose(t, s, "kept")

	// What a newer binary (or a forger) would append: type 0x7f.
	if err := s.raft.Apply([]byte{0x7f, 'x'}, time.Second).Error(); err != nil {
		t.Fatalf("appending the unknown entry: %v", err)
	}
	waitStopped := func(s *Store) {
		t.Helper()
		waitFor(t, 10*time.Second, "the store to stop", func() bool { return s.Err() != nil && s.Status().State == "Shutdown" })
		var st *StoppedError
		if !errors.As(s.Err(), &st) || st.Type != 0x7f || st.Version != 1 {
			t.Fatalf("Err = %v, want a StoppedError for type 0x7f at version 1", s.Err())
		}
		if _, err := s.Propose(context.Background(), []byte("more"), 0); !errors.Is(err, ErrStopped) {
			t.Errorf("Propose after the stop = %v, want ErrStopped", err)
		}
		if got := s.Current(); got.Version != 1 || string(got.Data) != "kept" {
			t.Errorf("Current = %d %q, want the last applied version 1", got.Version, got.Data)
		}
		if got := s.Status().Stopped; got == "" {
			t.Error("Status().Stopped is empty, want the reason")
		}
	}
	waitStopped(s)
	shutdown(t, s)

	// The restart replays the entry: the same clean stop, no panic.
	s2 := openStore(t, testConfig("solo", solo))
	s2.Reconcile(nil, nil)
	waitStopped(s2)
}
