package config

import (
	"slices"
	"strings"
	"testing"
)

// TestParse_OffSwitchContradiction: -1 (off) with enabled: true is refused
// with a pointer to enabled: false.
func TestParse_OffSwitchContradiction(t *testing.T) {
	for _, doc := range []string{
		upstreamDoc("retries: {enabled: true, attempts: -1}"),
		upstreamDoc("health: {passive: {enabled: true, failures: -1}}"),
	} {
		_, err := parse(t, doc, nil)
		if err == nil || !strings.Contains(err.Error(), "enabled: false") {
			t.Errorf("Parse(%q) = %v, want an error pointing to enabled: false", doc, err)
		}
	}
}

func TestParse_Upgrades(t *testing.T) {
	for _, tt := range []struct {
		line string
		want []string
	}{
		{"", []string{"websocket"}},
		{"upgrades: []", []string{"websocket"}}, // an empty list is unset
		{"upgrades: [none]", []string{"none"}},
		{"upgrades: [websocket, foo]", []string{"websocket", "foo"}},
	} {
		f := mustParse(t, routeDoc(tt.line), nil)
		if got := f.Gateway.Routes[0].Upgrades; !slices.Equal(got, tt.want) {
			t.Errorf("%q: upgrades = %q, want %q", tt.line, got, tt.want)
		}
		// The defaulted list survives the canonical document's round trip.
		g, err := ParseGateway(testFile, f.Gateway.Document(), nil)
		if err != nil {
			t.Fatalf("%q: reparsing the document: %v", tt.line, err)
		}
		if got := g.Routes[0].Upgrades; !slices.Equal(got, tt.want) {
			t.Errorf("%q: upgrades after a round trip = %q, want %q", tt.line, got, tt.want)
		}
	}
	for _, line := range []string{"upgrades: [h2c]", "upgrades: [H2C, websocket]", "upgrades: [none, websocket]", `upgrades: ["web socket"]`} {
		if _, err := parse(t, routeDoc(line), nil); err == nil {
			t.Errorf("%q accepted, want an error", line)
		}
	}
	if _, err := parse(t, upstreamDoc("health: {passive: {on: [5xx, reset]}}"), nil); err == nil {
		t.Error("health.passive.on: [reset] accepted, want an error")
	}
}
