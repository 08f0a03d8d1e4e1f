package cache

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestOldOwnerIsAMismatch: an owner of the previous binary knows only
// /cache/v1/fill, where it would ignore the descriptor's consumer and
// answer the entry it keys as anonymous. The asker never reaches it: it
// asks /cache/v2/fill, gets 404, fills the request itself and counts a
// version mismatch of reason protocol, not a peer error.
func TestOldOwnerIsAMismatch(t *testing.T) {
	pol := Policy{Route: "r", Key: KeySpec{Consumer: userConsumer}}
	cl := newCluster(t, 2, pol, nil)
	cl.setFront(withUser)
	var oldFills atomic.Int64
	cl.nodes[0].peer.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cache/v1/fill": // the old binary: one entry for every consumer
			oldFills.Add(1)
			const body = "anonymous's answer"
			m, _ := json.Marshal(fillMeta{Status: 200, Header: http.Header{"Cache-Control": {"max-age=60"}},
				Node: "old-0", Verdict: "hit", Entry: &entryMeta{Lifetime: time.Minute, BodyLen: int64(len(body))}})
			w.Header().Set("Content-Type", fillContentType)
			var n [4]byte
			binary.BigEndian.PutUint32(n[:], uint32(len(m)))
			_, _ = w.Write(n[:])
			_, _ = w.Write(m)
			_, _ = io.WriteString(w, body)
		case "/cache/v1/purge":
			_, _ = io.WriteString(w, `{"removed":0}`)
		default:
			http.NotFound(w, r)
		}
	})
	r := cl.get(1, "/o", "X-Test-User", "alice")
	if r.status != 200 || r.body != "hello" || r.cacheStatus() != "Portico; fwd=miss; stored; node=node-1" {
		t.Fatalf("alice got %d %q %q, want node 1's own fill", r.status, r.body, r.cacheStatus())
	}
	asker := cl.nodes[1].cache
	if n := oldFills.Load(); n != 0 {
		t.Errorf("the asker used the old fill protocol %d times", n)
	}
	if got := counterValue(asker.metrics.peerOldProtocol); got != 1 {
		t.Errorf("protocol mismatches = %v, want 1", got)
	}
	if got := counterValue(asker.metrics.peerMismatches); got != 0 {
		t.Errorf("config mismatches = %v, want 0", got)
	}
	if got := counterValue(asker.metrics.peerErrors); got != 0 {
		t.Errorf("peer errors = %v, want 0", got)
	}
	cl.wantHits(1)
}

// TestOwnerHitsUnderSkew: an owner that published another config version
// still answers the fresh entries it holds (variants as for any hit) to
// askers on the previous one, but fills nothing for them: a miss, a
// stale entry, another variant or a key the versions build differently
// is a 409, and the asker fills the request itself.
func TestOwnerHitsUnderSkew(t *testing.T) {
	pol := Policy{Route: "r"}
	var cl *cluster
	cl = newCluster(t, 2, pol, func(w http.ResponseWriter, r *http.Request) {
		answer(cl.clk, 200, "max-age=60", "lang="+r.Header.Get("Accept-Language"), "Vary", "Accept-Language")(w, r)
	})
	owner, asker := cl.nodes[0], cl.nodes[1]
	if r := cl.get(0, "/k", "Accept-Language", "en"); r.cacheStatus() != "Portico; fwd=miss; stored; node=node-0" {
		t.Fatalf("owner's own miss: %q", r.cacheStatus())
	}
	cl.settle()
	owner.publish(t, 2, pol)

	r := cl.get(1, "/k", "Accept-Language", "en")
	if r.body != "lang=en" || r.cacheStatus() != "Portico; hit; node=node-0" {
		t.Fatalf("asker under v1: %q %q, want the owner's hit", r.body, r.cacheStatus())
	}
	cl.wantHits(1)
	if got := counterValue(owner.cache.metrics.peerFills); got != 1 {
		t.Errorf("owner's answered fills = %v, want 1", got)
	}
	mismatches := func(want float64) {
		t.Helper()
		if got := counterValue(asker.cache.metrics.peerMismatches); got != want {
			t.Errorf("version mismatches = %v, want %v", got, want)
		}
		if got := counterValue(asker.cache.metrics.peerErrors); got != 0 {
			t.Errorf("peer errors = %v, want 0", got)
		}
		if f, _ := owner.chain.filled(); len(f) != 0 {
			t.Errorf("the owner filled under skew: %v", f)
		}
	}
	mismatches(0)

	steps := []struct{ what, path, lang string }{
		{"a miss", "/miss", "en"},
		{"another variant", "/k", "fr"},
	}
	for i, s := range steps {
		r := cl.get(1, s.path, "Accept-Language", s.lang)
		if r.body != "lang="+s.lang || r.cacheStatus() != "Portico; fwd=miss; stored; node=node-1" {
			t.Errorf("%s under skew: %q %q, want the asker's own fill", s.what, r.body, r.cacheStatus())
		}
		cl.wantHits(int64(2 + i))
		mismatches(float64(1 + i))
	}

	// Stale at the owner (the asker's near copy too): a revalidation is a
	// fill, refused; the asker fetches itself.
	cl.settle()
	cl.clk.Advance(2 * time.Minute)
	if r := cl.get(1, "/k", "Accept-Language", "en"); r.cacheStatus() != "Portico; fwd=stale; stored; node=node-1" {
		t.Errorf("stale under skew: %q, want the asker's own fill", r.cacheStatus())
	}
	cl.wantHits(4)
	mismatches(3)

	// The owner's v3 keys by a header: its key for the request is not the
	// asker's, and its entry is not the asker's to serve.
	if r := cl.get(0, "/h", "Accept-Language", "en"); r.cacheStatus() != "Portico; fwd=miss; stored; node=node-0" {
		t.Fatalf("owner's own miss of /h: %q", r.cacheStatus())
	}
	cl.settle()
	owner.publish(t, 3, Policy{Route: "r", Key: KeySpec{IgnoreQuery: []string{"*"}}})
	if r := cl.get(1, "/h?x=1", "Accept-Language", "en"); r.cacheStatus() != "Portico; fwd=miss; stored; node=node-1" {
		t.Errorf("another key under skew: %q, want the asker's own fill", r.cacheStatus())
	}
	cl.wantHits(6)
	mismatches(4)
}

