package membership

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func startThree(t *testing.T, opts ...func(*Config)) (a, b, c *testNode) {
	t.Helper()
	a = startNode(t, "a", opts...)
	b = startNode(t, "b", append(opts, seeds(a.GossipAddr()))...)
	c = startNode(t, "c", append(opts, seeds(a.GossipAddr()))...)
	waitAllSee(t, []*testNode{a, b, c}, "a", "b", "c")
	return a, b, c
}

// kill stops n's gossip without leaving, as a crash would.
func kill(t *testing.T, n *testNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.shutdown(ctx, false); err != nil {
		t.Fatalf("killing %s: %v", n.cfg.Meta.Name, err)
	}
}

func TestFailure_KilledNodeBecomesDead(t *testing.T) {
	a, b, c := startThree(t)
	kill(t, c)
	survivors := []*testNode{a, b}
	for _, n := range survivors {
		waitFor(t, 5*time.Second, n.cfg.Meta.Name+" to see c dead", func() bool { return states(n)["c"] == Dead })
	}
	// memberlist suspects before it declares dead; the prober sees Suspect.
	suspected := false
	for _, n := range survivors {
		got := n.changes.states("c")
		if i := slices.Index(got, Suspect); i >= 0 && slices.Index(got[i:], Dead) > 0 {
			suspected = true
		}
		if last := got[len(got)-1]; last != Dead {
			t.Errorf("%s: last state of c = %v, want dead (history %v)", n.cfg.Meta.Name, last, got)
		}
	}
	if !suspected {
		t.Errorf("no survivor reported c suspect before dead: a %v, b %v", a.changes.states("c"), b.changes.states("c"))
	}
	if got := c.Local().State; got != Dead {
		t.Errorf("killed c.Local().State = %v, want dead", got)
	}
}

func TestLeave_GracefulShowsLeft(t *testing.T) {
	a, b, c := startThree(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, n := range []*testNode{a, b} {
		waitFor(t, 5*time.Second, n.cfg.Meta.Name+" to see c leave", func() bool {
			s, ok := states(n)["c"]
			return ok && s != Alive && s != Suspect
		})
		if got := states(n)["c"]; got != Left {
			t.Errorf("%s sees c %v, want left", n.cfg.Meta.Name, got)
		}
	}
	if got := c.Local().State; got != Left {
		t.Errorf("c.Local().State = %v, want left", got)
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown = %v, want nil", err)
	}
	if err := c.UpdateMeta(Meta{Region: "us"}); err != ErrShutdown {
		t.Errorf("UpdateMeta after Shutdown = %v, want ErrShutdown", err)
	}
}

func TestShutdown_AloneIsQuick(t *testing.T) {
	n := startNode(t, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown of a lone node: %v", err)
	}
}

func TestDeadMembersAreReaped(t *testing.T) {
	a, _, c := startThree(t, func(cfg *Config) { cfg.DeadRetention = 300 * time.Millisecond })
	kill(t, c)
	waitFor(t, 5*time.Second, "a to see c dead", func() bool { return states(a)["c"] == Dead })
	waitFor(t, 5*time.Second, "a to drop c", func() bool {
		_, ok := states(a)["c"]
		return !ok
	})
	if !sees(a, "a", "b") {
		t.Errorf("a sees %v after reaping, want a and b alive", states(a))
	}
}

// TestFailureDetectionDefaultLAN measures how long memberlist's default
// LAN settings take to declare a crashed node dead. It only logs the
// figure: set MEMBERSHIP_MEASURE=1 to run it (it takes several seconds).
func TestFailureDetectionDefaultLAN(t *testing.T) {
	if testing.Short() || os.Getenv("MEMBERSHIP_MEASURE") == "" {
		t.Skip("set MEMBERSHIP_MEASURE=1 (and no -short) to measure default-LAN failure detection")
	}
	lan := func(c *Config) {
		c.Tune = func(*memberlist.Config) {}
		c.Profile = "lan"
	}
	a, b, c := startThree(t, lan)
	start := time.Now()
	kill(t, c)
	for _, n := range []*testNode{a, b} {
		waitFor(t, 60*time.Second, n.cfg.Meta.Name+" to see c dead", func() bool { return states(n)["c"] == Dead })
		dead := memberOf(n, "c").Since // stamped when the event was applied
		t.Logf("%s saw c dead %v after the kill (history %v)", n.cfg.Meta.Name, dead.Sub(start).Round(time.Millisecond), n.changes.states("c"))
	}
}
