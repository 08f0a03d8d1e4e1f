package membership

import (
	"log/slog"
	"testing"
	"time"
)

func TestTable_Apply(t *testing.T) {
	meta := func(leaving bool) []byte {
		b, err := encodeMeta(Meta{Region: "eu"}, leaving)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	join := event{kind: evJoin, name: "n", addr: "10.0.0.1:7946", meta: meta(false)}
	tests := []struct {
		name        string
		events      []event
		wantState   State
		wantChanges int
		wantKnown   bool
	}{
		{name: "join", events: []event{join}, wantState: Alive, wantChanges: 1, wantKnown: true},
		{name: "same update twice", events: []event{join, {kind: evUpdate, name: "n", addr: join.addr, meta: join.meta}}, wantState: Alive, wantChanges: 1, wantKnown: true},
		{name: "suspect", events: []event{join, {kind: evSuspect, name: "n"}}, wantState: Suspect, wantChanges: 2, wantKnown: true},
		{name: "suspect then answer", events: []event{join, {kind: evSuspect, name: "n"}, {kind: evAnswer, name: "n"}}, wantState: Alive, wantChanges: 3, wantKnown: true},
		{name: "answer while alive", events: []event{join, {kind: evAnswer, name: "n"}}, wantState: Alive, wantChanges: 1, wantKnown: true},
		{name: "suspect unknown", events: []event{{kind: evSuspect, name: "n"}}, wantChanges: 0},
		{name: "crash", events: []event{join, {kind: evSuspect, name: "n"}, {kind: evLeave, name: "n", addr: join.addr, meta: join.meta}}, wantState: Dead, wantChanges: 3, wantKnown: true},
		{name: "graceful leave", events: []event{join, {kind: evUpdate, name: "n", addr: join.addr, meta: meta(true)}, {kind: evLeave, name: "n", addr: join.addr, meta: meta(true)}}, wantState: Left, wantChanges: 2, wantKnown: true},
		{name: "dead then back", events: []event{join, {kind: evLeave, name: "n", addr: join.addr, meta: join.meta}, join}, wantState: Alive, wantChanges: 3, wantKnown: true},
		{name: "suspect after dead stays dead", events: []event{join, {kind: evLeave, name: "n", addr: join.addr, meta: join.meta}, {kind: evSuspect, name: "n"}}, wantState: Dead, wantChanges: 2, wantKnown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newTable()
			now := time.Unix(1000, 0)
			changes := 0
			for _, e := range tt.events {
				now = now.Add(time.Second)
				if tab.apply(e, now, slog.New(slog.DiscardHandler)) {
					changes++
				}
			}
			m, known := tab.get("n")
			if known != tt.wantKnown || (known && m.State != tt.wantState) {
				t.Errorf("member = %+v (known %v), want state %v (known %v)", m, known, tt.wantState, tt.wantKnown)
			}
			if changes != tt.wantChanges {
				t.Errorf("changes = %d, want %d", changes, tt.wantChanges)
			}
		})
	}
}

func TestTable_SinceKeptWithoutStateChange(t *testing.T) {
	tab := newTable()
	logger := slog.New(slog.DiscardHandler)
	t0, t1 := time.Unix(1, 0), time.Unix(2, 0)
	tab.apply(event{kind: evJoin, name: "n", addr: "a:1"}, t0, logger)
	tab.apply(event{kind: evUpdate, name: "n", addr: "a:1", meta: []byte(`{"r":"us"}`)}, t1, logger)
	m, _ := tab.get("n")
	if !m.Since.Equal(t0) || m.Region != "us" {
		t.Errorf("after a metadata update: Since %v region %q, want %v and us", m.Since, m.Region, t0)
	}
	if tab.reap(t1.Add(time.Hour)) {
		t.Error("reap dropped an alive member")
	}
}
