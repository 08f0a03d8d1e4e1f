package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// permutations returns every order of ids.
func permutations(ids []string) [][]string {
	if len(ids) <= 1 {
		return [][]string{ids}
	}
	var out [][]string
	for i, first := range ids {
		rest := append(append([]string(nil), ids[:i]...), ids[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]string{first}, p...))
		}
	}
	return out
}

func TestBootstrapExpect_EveryStartOrder(t *testing.T) {
	for _, order := range permutations([]string{"s1", "s2", "s3"}) {
		t.Run(strings.Join(order, "-"), func(t *testing.T) {
			c := startTCPCluster(t, order)
			l := c.leader(10 * time.Second)
			propose(t, l, "hello")
			c.waitVersion(1)
			for id, s := range c.nodes {
				st := s.Status()
				if got := len(st.Voters); got != 3 || len(st.NonVoters) != 0 {
					t.Errorf("%s: %d voters %d non-voters, want 3 and 0: %+v", id, got, len(st.NonVoters), st)
				}
			}
		})
	}
}

// TestBootstrapExpect_LaterNodeJoins: a fresh node whose ID sorts first
// must not bootstrap a second cluster beside a running one.
func TestBootstrapExpect_LaterNodeJoins(t *testing.T) {
	c := startTCPCluster(t, []string{"b", "c", "d"})
	l := c.leader(10 * time.Second)
	propose(t, l, "v1")

	tr := newTCPTransport(t)
	c.all = append(c.all, Server{ID: "a", Addr: string(tr.LocalAddr())})
	c.nodes["a"] = openStore(t, testConfig("a", func(cfg *Config) { cfg.Transport = tr }))
	c.reconcileAll(nil)

	c.waitVersion(1)
	a := c.nodes["a"]
	waitFor(t, 10*time.Second, "a listed as a non-voter", func() bool {
		st := l.Status()
		return len(st.Voters) == 3 && len(st.NonVoters) == 1 && st.NonVoters[0].ID == "a"
	})
	if id, _ := a.Leader(); id != l.cfg.ID {
		t.Errorf("a follows %q, want %q", id, l.cfg.ID)
	}
	// Had a bootstrapped, its entry 1 would be its own {a,b,c}
	// configuration, which replication never overwrites (same term).
	var first raft.Log
	if err := a.st.logs.GetLog(1, &first); err != nil {
		t.Fatalf("GetLog(1) on a: %v", err)
	}
	if first.Type != raft.LogConfiguration {
		t.Fatalf("a's entry 1 has type %v, want a configuration", first.Type)
	}
	if got := fmt.Sprint(serverIDsOf(raft.DecodeConfiguration(first.Data))); got != "[b c d]" {
		t.Errorf("a's entry 1 configures %s, want the cluster's [b c d]", got)
	}
}

func serverIDsOf(c raft.Configuration) []string {
	var ids []string
	for _, s := range c.Servers {
		ids = append(ids, string(s.ID))
	}
	return ids
}

func TestPropose(t *testing.T) {
	logs := map[string]*appliedLog{}
	c := startTCPCluster(t, []string{"s1", "s2", "s3"}, func(cfg *Config) {
		logs[cfg.ID] = &appliedLog{}
		cfg.OnApply = logs[cfg.ID].onApply
	})
	l := c.leader(10 * time.Second)
	f := c.follower(l)
	ctx := context.Background()

	// Steps run in order on one cluster: the first relies on an empty store.
	steps := []struct {
		name        string
		on          *Store
		ifVersion   int64
		wantVersion int64
		wantErr     error
		check       func(t *testing.T, err error)
	}{
		{name: "only-if-empty on an empty store", on: l, ifVersion: -1, wantVersion: 1},
		{name: "only-if-empty once written", on: l, ifVersion: -1, wantErr: ErrConflict, check: wantConflictAt(1)},
		{name: "compare-and-set on the current version", on: l, ifVersion: 1, wantVersion: 2},
		{name: "compare-and-set on a stale version", on: l, ifVersion: 1, wantErr: ErrConflict, check: wantConflictAt(2)},
		{name: "unconditional", on: l, ifVersion: 0, wantVersion: 3},
		{name: "invalid ifVersion", on: l, ifVersion: -2, wantErr: errAny},
		{name: "follower names the leader", on: f, ifVersion: 0, wantErr: ErrNotLeader, check: func(t *testing.T, err error) {
			var nl *NotLeaderError
			if !errors.As(err, &nl) || nl.LeaderID != l.cfg.ID || nl.LeaderAddr != l.Addr() {
				t.Errorf("got %v, want NotLeaderError{%s, %s}", err, l.cfg.ID, l.Addr())
			}
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			data := []byte(st.name)
			doc, err := st.on.Propose(ctx, data, st.ifVersion)
			switch {
			case st.wantErr == nil && err != nil:
				t.Fatalf("Propose: %v", err)
			case st.wantErr == errAny && err == nil, st.wantErr != nil && st.wantErr != errAny && !errors.Is(err, st.wantErr):
				t.Fatalf("Propose error = %v, want %v", err, st.wantErr)
			case st.wantErr == nil && (doc.Version != st.wantVersion || string(doc.Data) != st.name):
				t.Fatalf("Propose = %d %q, want %d %q", doc.Version, doc.Data, st.wantVersion, st.name)
			}
			if st.check != nil {
				st.check(t, err)
			}
		})
	}

	c.waitVersion(3)
	for id, log := range logs {
		if got, want := log.versions(), []int64{1, 2, 3}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s OnApply versions = %v, want %v", id, got, want)
		}
	}
	if err := l.Barrier(ctx); err != nil {
		t.Errorf("Barrier on the leader: %v", err)
	}
	if err := f.Barrier(ctx); !errors.Is(err, ErrNotLeader) {
		t.Errorf("Barrier on a follower = %v, want ErrNotLeader", err)
	}
}

