package cache

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// versioned answers every request with a body that names it ("v1",
// "v2", ...), cacheable for a minute, and headers kv on unsafe methods.
func versioned(cl **cluster, n *atomic.Int64, kv ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := n.Add(1)
		var extra []string
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			extra = kv
		}
		answer((*cl).clk, 200, "max-age=60", fmt.Sprintf("v%d", v), extra...)(w, r)
	}
}

// TestUnsafeMethodInvalidates: a successful unsafe request removes the
// entries of its URL from the owner and from near tiers on every node,
// and those of its Location and Content-Location on the same host
// (RFC 9111 §4.4). An error leaves them.
func TestUnsafeMethodInvalidates(t *testing.T) {
	var n atomic.Int64
	var cl *cluster
	cl = newCluster(t, 3, Policy{}, versioned(&cl, &n, "Location", "/loc?b=2&a=1",
		"Content-Location", "https://EXAMPLE.com:8443/cloc", "Location", "https://other.example/x"))
	// warm leaves an entry at the owner (node 0) and near copies on
	// nodes 1 and 2.
	warm := func(path string) string {
		t.Helper()
		body := cl.get(1, path).body
		if r := cl.get(2, path); r.body != body {
			t.Fatalf("warm %s on node 2: %q, want %q", path, r.body, body)
		}
		cl.settle()
		return body
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, "FROB"} {
		t.Run(m, func(t *testing.T) {
			paths := []string{"/u-" + m}
			if m == http.MethodPost {
				paths = append(paths, "/loc?a=1&b=2", "/cloc") // its Location, Content-Location
			}
			old := map[string]string{}
			for _, p := range paths {
				old[p] = warm(p)
			}
			if r := cl.do(2, m, paths[0]); r.status != 200 {
				t.Fatalf("%s = %d", m, r.status)
			}
			for _, p := range paths {
				for i := range cl.nodes {
					if r := cl.get(i, p); r.body == old[p] {
						t.Errorf("GET %s on node %d after %s on node 2: the old entry (%s)", p, i, m, r.cacheStatus())
					}
				}
			}
		})
	}
	t.Run("error", func(t *testing.T) {
		old := warm("/e")
		cl.origin.set(answer(cl.clk, 500, "", "broken"))
		if r := cl.do(2, http.MethodPost, "/e"); r.status != 500 {
			t.Fatalf("POST = %d", r.status)
		}
		for i := range cl.nodes {
			if r := cl.get(i, "/e"); r.body != old {
				t.Errorf("GET /e on node %d after a failed POST: %q (%s), want the entry %q", i, r.body, r.cacheStatus(), old)
			}
		}
	})
}

// TestEarlyHints: a 103 from the upstream reaches the client of a fill,
// is not stored, and is not sent again with hits.
func TestEarlyHints(t *testing.T) {
	for _, nodes := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d nodes", nodes), func(t *testing.T) {
			var cl *cluster
			cl = newCluster(t, nodes, Policy{}, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Link", "</style.css>; rel=preload; as=style")
				w.WriteHeader(http.StatusEarlyHints)
				w.Header().Del("Link")
				answer(cl.clk, 200, "max-age=60", "page")(w, r)
			})
			from := nodes - 1 // with two nodes, node 1 asks the owner, node 0
			get := func() (response, []string) {
				var mu sync.Mutex
				var hints []string
				trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
					mu.Lock()
					defer mu.Unlock()
					hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
					return nil
				}}
				req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
					http.MethodGet, cl.nodes[from].front.URL+"/hints", nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Host = "example.com"
				resp, err := cl.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				mu.Lock()
				defer mu.Unlock()
				return response{status: resp.StatusCode, header: resp.Header}, hints
			}
			r, hints := get()
			if r.status != 200 || len(hints) != 1 || !strings.HasPrefix(hints[0], "103 </style.css>") {
				t.Errorf("fill: %d, hints %q; want 200 after one 103 with the Link", r.status, hints)
			}
			if r.header.Get("Link") != "" {
				t.Errorf("the final response carries the hint's Link: %q", r.header.Get("Link"))
			}
			cl.settle()
			r, hints = get()
			if !strings.Contains(r.cacheStatus(), "hit") || len(hints) != 0 || r.status != 200 {
				t.Errorf("hit: %d %q, hints %q; want a 200 hit without hints", r.status, r.cacheStatus(), hints)
			}
		})
	}
}

// TestHostPortNotSentUpstream: the key leaves out the Host's port, so a
// fill never lets the upstream see it either (it would build links from
// it for everybody).
func TestHostPortNotSentUpstream(t *testing.T) {
	cl := newCluster(t, 2, Policy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "xfh=%s fwd=%s", r.Header.Get("X-Forwarded-Host"), r.Header.Get("Forwarded"))
	})
	for i, host := range []string{"example.com:31337", "EXAMPLE.com.:31337"} {
		path := fmt.Sprintf("/port%d", i)
		cl.get(1, path, "Host", host)
		for j := range cl.nodes {
			if r := cl.get(j, path); strings.Contains(r.body, "31337") || strings.Contains(r.body, "EXAMPLE") {
				t.Errorf("clean GET on node %d after Host %q: %q", j, host, r.body)
			}
		}
	}
}
