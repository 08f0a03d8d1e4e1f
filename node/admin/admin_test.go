package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gw/portico/node/admin"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/problem"
)

// The fakes: each narrow interface of admin.Options, without a node.

// fakeConfig serves snap; Apply parses the body for real (so config
// errors are config.Errors with file:line) and then returns err, if set.
type fakeConfig struct {
	mu   sync.Mutex
	snap *config.Snapshot
	err  error // returned by Apply after a valid parse
	got  config.ApplyOptions
}

func (c *fakeConfig) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

func (c *fakeConfig) options() config.ApplyOptions {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got
}

func (c *fakeConfig) Snapshot() *config.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snap
}

func (c *fakeConfig) Apply(_ context.Context, source string, body []byte, o config.ApplyOptions) (*config.Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = o
	g, err := config.ParseGateway(source, body, nil)
	if err != nil {
		return nil, err
	}
	if len(g.Routes) == 0 && !o.Force {
		return nil, fmt.Errorf("apply: %w", config.ErrRemovesAllRoutes)
	}
	if o.IfVersion != 0 && o.IfVersion != c.snap.Version {
		return c.snap, fmt.Errorf("%w: expected version %d, serving %d", config.ErrVersionConflict, o.IfVersion, c.snap.Version)
	}
	if c.err != nil {
		return nil, c.err
	}
	c.snap = config.NewSnapshot(&config.File{Node: c.snap.Node, Gateway: *g}, c.snap.Version+1)
	return c.snap, nil
}

type fakeReady struct{ draining atomic.Bool }

func (r *fakeReady) Draining() bool { return r.draining.Load() }

type fakePurger struct {
	mu    sync.Mutex
	calls []admin.Selector
	rep   admin.PurgeReport
	err   error
}

func (p *fakePurger) Purge(_ context.Context, s admin.Selector) (admin.PurgeReport, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, s)
	return p.rep, p.err
}

func (p *fakePurger) answer(rep admin.PurgeReport, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rep, p.err = rep, err
}

func (p *fakePurger) called() []admin.Selector {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]admin.Selector(nil), p.calls...)
}

// fakeUsage answers by consumer name: "alice" has a quota, "bob" none,
// "broken" fails, "slow" waits for the admin's deadline; others are
// unknown.
type fakeUsage struct{ resets atomic.Int32 }

func (u *fakeUsage) Usage(ctx context.Context, consumer string, reset bool) (admin.Usage, error) {
	if reset {
		u.resets.Add(1)
	}
	switch consumer {
	case "alice":
		used := int64(7)
		if reset {
			used = 0
		}
		return admin.Usage{Consumer: "alice", Plan: "gold", Quotas: []admin.Quota{{Policy: "monthly", Period: "720h0m0s",
			Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC),
			Used: used, Limit: 100, Remaining: 100 - used}}}, nil
	case "bob":
		return admin.Usage{Consumer: "bob"}, nil
	case "broken":
		return admin.Usage{}, errors.New("owner node refused the connection")
	case "slow":
		<-ctx.Done()
		return admin.Usage{}, fmt.Errorf("owner node: %w", ctx.Err())
	}
	return admin.Usage{}, fmt.Errorf("%w %q", admin.ErrUnknownConsumer, consumer)
}

type fakeCluster struct{ members []admin.Member }

func (c *fakeCluster) Members() ([]admin.Member, bool) { return c.members, true }
func (c *fakeCluster) Status(context.Context) (any, bool) {
	return map[string]any{"leader": "a"}, true
}

const gatewayDoc = `
upstreams:
  - name: demo
    targets: [{url: "http://127.0.0.1:9"}]
routes:
  - name: all
    upstream: demo
`

// fixture is an admin API on a real loopback listener over fakes.
type fixture struct {
	url    string
	config *fakeConfig
	ready  *fakeReady
	purger *fakePurger
	usage  *fakeUsage
}