// errAny marks a step that must fail, with any error.
var errAny = errors.New("any error")

func wantConflictAt(v int64) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		var ce *ConflictError
		if !errors.As(err, &ce) || ce.Current != v {
			t.Errorf("got %v, want ConflictError{Current: %d}", err, v)
		}
	}
}

func TestLeaderKilled_AcknowledgedWritesSurvive(t *testing.T) {
	c := startTCPCluster(t, []string{"s1", "s2", "s3"})
	old := c.leader(10 * time.Second)
	var last Document
	for i := range 10 {
		last = propose(t, old, fmt.Sprintf("write %d", i))
	}
	c.stop(old.cfg.ID)

	l := c.leader(10 * time.Second)
	if err := l.Barrier(context.Background()); err != nil {
		t.Fatalf("Barrier on the new leader: %v", err)
	}
	if got := l.Current(); got.Version != last.Version || string(got.Data) != string(last.Data) {
		t.Fatalf("new leader has %d %q, want the last acknowledged %d %q", got.Version, got.Data, last.Version, last.Data)
	}
	next := propose(t, l, "after failover")
	if next.Version != last.Version+1 {
		t.Errorf("version after failover = %d, want %d", next.Version, last.Version+1)
	}
	c.waitVersion(next.Version)
}

func TestVoterCap_NonVotersAndPromotion(t *testing.T) {
	ids := []string{"s1", "s2", "s3", "s4", "s5"}
	c := startTCPCluster(t, ids)
	l := c.leader(10 * time.Second)
	waitFor(t, 10*time.Second, "3 voters and 2 non-voters", func() bool {
		st := l.Status()
		return len(st.Voters) == 3 && len(st.NonVoters) == 2
	})
	propose(t, l, "to all five")
	c.waitVersion(1) // non-voters replicate too

	// A failed voter past DeadServerTimeout is removed and a non-voter
	// takes its seat.
	var victim string
	for _, v := range l.Status().Voters {
		if v.ID != l.cfg.ID {
			victim = v.ID
			break
		}
	}
	c.stop(victim)
	c.reconcileAll(map[string]Departure{victim: {Since: time.Now().Add(-time.Hour)}})
	waitFor(t, 10*time.Second, victim+" removed and a non-voter promoted", func() bool {
		st := l.Status()
		return len(st.Voters) == 3 && len(st.NonVoters) == 1 &&
			!strings.Contains(fmt.Sprint(st.Voters, st.NonVoters), victim)
	})
	propose(t, l, "after promotion")
	c.waitVersion(2)
}

func TestRemoval(t *testing.T) {
	tests := []struct {
		name        string
		deadTimeout time.Duration
		departure   func() Departure
	}{
		// DeadServerTimeout of an hour: only Left explains a removal.
		{"left server removed at once", time.Hour, func() Departure { return Departure{Since: time.Now(), Left: true} }},
		// Reconcile runs once, with a fresh failure: the store's own timer
		// must fire after DeadServerTimeout.
		{"failed server removed after DeadServerTimeout", 300 * time.Millisecond, func() Departure { return Departure{Since: time.Now()} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startTCPCluster(t, []string{"s1", "s2", "s3"}, func(cfg *Config) { cfg.DeadServerTimeout = tt.deadTimeout })
			l := c.leader(10 * time.Second)
			victim := c.follower(l).cfg.ID
			c.stop(victim)
			c.reconcileAll(map[string]Departure{victim: tt.departure()})
			waitFor(t, 10*time.Second, victim+" removed", func() bool {
				st := l.Status()
				return len(st.Voters) == 2 && !strings.Contains(fmt.Sprint(st.Voters), victim)
			})
			propose(t, l, "two voters left")
			c.waitVersion(1)
		})
	}
}

func TestLeaderCh(t *testing.T) {
	c := startTCPCluster(t, []string{"s1", "s2", "s3"})
	l := c.leader(10 * time.Second)
	select {
	case v := <-l.LeaderCh():
		if !v {
			t.Errorf("LeaderCh on the leader delivered %v, want true", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("LeaderCh delivered nothing on the leader")
	}
	// A follower holds nothing, or false if it led briefly and lost.
	select {
	case v := <-c.follower(l).LeaderCh():
		if v {
			t.Errorf("LeaderCh on a follower delivered %v, want false or nothing", v)
		}
	default:
	}
}
