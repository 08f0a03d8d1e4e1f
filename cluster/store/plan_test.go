package store

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// cfgOf builds a configuration from "id" (voter) and "id~" (non-voter);
// each server's address is id:1.
func cfgOf(specs ...string) []raft.Server {
	var out []raft.Server
	for _, s := range specs {
		suffrage := raft.Voter
		if id, ok := strings.CutSuffix(s, "~"); ok {
			s, suffrage = id, raft.Nonvoter
		}
		out = append(out, raft.Server{Suffrage: suffrage, ID: raft.ServerID(s), Address: raft.ServerAddress(s + ":1")})
	}
	return out
}

func liveOf(ids ...string) []Server {
	var out []Server
	for _, id := range ids {
		out = append(out, Server{ID: id, Addr: id + ":1"})
	}
	return out
}

// render writes a plan as "+a +b~ -c" (voter, non-voter, removal).
func render(plan []change) string {
	var parts []string
	for _, c := range plan {
		switch c.kind {
		case addVoter:
			parts = append(parts, "+"+c.id)
		case addNonvoter:
			parts = append(parts, "+"+c.id+"~")
		case removeServer:
			parts = append(parts, "-"+c.id)
		}
	}
	return strings.Join(parts, " ")
}

func TestPlanner_Plan(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	failed := func(ago time.Duration) Departure { return Departure{Since: now.Add(-ago)} }
	left := Departure{Since: now, Left: true}
	tests := []struct {
		name string
		cfg  []raft.Server
		live []Server
		gone map[string]Departure
		want string
	}{
		{"nothing to do", cfgOf("a", "b", "c"), liveOf("a", "b", "c"), nil, ""},
		{"new servers fill voters then follow as non-voters", cfgOf("a"), liveOf("a", "e", "b", "d", "c"), nil, "+b +c +d~ +e~"},
		{"non-voters wait for a free voter seat", cfgOf("a", "b", "c", "d~"), liveOf("a", "b", "c", "d"), nil, ""},
		{"left voter removed at once and a non-voter promoted", cfgOf("a", "b", "c", "d~", "e~"), liveOf("a", "b", "d", "e"),
			map[string]Departure{"c": left}, "-c +d"},
		{"failed voter kept before the timeout", cfgOf("a", "b", "c", "d~"), liveOf("a", "b", "d"),
			map[string]Departure{"c": failed(9 * time.Minute)}, ""},
		{"failed voter removed after the timeout", cfgOf("a", "b", "c", "d~"), liveOf("a", "b", "d"),
			map[string]Departure{"c": failed(10 * time.Minute)}, "-c +d"},
		{"failed non-voter removed after the timeout", cfgOf("a", "b", "c", "d~"), liveOf("a", "b", "c"),
			map[string]Departure{"d": failed(time.Hour)}, "-d"},
		{"never removes self", cfgOf("a", "b", "c"), liveOf("b", "c"),
			map[string]Departure{"a": left}, ""},
		{"a live server wins over a stale departure", cfgOf("a", "b", "c"), liveOf("a", "b", "c"),
			map[string]Departure{"c": left}, ""},
		{"unknown servers are left alone", cfgOf("a", "b", "c"), liveOf("a"), nil, ""},
		{"no removal that leaves no live majority", cfgOf("a", "b", "c"), liveOf("a"),
			map[string]Departure{"b": left, "c": left}, ""},
		{"two of five failed voters removed one by one", cfgOf("a", "b", "c", "d", "e"), liveOf("a", "b", "c"),
			map[string]Departure{"d": failed(time.Hour), "e": failed(time.Hour)}, "-d -e"},
		{"three of five failed voters: only safe removals", cfgOf("a", "b", "c", "d", "e"), liveOf("a", "b"),
			map[string]Departure{"c": failed(time.Hour), "d": failed(time.Hour), "e": failed(time.Hour)}, ""},
		{"address change keeps suffrage", cfgOf("a", "b", "c", "d~"),
			[]Server{{"a", "a:1"}, {"b", "b:2"}, {"c", "c:1"}, {"d", "d:2"}}, nil, "+b +d~"},
		{"departed server not in the configuration is ignored", cfgOf("a", "b", "c"), liveOf("a", "b", "c"),
			map[string]Departure{"z": left}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planner{self: "a", voterCap: 3, deadAfter: 10 * time.Minute, now: now}
			if got := render(p.plan(tt.cfg, tt.live, tt.gone)); got != tt.want {
				t.Errorf("plan = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlanner_AddressChangeUsesNewAddress(t *testing.T) {
	p := planner{self: "a", voterCap: 3, deadAfter: time.Minute}
	c, ok := p.next(cfgOf("a", "b"), []Server{{"a", "a:1"}, {"b", "b:9"}}, nil)
	if !ok || c.kind != addVoter || c.id != "b" || c.addr != "b:9" {
		t.Errorf("next = %+v, %v; want add voter b at b:9", c, ok)
	}
}

func TestPlanner_Wake(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	p := planner{self: "a", voterCap: 3, deadAfter: 10 * time.Minute, now: now}
	tests := []struct {
		name   string
		gone   map[string]Departure
		want   time.Duration
		wantOK bool
	}{
		{"nothing pending", nil, 0, false},
		{"soonest failed server", map[string]Departure{
			"b": {Since: now.Add(-4 * time.Minute)}, "c": {Since: now.Add(-7 * time.Minute)},
		}, 3 * time.Minute, true},
		{"already due is not a wake-up", map[string]Departure{"b": {Since: now.Add(-time.Hour)}}, 0, false},
		{"left servers need no timer", map[string]Departure{"b": {Since: now, Left: true}}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := p.wake(cfgOf("a", "b", "c"), liveOf("a"), tt.gone)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("wake = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestBootstrapSet(t *testing.T) {
	tests := []struct {
		name     string
		self     string
		live     []Server
		n        int
		want     string // chosen IDs, comma-separated
		wantSelf bool
	}{
		{"too few servers", "a", liveOf("a", "b"), 3, "", false},
		{"exactly n", "b", liveOf("c", "a", "b"), 3, "a,b,c", true},
		{"smallest n IDs when more are live", "b", liveOf("d", "c", "a", "b"), 3, "a,b,c", true},
		{"self outside the smallest n", "d", liveOf("d", "c", "a", "b"), 3, "a,b,c", false},
		{"self missing from the view counts", "a", liveOf("b", "c"), 3, "a,b,c", true},
		{"duplicates count once", "a", liveOf("a", "b", "b"), 3, "", false},
		{"single server", "a", nil, 1, "a", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, gotSelf := bootstrapSet(tt.self, tt.self+":1", tt.live, tt.n)
			ids := strings.Join(serverIDs(got), ",")
			if ids != tt.want || gotSelf != tt.wantSelf {
				t.Errorf("bootstrapSet = %q, %v; want %q, %v", ids, gotSelf, tt.want, tt.wantSelf)
			}
		})
	}
}

// TestBootstrapSet_SameOnEveryNode checks the property bootstrap safety
// rests on: every chosen node computes the same configuration.
func TestBootstrapSet_SameOnEveryNode(t *testing.T) {
	live := liveOf("n4", "n1", "n3", "n0", "n2")
	var first []Server
	for _, self := range []string{"n0", "n1", "n2"} {
		shuffled := slices.Clone(live)
		slices.Reverse(shuffled)
		got, ok := bootstrapSet(self, "elsewhere:1", shuffled, 3)
		if !ok {
			t.Fatalf("%s not chosen", self)
		}
		if first == nil {
			first = got
		} else if fmt.Sprint(got) != fmt.Sprint(first) {
			t.Errorf("%s chose %v, n0 chose %v", self, got, first)
		}
	}
}