func start(t *testing.T, token string, cl admin.Cluster) *fixture {
	t.Helper()
	f, err := config.Parse("test.yaml", []byte(gatewayDoc), nil)
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{config: &fakeConfig{snap: config.NewSnapshot(f, 3)}, ready: &fakeReady{},
		purger: &fakePurger{}, usage: &fakeUsage{}}
	h := admin.New(admin.Options{
		Token: token, Config: fx.config, Readiness: fx.ready,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "# metrics\n") }),
		Purger:  fx.purger, Usage: fx.usage, Cluster: cl,
		UsageTimeout: 100 * time.Millisecond,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	fx.url = "http://" + ln.Addr().String()
	return fx
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func call(t *testing.T, method, url, body string, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if ct := res.Header.Get("Content-Type"); strings.Contains(ct, "json") {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("%s %s: body %q is not a JSON object: %v", method, url, raw, err)
		}
	}
	return a
}

// isProblem checks that a is the problem t: status, type, content type.
func isProblem(t *testing.T, a answer, want problem.Type) {
	t.Helper()
	if a.status != want.Status() || a.body["type"] != want.URI() || a.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("answer %d %s %q, want problem %d %s", a.status, a.header.Get("Content-Type"), a.raw, want.Status(), want.Slug())
	}
	if a.body["status"] != float64(want.Status()) || a.body["title"] != want.Title() {
		t.Errorf("problem body %q: status or title differ from the table's", a.raw)
	}
}

func TestPurge(t *testing.T) {
	fx := start(t, "", nil)
	t.Run("complete", func(t *testing.T) {
		fx.purger.answer(admin.PurgeReport{Removed: map[string]int{"a": 2, "b": 1}, Complete: true}, nil)
		a := call(t, "POST", fx.url+"/cache/purge", `{"tag": "products"}`)
		if a.status != 200 || a.body["complete"] != true || a.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("purge = %d %q, want 200 complete", a.status, a.raw)
		}
		if rm := a.body["removed"].(map[string]any); rm["a"] != 2.0 || rm["b"] != 1.0 {
			t.Errorf("removed = %v", rm)
		}
		if _, ok := a.body["failed"]; ok {
			t.Errorf("a complete purge lists failed nodes: %q", a.raw)
		}
		if c := fx.purger.called(); len(c) != 1 || c[0] != (admin.Selector{Tag: "products"}) {
			t.Errorf("Purge got %+v", c)
		}
	})
	t.Run("incomplete", func(t *testing.T) {
		fx.purger.answer(admin.PurgeReport{Removed: map[string]int{"a": 2}, Failed: map[string]string{"b": "timeout"}}, nil)
		a := call(t, "POST", fx.url+"/cache/purge", `{"prefix": "https://shop.example/p/"}`)
		if a.status != 502 || a.body["complete"] != false {
			t.Fatalf("purge = %d %q, want 502 incomplete", a.status, a.raw)
		}
		if f := a.body["failed"].(map[string]any); f["b"] != "timeout" {
			t.Errorf("failed = %v", f)
		}
	})
	before := len(fx.purger.called())
	for _, body := range []string{
		``,
		`not json`,
		`{}`,
		`{"key": "k", "tag": "t"}`,
		`{"url": "https://shop.example/p"}`,
		`{"tag": "t", "extra": 1}`,
		`{"tag": ` + strings.Repeat(" ", 64<<10) + `"t"}`,
	} {
		isProblem(t, call(t, "POST", fx.url+"/cache/purge", body), problem.BadPurge)
	}
	if n := len(fx.purger.called()) - before; n != 0 {
		t.Errorf("Purge called %d times for refused bodies", n)
	}
	t.Run("refused by the cache", func(t *testing.T) {
		fx.purger.answer(admin.PurgeReport{}, fmt.Errorf("%w: not a cache key", admin.ErrBadSelector))
		isProblem(t, call(t, "POST", fx.url+"/cache/purge", `{"key": "k"}`), problem.BadPurge)
	})
}

