package peer_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/portico-gw/portico/cluster/peer"
)

// TestKeyRotation walks the rotation procedure on two nodes, one node a
// step ahead of the other as in a rolling change: install key2, make it
// primary, remove key1. The nodes keep talking over fresh connections at
// every step, and a node left on key1 alone is refused at the end.
func TestKeyRotation(t *testing.T) {
	var calls atomic.Int64
	a, b := creds(t, "node-a", key1), creds(t, "node-b", key1)
	srvA := serve(t, a, peer.ServerConfig{Handler: echo(&calls)})
	srvB := serve(t, b, peer.ServerConfig{Handler: echo(&calls)})
	cliA, cliB := client(t, a, peer.ClientConfig{}), client(t, b, peer.ClientConfig{})

	steps := []struct {
		name  string
		creds *peer.Credentials
		keys  [][]byte
	}{
		{"a installs key2", a, [][]byte{key1, key2}},
		{"b installs key2", b, [][]byte{key1, key2}},
		{"a makes key2 primary", a, [][]byte{key2, key1}},
		{"b makes key2 primary", b, [][]byte{key2, key1}},
		{"a removes key1", a, [][]byte{key2}},
		{"b removes key1", b, [][]byte{key2}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.creds.SetKeys(st.keys); err != nil {
				t.Fatalf("SetKeys: %v", err)
			}
			// New handshakes are what rotation changes: drop pooled
			// connections so that each request below opens one.
			cliA.CloseIdleConnections()
			cliB.CloseIdleConnections()
			talk(t, cliA, srvB, "node-a")
			talk(t, cliB, srvA, "node-b")
		})
	}

	stale := client(t, creds(t, "node-c", key1), peer.ClientConfig{})
	before := calls.Load()
	if status, _, err := get(t, stale, srvA.url); err == nil {
		t.Errorf("node on the removed key got %d, want a refused handshake", status)
	}
	if calls.Load() != before {
		t.Error("handler ran for a node on the removed key")
	}
}

// talk sends one request from hc to srv over a new connection and checks
// that srv saw it from the node named from.
func talk(t *testing.T, hc *http.Client, srv *served, from string) {
	t.Helper()
	accepts := srv.ln.accepts.Load()
	status, body, err := get(t, hc, srv.url)
	if want := from + " HTTP/2.0"; err != nil || status != http.StatusOK || body != want {
		t.Errorf("request from %s: got %d %q (err %v), want 200 %q", from, status, body, err, want)
	}
	if got := srv.ln.accepts.Load() - accepts; got != 1 {
		t.Errorf("request from %s opened %d connections, want 1 (a fresh handshake)", from, got)
	}
}
