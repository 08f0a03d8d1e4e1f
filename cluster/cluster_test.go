package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/portico-gw/portico/cluster"
	"github.com/portico-gw/portico/cluster/clustertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStartOrdersMakeOneCluster: with bootstrap_expect=3, nodes started in
// any order and joined through different seeds end in one cluster with one
// leader and one config history.
func TestStartOrdersMakeOneCluster(t *testing.T) {
	for _, order := range [][]int{{0, 1, 2}, {2, 0, 1}, {1, 2, 0}} {
		t.Run(fmt.Sprint(order), func(t *testing.T) {
			key := clustertest.Key()
			cs := make([]*cluster.Cluster, 3)
			var prev string
			for k, i := range order {
				var join []string
				if k > 0 {
					join = []string{prev} // each joins through the one started before it
				}
				cs[i] = clustertest.Start(t, clustertest.Config(t, clustertest.Name(i), key, 3, join...))
				prev = cs[i].GossipAddr()
			}
			leader := clustertest.WaitLeader(t, cs...)
			st := cs[0].Status(context.Background())
			if len(st.Voters) != 3 {
				t.Errorf("voters = %v, want 3 (leader %s)", st.Voters, leader)
			}
			// A write through any member lands everywhere, once.
			d, err := cs[order[2]].Propose(context.Background(), []byte("routes: []\n"), -1)
			if err != nil {
				t.Fatalf("Propose: %v", err)
			}
			for _, c := range cs {
				if err := c.WaitApplied(context.Background(), d.Version); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := cs[order[0]].Propose(context.Background(), []byte("x: 1\n"), -1); !errors.Is(err, cluster.ErrConflict) {
				t.Errorf("second only-if-empty Propose: err = %v, want ErrConflict", err)
			}
			if r := cs[0].Ring(); r.Len() != 3 {
				t.Errorf("ring has %d members, want 3", r.Len())
			}
		})
	}
}

// TestWrongKeyCannotJoin: a node with another cluster key never becomes a
// member.
func TestWrongKeyCannotJoin(t *testing.T) {
	key := clustertest.Key()
	a := clustertest.Start(t, clustertest.Config(t, "a", key, 1))
	clustertest.WaitLeader(t, a)
	var log logBuffer
	cfg := clustertest.Config(t, "b", clustertest.Key(), 0, a.GossipAddr())
	cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	b := clustertest.Start(t, cfg)
	// Await the join attempt's verdict: one clear line about the key.
	clustertest.WaitFor(t, 10*time.Second, func() bool { return strings.Contains(log.String(), "gossip key differs") })
	if n := len(a.Members()); n != 1 {
		t.Errorf("a sees %d members, want 1 (b has the wrong key)", n)
	}
	if n := len(b.Members()); n != 1 {
		t.Errorf("b sees %d members, want only itself", n)
	}
	if n := strings.Count(log.String(), "gossip key differs"); n != 1 {
		t.Errorf("the wrong-key line was logged %d times, want once", n)
	}
}

type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestForgedPeerRequestRefused: the peer listener refuses callers without
// a certificate from the cluster key.
func TestForgedPeerRequestRefused(t *testing.T) {
	key := clustertest.Key()
	a := clustertest.Start(t, clustertest.Config(t, "a", key, 1))
	clustertest.WaitLeader(t, a)
	peerAddr := ""
	for _, m := range a.Members() {
		peerAddr = m.PeerAddr
	}
	for _, url := range []string{"http://" + peerAddr + "/cluster/v1/node", "https://" + peerAddr + "/cluster/v1/node"} {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				t.Errorf("GET %s without cluster credentials = 200, want refused", url)
			}
		}
	}
	// A member with another key can't propose through a's listener either.
	other := clustertest.Start(t, clustertest.Config(t, "x", clustertest.Key(), 1))
	res, err := (&http.Client{Transport: other.Transport()}).Post("https://"+peerAddr+"/cluster/v1/propose", "text/plain", nil)
	if err == nil {
		res.Body.Close()
		t.Errorf("propose with another cluster's credentials answered %s, want a refused handshake", res.Status)
	}
}

// TestForwardedWriteNeedsAReadableCondition: a forwarded write whose
// Portico-If-Version can't be read is refused, not turned into an
// unconditional write.
func TestForwardedWriteNeedsAReadableCondition(t *testing.T) {
	key := clustertest.Key()
	a := clustertest.Start(t, clustertest.Config(t, "a", key, 1))
	clustertest.WaitLeader(t, a)
	if _, err := a.Propose(context.Background(), []byte("v: 1\n"), -1); err != nil {
		t.Fatal(err)
	}
	b := clustertest.Start(t, clustertest.Config(t, "b", key, 0))
	var peerAddr string
	for _, m := range a.Members() {
		peerAddr = m.PeerAddr
	}
	for _, v := range []string{"", "one", "-2"} {
		req, _ := http.NewRequest(http.MethodPost, "https://"+peerAddr+"/cluster/v1/propose", strings.NewReader("v: 2\n"))
		req.Header.Set("Portico-If-Version", v)
		res, err := (&http.Client{Transport: b.Transport()}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("If-Version %q: %s, want 400", v, res.Status)
		}
	}
	if d := a.Current(); d.Version != 1 {
		t.Errorf("version = %d, want 1 (nothing written)", d.Version)
	}
}