func TestUsage(t *testing.T) {
	fx := start(t, "", nil)
	for _, tc := range []struct {
		method, path string
		want         problem.Type // 0: 200
		used         float64
		quotas       int
	}{
		{"GET", "/consumers/alice/usage", 0, 7, 1},
		{"POST", "/consumers/alice/usage/reset", 0, 0, 1},
		{"GET", "/consumers/bob/usage", 0, 0, 0},
		{"GET", "/consumers/nobody/usage", problem.UnknownConsumer, 0, 0},
		{"POST", "/consumers/nobody/usage/reset", problem.UnknownConsumer, 0, 0},
		{"GET", "/consumers/broken/usage", problem.UsageUnavailable, 0, 0},
		{"GET", "/consumers/slow/usage", problem.UsageTimeout, 0, 0},
	} {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			a := call(t, tc.method, fx.url+tc.path, "")
			if tc.want != 0 {
				isProblem(t, a, tc.want)
				return
			}
			if a.status != 200 {
				t.Fatalf("= %d %q, want 200", a.status, a.raw)
			}
			qs, ok := a.body["quotas"].([]any)
			if !ok || len(qs) != tc.quotas {
				t.Fatalf("quotas = %v, want %d (an empty list, never null)", a.body["quotas"], tc.quotas)
			}
			if tc.quotas > 0 {
				if q := qs[0].(map[string]any); q["used"] != tc.used || q["policy"] != "monthly" || q["start"] != "2026-01-01T00:00:00Z" {
					t.Errorf("quota = %v", q)
				}
			}
		})
	}
	if n := fx.usage.resets.Load(); n != 2 {
		t.Errorf("%d resets asked, want 2", n)
	}
}

func TestPutConfig(t *testing.T) {
	fx := start(t, "", nil)
	t.Run("invalid", func(t *testing.T) {
		a := call(t, "PUT", fx.url+"/config", "routes:\n  - name: x\n    upstream: missing\n    bogus: 1\n")
		isProblem(t, a, problem.InvalidConfig)
		errs, _ := a.body["errors"].([]any)
		if len(errs) < 2 {
			t.Fatalf("errors = %v, want every problem of the document", a.body["errors"])
		}
		for _, e := range errs {
			if s, _ := e.(string); !strings.HasPrefix(s, "request body:") {
				t.Errorf("error %q is not located in the request body", e)
			}
		}
	})
	t.Run("conflict", func(t *testing.T) {
		a := call(t, "PUT", fx.url+"/config", gatewayDoc, "If-Match", `"2"`)
		isProblem(t, a, problem.VersionConflict)
		if a.header.Get("ETag") != `"3"` || a.body["current_version"] != 3.0 {
			t.Errorf("409: ETag %q, current_version %v; want \"3\", 3", a.header.Get("ETag"), a.body["current_version"])
		}
	})
	t.Run("quorum lost", func(t *testing.T) {
		fx.config.fail(fmt.Errorf("%w (cluster: no quorum for config writes)", config.ErrQuorumLost))
		defer fx.config.fail(nil)
		a := call(t, "PUT", fx.url+"/config", gatewayDoc)
		isProblem(t, a, problem.QuorumLost)
		if a.body["serving_version"] != 3.0 {
			t.Errorf("serving_version = %v, want 3", a.body["serving_version"])
		}
	})
	t.Run("failed", func(t *testing.T) {
		fx.config.fail(errors.New("disk full"))
		defer fx.config.fail(nil)
		a := call(t, "PUT", fx.url+"/config", gatewayDoc)
		isProblem(t, a, problem.ApplyFailed)
		if strings.Contains(a.raw, "disk") {
			t.Errorf("the answer leaks the error: %q", a.raw)
		}
	})
	isProblem(t, call(t, "PUT", fx.url+"/config", ""), problem.ConfigRemovesAllRoutes)
	isProblem(t, call(t, "PUT", fx.url+"/config", gatewayDoc, "If-Match", `"x"`), problem.BadIfMatch)
	isProblem(t, call(t, "PUT", fx.url+"/config", gatewayDoc, "If-Match", `"0"`), problem.BadIfMatch)
	isProblem(t, call(t, "PUT", fx.url+"/config?force=maybe", gatewayDoc), problem.BadForce)
	isProblem(t, call(t, "PUT", fx.url+"/config", strings.Repeat("#", 4<<20+1)), problem.BodyTooLarge)

	t.Run("applied", func(t *testing.T) {
		a := call(t, "PUT", fx.url+"/config", gatewayDoc+"  - name: more\n    upstream: demo\n    match: {paths: [/more]}\n", "If-Match", `"3"`)
		if a.status != 200 || a.header.Get("ETag") != `"4"` || a.body["version"] != 4.0 || a.body["digest"] != fx.config.Snapshot().Digest {
			t.Fatalf("PUT = %d %q ETag %q, want 200 version 4", a.status, a.raw, a.header.Get("ETag"))
		}
		if o := fx.config.options(); o.IfVersion != 3 {
			t.Errorf("Apply got %+v", o)
		}
		g := call(t, "GET", fx.url+"/config?part=gateway", "")
		if g.status != 200 || g.header.Get("ETag") != `"4"` || g.header.Get("Portico-Config-Version") != "4" ||
			g.header.Get("Content-Type") != "application/yaml" || !strings.Contains(g.raw, "name: more") {
			t.Errorf("GET /config after PUT = %d %v %q", g.status, g.header, g.raw)
		}
	})
	t.Run("forced empty", func(t *testing.T) {
		if a := call(t, "PUT", fx.url+"/config?force=true", ""); a.status != 200 || !fx.config.options().Force {
			t.Errorf("forced empty PUT = %d %q (force %v)", a.status, a.raw, fx.config.options().Force)
		}
	})
}

