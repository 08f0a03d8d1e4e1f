package route

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/portico-gw/portico/node/config"
)

// refMatch is a brute-force router written from the package doc, not from
// the trie: it tries every pattern of every route and ranks the winners.
// It returns the route index (-1 if none), its parameters and the status.
func refMatch(routes []config.Route, r *http.Request, path string) (int, map[string]string, Status) {
	host := requestHost(r)
	wrongMethod := false
	for _, group := range refGroups(routes, host, path) {
		var best *refCandidate
		for _, c := range group {
			if !refConditions(c.route, r) {
				continue
			}
			if !refMethod(c.route.Match.Methods, r.Method) {
				wrongMethod = true
				continue
			}
			if best == nil || c.less(best) {
				best = c
			}
		}
		if best != nil {
			return best.index, best.params, Found
		}
	}
	if wrongMethod {
		return -1, nil, MethodNotAllowed
	}
	return -1, nil, NotFound
}

type refCandidate struct {
	index, order int
	route        config.Route
	kinds        []int // per position: 0 literal or end of path, 1 param, 2 catch-all
	params       map[string]string
}

// less ranks candidates: per-segment kinds, then conditions, method
// restriction, priority and config order.
func (c *refCandidate) less(d *refCandidate) bool {
	if k := slices.Compare(c.kinds, d.kinds); k != 0 {
		return k < 0
	}
	mc, md := c.route.Match, d.route.Match
	return cmp.Or(
		cmp.Compare(len(md.Headers)+len(md.Query), len(mc.Headers)+len(mc.Query)),
		cmp.Compare(b2i(len(mc.Methods) == 0), b2i(len(md.Methods) == 0)), // restricted (0) first
		cmp.Compare(d.route.Priority, c.route.Priority),
		cmp.Compare(c.order, d.order),
	) < 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// refGroups returns, in priority order, the candidates whose path pattern
// matches path, grouped by host: exact, wildcards by suffix length, any.
func refGroups(routes []config.Route, host, path string) [][]*refCandidate {
	var exact, any []*refCandidate
	wild := map[int][]*refCandidate{} // by suffix length
	order := 0
	for i, rt := range routes {
		paths := rt.Match.Paths
		if len(paths) == 0 {
			paths = []string{"/*"}
		}
		for _, p := range paths {
			order++
			kinds, params, ok := refPattern(p, path)
			if !ok {
				continue
			}
			c := &refCandidate{index: i, order: order, route: rt, kinds: kinds, params: params}
			if len(rt.Match.Hosts) == 0 {
				any = append(any, c)
			}
			for _, h := range rt.Match.Hosts {
				h = strings.TrimSuffix(strings.ToLower(h), ".")
				if suffix, ok := strings.CutPrefix(h, "*"); ok {
					if strings.HasSuffix(host, suffix) && len(host) > len(suffix) {
						wild[len(suffix)] = append(wild[len(suffix)], c)
					}
				} else if h == host {
					exact = append(exact, c)
				}
			}
		}
	}
	groups := [][]*refCandidate{exact}
	lens := make([]int, 0, len(wild))
	for l := range wild {
		lens = append(lens, l)
	}
	slices.Sort(lens)
	slices.Reverse(lens)
	for _, l := range lens {
		groups = append(groups, wild[l])
	}
	return append(groups, any)
}

// refPattern matches one pattern against a path segment by segment.
func refPattern(pat, path string) ([]int, map[string]string, bool) {
	segs := strings.Split(path[1:], "/")
	parts := strings.Split(pat[1:], "/")
	params := map[string]string{}
	var kinds []int
	for j, part := range parts {
		if part == "*" || strings.HasSuffix(part, "...}") {
			if j < len(segs) {
				params[strings.TrimSuffix(strings.Trim(part, "{}"), "...")] = strings.Join(segs[j:], "/")
			} else {
				params[strings.TrimSuffix(strings.Trim(part, "{}"), "...")] = ""
			}
			delete(params, "*")
			return append(kinds, 2), params, j <= len(segs)
		}
		if j >= len(segs) {
			return nil, nil, false
		}
		if strings.HasPrefix(part, "{") {
			if segs[j] == "" {
				return nil, nil, false
			}
			params[strings.Trim(part, "{}")] = segs[j]
			kinds = append(kinds, 1)
			continue
		}
		if lit, err := refSegment(part); err != nil || lit != segs[j] {
			return nil, nil, false
		}
		kinds = append(kinds, 0)
	}
	return append(kinds, 0), params, len(parts) == len(segs)
}

func refConditions(rt config.Route, r *http.Request) bool {
	for k, v := range rt.Match.Headers {
		vs := r.Header.Values(k)
		if len(vs) == 0 || v != "*" && !slices.Contains(vs, v) {
			return false
		}
	}
	// Like url.ParseQuery, but a value that fails to decode still makes
	// its key present, and ";" is no separator.
	q := map[string][]string{}
	for _, pair := range strings.Split(r.URL.RawQuery, "&") {
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if pair == "" || err != nil {
			continue
		}
		if val, err := url.QueryUnescape(v); err == nil {
			q[key] = append(q[key], val)
		} else {
			q[key] = append(q[key], "\x00undecodable")
		}
	}
	for k, v := range rt.Match.Query {
		vs, ok := q[k]
		if !ok || v != "*" && !slices.Contains(vs, v) {
			return false
		}
	}
	return true
}

func refMethod(methods []string, m string) bool {
	if m == "" {
		m = "GET"
	}
	return len(methods) == 0 || slices.Contains(methods, m) || m == "HEAD" && slices.Contains(methods, "GET")
}

func TestReference_AgreesOnTable(t *testing.T) {
	routes := testRoutes()
	rt := mustRouter(t, routes)
	for _, target := range []string{"/", "/admin", "/users/new", "/users/new/x", "/users/", "/files", "/api/v2/a/b",
		"/search?q=go+lang", "/deep/lit/leaf", "/m", "/dup", "/prio", "/a%2Fb", "/two/a/b"} {
		for _, host := range []string{"example.org", "api.example.com", "x.eu.example.com", "example.com"} {
			for _, method := range []string{"GET", "HEAD", "POST", "DELETE"} {
				r := request(method, host, target, "X-Deep", "1")
				checkAgainstReference(t, routes, rt, r, r.URL.EscapedPath())
			}
		}
	}
}

func checkAgainstReference(t *testing.T, routes []config.Route, rt *Router, r *http.Request, path string) {
	t.Helper()
	wantIdx, wantParams, wantStatus := refMatch(routes, r, path)
	var res Result
	st := rt.Match(r, path, &res)
	if st != wantStatus || res.Route != wantIdx {
		t.Fatalf("Match(%s %s %s?%s) = %v, route %d; reference: %v, route %d",
			r.Method, r.Host, path, r.URL.RawQuery, st, res.Route, wantStatus, wantIdx)
	}
	if st != Found {
		return
	}
	got := map[string]string{}
	for k, v := range res.All() {
		got[k] = v
	}
	if len(got) != len(wantParams) {
		t.Fatalf("Match(%s %s) params = %v, reference %v", r.Method, path, got, wantParams)
	}
	for k, v := range wantParams {
		if got[k] != v {
			t.Fatalf("Match(%s %s) params = %v, reference %v", r.Method, path, got, wantParams)
		}
	}
}

func FuzzMatch(f *testing.F) {
	routes := testRoutes()
	rt := mustRouter(f, routes)
	f.Add("GET", "example.org", "/users/new/x", "q=go+lang", "2")
	f.Add("DELETE", "API.example.com:80", "/users/new", "", "")
	f.Add("POST", "x.eu.example.com.", "/files/a/../b", "q", "1")
	f.Add("HEAD", "[::1]:1", "//deep/lit/leaf/", "q=%zz&q=go%20lang", "1")
	f.Add("", "", "a", ";", "")
	f.Fuzz(func(t *testing.T, method, host, path, query, hdr string) {
		r := &http.Request{Method: method, Host: host, URL: &url.URL{Path: path, RawQuery: query},
			Header: http.Header{"X-Version": {hdr}, "X-Deep": {hdr}}}
		var res Result
		if rt.Match(r, path, &res) == Found { // any string: must not panic
			checkParamsInPath(t, &res, path)
		}
		rt.Allowed(r, path)

		np, err := Normalize(path)
		if err != nil {
			return
		}
		checkAgainstReference(t, routes, rt, r, np)
		st := rt.Match(r, np, &res)
		if st == Found {
			checkParamsInPath(t, &res, np)
		}
		if st == MethodNotAllowed {
			allowed := rt.Allowed(r, np)
			m := cmp.Or(method, "GET")
			if len(allowed) == 0 || slices.Contains(allowed, m) {
				t.Fatalf("Allowed(%s %s) = %q after a 405", m, np, allowed)
			}
		}
	})
}

func checkParamsInPath(t *testing.T, res *Result, path string) {
	t.Helper()
	if res.Route < 0 || res.Len() > MaxParams {
		t.Fatalf("Found with Route %d, Len %d", res.Route, res.Len())
	}
	for name, v := range res.All() {
		if !strings.Contains(path, v) {
			t.Fatalf("param %s = %q is not a substring of %q", name, v, path)
		}
	}
}
