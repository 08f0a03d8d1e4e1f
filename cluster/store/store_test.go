package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

func TestOpen_InvalidConfig(t *testing.T) {
	tests := []struct {
		name   string
		listen string // "" for no Listener
		cfg    Config
		want   string
	}{
		{"no ID", "127.0.0.1:0", Config{InMemory: true}, "an ID is required"},
		{"no listener", "", Config{ID: "a", InMemory: true}, "a Listener and a Dial are required"},
		{"no data dir", "127.0.0.1:0", Config{ID: "a"}, "DataDir is required"},
		{"even voters", "127.0.0.1:0", Config{ID: "a", InMemory: true, Voters: 4}, "voters 4"},
		{"too many voters", "127.0.0.1:0", Config{ID: "a", InMemory: true, Voters: 9}, "voters 9"},
		{"bootstrap above voters", "127.0.0.1:0", Config{ID: "a", InMemory: true, BootstrapExpect: 5}, "bootstrap expect 5"},
		{"negative duration", "127.0.0.1:0", Config{ID: "a", InMemory: true, DeadServerTimeout: -1}, "negative"},
		{"wildcard address without an advertise address", "0.0.0.0:0", Config{ID: "a", InMemory: true}, "set an advertise address"},
		{"bad raft tuning", "127.0.0.1:0", Config{ID: "a", InMemory: true,
			Tune: func(c *raft.Config) { c.LeaderLeaseTimeout = time.Hour }}, "invalid raft config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			var ln net.Listener
			if tt.listen != "" {
				onTCP(t, tt.listen)(&cfg)
				ln = cfg.Listener
			}
			s, err := Open(cfg)
			if err == nil {
				shutdown(t, s)
				t.Fatalf("Open: got nil error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open error = %q, want it to contain %q", err, tt.want)
			}
			if ln != nil {
				// A failed Open closes the listener it was handed.
				if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
					c.Close()
					t.Errorf("the listener is still open after a failed Open")
				}
			}
		})
	}
}

func TestOpen_DataDirInUse(t *testing.T) {
	dir := t.TempDir()
	onDir := func(c *Config) { c.InMemory, c.DataDir = false, dir; onTCP(t, "127.0.0.1:0")(c) }
	openStore(t, testConfig("a", onDir))
	_, err := Open(testConfig("b", onDir))
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Open on the same DataDir = %v, want an in-use error", err)
	}
}

func TestSingleServer_BootstrapsItself(t *testing.T) {
	s := openStore(t, testConfig("solo", func(c *Config) {
		c.Voters, c.BootstrapExpect = 1, 1
		onTCP(t, "127.0.0.1:0")(c)
	}))
	if got := s.Current(); got.Version != 0 || got.Data != nil {
		t.Errorf("Current before any write = %+v, want the zero Document", got)
	}
	s.Reconcile(nil, nil) // self alone is enough
	waitFor(t, 10*time.Second, "solo to lead", s.IsLeader)
	doc := propose(t, s, "alone")
	if doc.Version != 1 {
		t.Errorf("version = %d, want 1", doc.Version)
	}
	// Raft may commit an entry of its own (a configuration change) that
	// it applies a moment later: wait for the applied index to catch up.
	waitFor(t, 10*time.Second, "the applied index to reach the commit index", func() bool {
		st := s.Status()
		return st.AppliedIndex >= st.CommitIndex
	})
	st := s.Status()
	if st.State != "Leader" || st.LeaderID != "solo" || len(st.Voters) != 1 || st.Version != 1 {
		t.Errorf("Status = %+v", st)
	}
}

func TestShutdown_IdempotentThenClosed(t *testing.T) {
	s := openStore(t, testConfig("solo", func(c *Config) {
		c.Voters, c.BootstrapExpect = 1, 1
		onTCP(t, "127.0.0.1:0")(c)
	}))
	s.Reconcile(nil, nil)
	waitFor(t, 10*time.Second, "solo to lead", s.IsLeader)
	propose(t, s, "kept")
	for i := range 2 {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown #%d: %v", i+1, err)
		}
	}
	if _, err := s.Propose(context.Background(), []byte("late"), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Propose after Shutdown = %v, want ErrClosed", err)
	}
	if err := s.Barrier(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Barrier after Shutdown = %v, want ErrClosed", err)
	}
	if got := s.Current(); got.Version != 1 {
		t.Errorf("Current after Shutdown = %d, want 1", got.Version)
	}
	s.Reconcile(nil, nil) // must not block or panic
}

func TestPropose_NoLeaderYet(t *testing.T) {
	// Never bootstrapped: no leader will appear.
	s := openStore(t, testConfig("lonely", func(c *Config) {
		c.ProposeTimeout = 300 * time.Millisecond
		onTCP(t, "127.0.0.1:0")(c)
	}))
	tests := []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error
	}{
		{"store bound", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, ErrNoQuorum},
		{"caller deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, ErrNoQuorum},
		{"caller cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			if _, err := s.Propose(ctx, []byte("x"), 0); !errors.Is(err, tt.wantErr) {
				t.Errorf("Propose = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := newHCLogAdapter(base, "raft").Named("transport").With("peer", "b")
	tests := []struct {
		name string
		log  func()
		want string
	}{
		{"info goes to debug", func() { l.Info("entering follower state") }, `level=DEBUG msg="entering follower state" peer=b logger=raft.transport`},
		{"warn stays warn", func() { l.Warn("heartbeat timeout", "term", 3) }, `level=WARN msg="heartbeat timeout" peer=b logger=raft.transport term=3`},
		{"error stays error", func() { l.Error("failed") }, `level=ERROR msg=failed`},
		{"off is dropped", func() { l.Log(hclog.Off, "never") }, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			tt.log()
			got := buf.String()
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("logged %q, want it to contain %q", got, tt.want)
			}
		})
	}
	quiet := newHCLogAdapter(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})), "raft")
	if quiet.IsDebug() || !quiet.IsWarn() || quiet.GetLevel() != hclog.Warn {
		t.Errorf("warn-level adapter: IsDebug=%v IsWarn=%v GetLevel=%v", quiet.IsDebug(), quiet.IsWarn(), quiet.GetLevel())
	}
}