func TestReadyAndAuth(t *testing.T) {
	fx := start(t, "s3cret", nil)
	if a := call(t, "GET", fx.url+"/ready", "", "Host", "gw.example"); a.status != 200 || a.body["config_version"] != 3.0 {
		t.Errorf("/ready = %d %q", a.status, a.raw)
	}
	a := call(t, "GET", fx.url+"/metrics", "")
	isProblem(t, a, problem.AdminUnauthorized)
	if a.header.Get("WWW-Authenticate") != `Bearer realm="portico-admin"` {
		t.Errorf("401 without WWW-Authenticate: %v", a.header)
	}
	isProblem(t, call(t, "GET", fx.url+"/metrics", "", "Authorization", "Bearer wrong"), problem.AdminUnauthorized)
	if a := call(t, "GET", fx.url+"/metrics", "", "Authorization", "bearer  s3cret"); a.status != 200 || a.raw != "# metrics\n" {
		t.Errorf("/metrics with the token = %d %q", a.status, a.raw)
	}
	isProblem(t, call(t, "GET", fx.url+"/config", "", "Authorization", "Bearer s3cret", "Sec-Fetch-Site", "cross-site"), problem.AdminCrossOrigin)
	isProblem(t, call(t, "GET", fx.url+"/cluster/members", "", "Authorization", "Bearer s3cret"), problem.NotClustered)
	isProblem(t, call(t, "GET", fx.url+"/cluster/status", "", "Authorization", "Bearer s3cret"), problem.NotClustered)
	fx.ready.draining.Store(true)
	if a := call(t, "GET", fx.url+"/ready", ""); a.status != 503 || a.body["status"] != "draining" {
		t.Errorf("/ready while draining = %d %q", a.status, a.raw)
	}

	open := start(t, "", nil)
	isProblem(t, call(t, "GET", open.url+"/health", "", "Host", "rebound.example"), problem.AdminHostRefused)
	for _, host := range []string{"localhost:1", "127.0.0.2", "[::1]:9"} {
		if a := call(t, "GET", open.url+"/health", "", "Host", host); a.status != 200 {
			t.Errorf("Host %s: %d %q", host, a.status, a.raw)
		}
	}
}

func TestClusterMembers(t *testing.T) {
	fx := start(t, "", &fakeCluster{members: []admin.Member{{Name: "a", Region: "eu", State: "alive", Server: true, Gossip: "127.0.0.1:7946"}}})
	a := call(t, "GET", fx.url+"/cluster/members", "")
	if a.status != 200 {
		t.Fatalf("members = %d %q", a.status, a.raw)
	}
	want := `{"members":[{"name":"a","region":"eu","state":"alive","server":true,"gossip_addr":"127.0.0.1:7946"}]}` + "\n"
	if a.raw != want {
		t.Errorf("members = %s, want %s", a.raw, want)
	}
	if s := call(t, "GET", fx.url+"/cluster/status", ""); s.status != 200 || s.body["leader"] != "a" {
		t.Errorf("status = %d %q", s.status, s.raw)
	}
}
