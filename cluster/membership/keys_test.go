package membership

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseKey(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, n)) }
	tests := []struct {
		name    string
		in      string
		wantLen int
		wantErr string
	}{
		{name: "aes-128", in: b64(16), wantLen: 16},
		{name: "aes-192", in: b64(24), wantLen: 24},
		{name: "aes-256 with spaces", in: " " + b64(32) + "\n", wantLen: 32},
		{name: "empty", in: "  ", wantErr: "empty"},
		{name: "not base64", in: "!!!not-base64!!!", wantErr: "not standard base64"},
		{name: "url alphabet", in: strings.ReplaceAll(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 16)), "+", "-"), wantErr: "not standard base64"},
		{name: "wrong length", in: b64(20), wantErr: "decodes to 20 bytes, want 16, 24 or 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParseKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseKey(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKey(%q): %v", tt.in, err)
			}
			if len(key) != tt.wantLen {
				t.Errorf("ParseKey(%q) = %d bytes, want %d", tt.in, len(key), tt.wantLen)
			}
		})
	}
}

func TestSetKeys_Rotation(t *testing.T) {
	a, b, c := startThree(t)
	nodes := []*testNode{a, b, c}
	steps := []struct {
		name        string
		keys        [][]byte
		wantPrimary []byte
		wantAll     int
	}{
		{name: "install new", keys: [][]byte{key1, key2}, wantPrimary: key1, wantAll: 2},
		{name: "switch primary", keys: [][]byte{key2, key1}, wantPrimary: key2, wantAll: 2},
		{name: "remove old", keys: [][]byte{key2}, wantPrimary: key2, wantAll: 1},
	}
	for _, step := range steps {
		for _, n := range nodes {
			if err := n.SetKeys(step.keys); err != nil {
				t.Fatalf("%s: %s.SetKeys: %v", step.name, n.cfg.Meta.Name, err)
			}
			primary, all := n.Keys()
			if !bytes.Equal(primary, step.wantPrimary) || len(all) != step.wantAll {
				t.Errorf("%s: %s.Keys() = primary %x, %d keys; want %x, %d", step.name, n.cfg.Meta.Name, primary, len(all), step.wantPrimary, step.wantAll)
			}
		}
	}
	// Still connected: a metadata change crosses the new key, a node with
	// the new key joins, one with the old key can't.
	if err := a.UpdateMeta(Meta{Region: "rotated"}); err != nil {
		t.Fatalf("UpdateMeta: %v", err)
	}
	for _, n := range []*testNode{b, c} {
		waitFor(t, 5*time.Second, n.cfg.Meta.Name+" to see a's update", func() bool { return memberOf(n, "a").Region == "rotated" })
	}
	d := startNode(t, "d", withKeys(key2), seeds(b.GossipAddr()))
	waitAllSee(t, append(nodes, d), "a", "b", "c", "d")
	e := startNode(t, "e", withKeys(key1), seeds(c.GossipAddr()))
	waitFor(t, 5*time.Second, "e to be refused", func() bool { return e.logs.count("the gossip key differs") == 1 })
	for _, n := range nodes {
		if got := n.changes.states("a"); len(got) != 1 {
			t.Errorf("%s saw a go through %v during rotation, want alive throughout", n.cfg.Meta.Name, got)
		}
	}
}

func TestSetKeys_Errors(t *testing.T) {
	encrypted := startNode(t, "enc")
	plain := startNode(t, "plain", withKeys())
	closed := startNode(t, "closed")
	if err := closed.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	tests := []struct {
		name    string
		node    *testNode
		keys    [][]byte
		wantErr string
	}{
		{name: "no keys", node: encrypted, keys: nil, wantErr: "at least one key"},
		{name: "bad length", node: encrypted, keys: [][]byte{key2, []byte("short")}, wantErr: "key 2"},
		{name: "started unencrypted", node: plain, keys: [][]byte{key1}, wantErr: "started unencrypted"},
		{name: "after shutdown", node: closed, keys: [][]byte{key1}, wantErr: ErrShutdown.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.node.SetKeys(tt.keys)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("SetKeys error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if primary, all := encrypted.Keys(); !bytes.Equal(primary, key1) || len(all) != 1 {
		t.Errorf("after refused SetKeys: Keys() = %x, %d keys; want key1 alone", primary, len(all))
	}
	if primary, all := plain.Keys(); primary != nil || all != nil {
		t.Errorf("unencrypted Keys() = %x, %v; want nil, nil", primary, all)
	}
	if err := closed.SetKeys([][]byte{key1}); !errors.Is(err, ErrShutdown) {
		t.Errorf("SetKeys after Shutdown = %v, want ErrShutdown", err)
	}
}

func TestKeys_ReturnsCopies(t *testing.T) {
	n := startNode(t, "a")
	primary, all := n.Keys()
	primary[0] ^= 0xff
	all[0][1] ^= 0xff
	if again, _ := n.Keys(); !bytes.Equal(again, key1) {
		t.Errorf("Keys() after the caller changed its copy = %x, want key1", again)
	}
}