// TestVersionZeroNeverFills: version 0 names no one config (each node on
// its own file), so an owner answers nothing, hits included, unless both
// versions are not 0.
func TestVersionZeroNeverFills(t *testing.T) {
	pol := Policy{Route: "r"}
	for _, tt := range []struct {
		name         string
		owner, asker int64
	}{
		{"both 0", 0, 0},
		{"asker 0", 1, 0},
		{"owner 0", 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl := newCluster(t, 2, pol, nil)
			owner, asker := cl.nodes[0], cl.nodes[1]
			owner.publish(t, tt.owner, pol)
			asker.publish(t, tt.asker, pol)
			cl.get(0, "/z") // the owner holds it fresh
			cl.settle()
			r := cl.get(1, "/z")
			if r.body != "hello" || r.cacheStatus() != "Portico; fwd=miss; stored; node=node-1" {
				t.Fatalf("asker got %q %q, want its own fill", r.body, r.cacheStatus())
			}
			cl.wantHits(2)
			if got := counterValue(asker.cache.metrics.peerMismatches); got != 1 {
				t.Errorf("version mismatches = %v, want 1", got)
			}
			if got := counterValue(owner.cache.metrics.peerFills); got != 0 {
				t.Errorf("owner's answered fills = %v, want 0", got)
			}
		})
	}
}

// TestFillRequestTLSIsFresh: the owner's rebuilt request for an https
// client has a TLS state of its own, not the peer connection's (the peer
// node's mTLS certificate is nothing of the client's).
func TestFillRequestTLSIsFresh(t *testing.T) {
	cl := newCluster(t, 2, Policy{Route: "r"}, nil)
	cl.get(1, "/t")
	states := cl.nodes[0].chain.filledTLS()
	if len(states) != 1 || states[0] == nil {
		t.Fatalf("owner's fill TLS states %v, want one (the client's scheme is https)", states)
	}
	if s := states[0]; s.HandshakeComplete || s.Version != 0 || s.PeerCertificates != nil || s.ServerName != "" {
		t.Errorf("the fill's TLS state is a connection's: %+v", s)
	}
}

// TestPublishIgnoresOtherCachesRoutes: a Routes built by another Cache is
// not published; the published set stays.
func TestPublishIgnoresOtherCachesRoutes(t *testing.T) {
	cl := newCluster(t, 2, Policy{Route: "r"}, nil)
	other, err := New(Config{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	foreign := other.NewRoutes(1)
	if _, err := foreign.Middleware(Policy{Route: "r"}, cl.nodes[0].chain); err != nil {
		t.Fatal(err)
	}
	owner := cl.nodes[0].cache
	before := owner.routes.Load()
	owner.Publish(foreign)
	if got := owner.routes.Load(); got != before {
		t.Fatalf("Publish took another Cache's Routes")
	}
	if r := cl.get(1, "/p"); r.cacheStatus() != "Portico; fwd=miss; stored; node=node-0" {
		t.Errorf("fill after the ignored Publish: %q, want the owner's", r.cacheStatus())
	}
}
