package membership

import (
	"strings"
	"testing"
	"time"
)

func TestState_String(t *testing.T) {
	tests := []struct {
		state State
		want  string
	}{
		{Alive, "alive"}, {Suspect, "suspect"}, {Dead, "dead"}, {Left, "left"}, {State(9), "state(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.state.String(); got != tt.want {
				t.Errorf("State(%d).String() = %q, want %q", tt.state, got, tt.want)
			}
		})
	}
}

func TestMetaEncoding(t *testing.T) {
	full := Meta{
		Name: "n1", Region: "eu-west", Zone: "eu-west-1a", Version: "v1.2.3",
		RaftAddr: "10.0.0.1:7947", PeerAddr: "10.0.0.1:7948", EdgeAddr: "10.0.0.1:443", AdminAddr: "10.0.0.1:9000",
		Server: true,
	}
	tests := []struct {
		name    string
		meta    Meta
		leaving bool
		wantErr string
	}{
		{name: "full", meta: full},
		{name: "empty", meta: Meta{Name: "n1"}},
		{name: "leaving", meta: full, leaving: true},
		{name: "at the limit", meta: Meta{Name: "n1", Version: strings.Repeat("v", MaxMetaSize-len(`{"v":""}`))}},
		{name: "at the limit, leaving", meta: Meta{Name: "n1", Version: strings.Repeat("v", MaxMetaSize-len(`{"v":""}`))}, leaving: true},
		{name: "over the limit", meta: Meta{Name: "n1", Version: strings.Repeat("v", MaxMetaSize)}, wantErr: "over the gossip limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeMeta(tt.meta, tt.leaving)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("encodeMeta error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("encodeMeta: %v", err)
			}
			if len(b) > 512 {
				t.Errorf("encoded %d bytes, over memberlist's 512", len(b))
			}
			got, leaving, err := decodeMeta(tt.meta.Name, b)
			if err != nil {
				t.Fatalf("decodeMeta: %v", err)
			}
			if got != tt.meta || leaving != tt.leaving {
				t.Errorf("round trip = %+v leaving=%v, want %+v leaving=%v", got, leaving, tt.meta, tt.leaving)
			}
		})
	}
}

func TestDecodeMeta_Garbage(t *testing.T) {
	got, _, err := decodeMeta("n1", []byte("\x01not json"))
	if err == nil {
		t.Fatal("decodeMeta(garbage) error = nil, want an error")
	}
	if got != (Meta{Name: "n1"}) {
		t.Errorf("decodeMeta(garbage) = %+v, want just the name", got)
	}
}

func TestMeta_RoundTripAndUpdate(t *testing.T) {
	meta := Meta{
		Name: "a", Region: "eu", Zone: "eu-1", Version: "v9",
		RaftAddr: "127.0.0.1:7947", PeerAddr: "127.0.0.1:7948", Server: true,
	}
	a := startNode(t, "a", func(c *Config) { c.Meta = meta })
	b := startNode(t, "b", seeds(a.GossipAddr()))
	waitAllSee(t, []*testNode{a, b}, "a", "b")
	if got := memberOf(b, "a").Meta; got != meta {
		t.Errorf("b sees a's meta %+v, want %+v", got, meta)
	}
	if got := a.Local().Meta; got != meta {
		t.Errorf("a.Local().Meta = %+v, want %+v", got, meta)
	}

	updated := meta
	updated.Name = "" // empty means unchanged
	updated.EdgeAddr, updated.AdminAddr = "127.0.0.1:8443", "127.0.0.1:9000"
	if err := a.UpdateMeta(updated); err != nil {
		t.Fatalf("UpdateMeta: %v", err)
	}
	updated.Name = "a"
	waitFor(t, 5*time.Second, "b to see a's new addresses", func() bool { return memberOf(b, "a").Meta == updated })
	waitFor(t, 5*time.Second, "a to see its own new addresses", func() bool { return a.Local().Meta == updated })
	if got := memberOf(b, "a").State; got != Alive {
		t.Errorf("b sees a %v after the update, want alive", got)
	}

	for _, bad := range []struct {
		name    string
		meta    Meta
		wantErr string
	}{
		{name: "rename", meta: Meta{Name: "z"}, wantErr: "can't be renamed"},
		{name: "too big", meta: Meta{Version: strings.Repeat("v", 600)}, wantErr: "over the gossip limit"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			err := a.UpdateMeta(bad.meta)
			if err == nil || !strings.Contains(err.Error(), bad.wantErr) {
				t.Errorf("UpdateMeta error = %v, want one containing %q", err, bad.wantErr)
			}
			if got := a.Local().Meta; got != updated {
				t.Errorf("after a refused update a.Local().Meta = %+v, want %+v", got, updated)
			}
		})
	}
}

func memberOf(n *testNode, name string) Member {
	for _, m := range n.Members() {
		if m.Name == name {
			return m
		}
	}
	return Member{}
}

func TestNew_ConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "no name", cfg: Config{}, wantErr: "Meta.Name is required"},
		{name: "bad profile", cfg: Config{Meta: Meta{Name: "a"}, Profile: "moon"}, wantErr: `profile "moon"`},
		{name: "short key", cfg: Config{Meta: Meta{Name: "a"}, Keys: [][]byte{[]byte("short")}}, wantErr: "gossip key 1"},
		{name: "meta too big", cfg: Config{Meta: Meta{Name: "a", Zone: strings.Repeat("z", 600)}}, wantErr: "over the gossip limit"},
		{name: "host name bind", cfg: Config{Meta: Meta{Name: "a"}, BindAddr: "localhost:0"}, wantErr: "want an IP address"},
		{name: "bad port", cfg: Config{Meta: Meta{Name: "a"}, BindAddr: "127.0.0.1:http"}, wantErr: "bad port"},
		{name: "unresolvable advertise", cfg: Config{Meta: Meta{Name: "a"}, BindAddr: "127.0.0.1:0", AdvertiseAddr: "nowhere.invalid:1"}, wantErr: "advertise address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(tt.cfg)
			if err == nil {
				m.Shutdown(t.Context())
				t.Fatalf("New succeeded, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New error = %q, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNew_AdvertiseAddr(t *testing.T) {
	n := startNode(t, "a", func(c *Config) { c.AdvertiseAddr = "192.0.2.7:7000" })
	if got, want := n.GossipAddr(), "192.0.2.7:7000"; got != want {
		t.Errorf("GossipAddr() = %q, want %q", got, want)
	}
	waitFor(t, 5*time.Second, "a to record itself", func() bool { return memberOf(n, "a").Addr == "192.0.2.7:7000" })
}
