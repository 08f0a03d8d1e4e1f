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
		name string
		cfg  Config
		want string
	}{
		{"no ID", Config{InMemory: true, BindAddr: "127.0.0.1:0"}, "an ID is required"},
		{"no address", Config{ID: "a", InMemory: true}, "BindAddr is required"},
		{"no data dir", Config{ID: "a", BindAddr: "127.0.0.1:0"}, "DataDir is required"},
		{"even voters", Config{ID: "a", InMemory: true, BindAddr: "127.0.0.1:0", Voters: 4}, "voters 4"},
		{"too many voters", Config{ID: "a", InMemory: true, BindAddr: "127.0.0.1:0", Voters: 9}, "voters 9"},
		{"bootstrap above voters", Config{ID: "a", InMemory: true, BindAddr: "127.0.0.1:0", BootstrapExpect: 5}, "bootstrap expect 5"},
		{"negative duration", Config{ID: "a", InMemory: true, BindAddr: "127.0.0.1:0", DeadServerTimeout: -1}, "negative"},
		{"wildcard address without an advertise address", Config{ID: "a", InMemory: true, BindAddr: "0.0.0.0:0"}, "listening for raft"},
		{"bad raft tuning", Config{ID: "a", InMemory: true, BindAddr: "127.0.0.1:0",
			Tune: func(c *raft.Config) { c.LeaderLeaseTimeout = time.Hour }}, "invalid raft config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.cfg)
			if err == nil {
				shutdown(t, s)
				t.Fatalf("Open: got nil error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestOpen_AddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Open(testConfig("a", func(c *Config) { c.BindAddr = ln.Addr().String() }))
	if err == nil || !strings.Contains(err.Error(), "listening for raft") {
		t.Errorf("Open on a taken port = %v, want a listening error", err)
	}
}

func TestOpen_DataDirInUse(t *testing.T) {
	dir := t.TempDir()
	onDir := func(c *Config) { c.InMemory, c.DataDir, c.BindAddr = false, dir, "127.0.0.1:0" }
	openStore(t, testConfig("a", onDir))
	_, err := Open(testConfig("b", onDir))
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Open on the same DataDir = %v, want an in-use error", err)
	}
}

func TestSingleServer_BootstrapsItself(t *testing.T) {
	s := openStore(t, testConfig("solo", func(c *Config) {
		c.BindAddr, c.Voters, c.BootstrapExpect = "127.0.0.1:0", 1, 1
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
	st := s.Status()
	if st.State != "Leader" || st.LeaderID != "solo" || len(st.Voters) != 1 || st.Version != 1 || st.AppliedIndex < st.CommitIndex {
		t.Errorf("Status = %+v", st)
	}
}

func TestShutdown_IdempotentThenClosed(t *testing.T) {
	s := openStore(t, testConfig("solo", func(c *Config) {
		c.BindAddr, c.Voters, c.BootstrapExpect = "127.0.0.1:0", 1, 1
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
		c.BindAddr, c.ProposeTimeout = "127.0.0.1:0", 300*time.Millisecond
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
