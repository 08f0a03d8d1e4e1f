package route

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/portico-gw/portico/node/config"
)

// Status is the outcome of Match.
type Status uint8

const (
	// NotFound: no route matches the request (the caller answers 404).
	NotFound Status = iota
	// Found: Result holds the route and its parameters.
	Found
	// MethodNotAllowed: some route matches the host, path, headers and
	// query but none allows the method (405; Allowed gives the Allow
	// header).
	MethodNotAllowed
)

// String returns the status name.
func (s Status) String() string {
	switch s {
	case Found:
		return "found"
	case MethodNotAllowed:
		return "method not allowed"
	}
	return "not found"
}

// Router picks the route for a request. It is immutable once New returns it
// and safe for concurrent use; a config change builds a new Router.
type Router struct {
	exact    map[string]*node // by lower-case host
	wildcard map[string]*node // by suffix: "*.example.com" is ".example.com"
	any      *node            // routes without hosts; nil when there are none
}

// New compiles routes, which config has validated, into a Router. Result.Route
// is an index into routes. Routes that still match the same requests are not
// an error here: the priority rules of the package doc resolve them, the
// first in config order winning the final tie. New refuses what it cannot
// compile: malformed path patterns (among them more than MaxParams
// parameters, dot segments and escapes Normalize refuses), malformed host
// patterns, methods and header names that are not HTTP tokens, and empty
// query names. Literal segments are stored in canonical form, so "/%61dmin"
// and "/admin" are the same pattern.
func New(routes []config.Route) (*Router, error) {
	rt := &Router{exact: map[string]*node{}, wildcard: map[string]*node{}}
	order := 0
	for i, r := range routes {
		if err := rt.add(i, r, &order); err != nil {
			return nil, fmt.Errorf("compile route %q: %w", r.Name, err)
		}
	}
	for _, t := range rt.exact {
		t.sortEntries()
	}
	for _, t := range rt.wildcard {
		t.sortEntries()
	}
	if rt.any != nil {
		rt.any.sortEntries()
	}
	return rt, nil
}

// add inserts every path pattern of route r (index i) into the trie of
// every host group the route names.
func (rt *Router) add(i int, r config.Route, order *int) error {
	methods, headers, query, err := newConditions(r.Match)
	if err != nil {
		return err
	}
	trees, err := rt.trees(r.Match.Hosts)
	if err != nil {
		return err
	}
	paths := r.Match.Paths
	if len(paths) == 0 {
		paths = []string{"/*"}
	}
	for _, p := range paths {
		segs, err := parsePattern(p)
		if err != nil {
			return err
		}
		e := &entry{route: i, order: *order, priority: r.Priority, pattern: p,
			methods: methods, headers: headers, query: query}
		*order++
		for _, s := range segs {
			if s.kind != segLiteral && s.text != "" {
				e.names = append(e.names, s.text)
			}
		}
		for _, t := range trees {
			t.insert(segs, e)
		}
	}
	return nil
}

// trees returns the root of each host group's trie the hosts name,
// creating them as needed.
func (rt *Router) trees(hosts []string) ([]*node, error) {
	if len(hosts) == 0 {
		if rt.any == nil {
			rt.any = &node{}
		}
		return []*node{rt.any}, nil
	}
	var out []*node
	for _, h := range hosts {
		exact, suffix, err := parseHost(h)
		if err != nil {
			return nil, err
		}
		m, key := rt.exact, exact
		if suffix != "" {
			m, key = rt.wildcard, suffix
		}
		t := m[key]
		if t == nil {
			t = &node{}
			m[key] = t
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Match finds the route for r. path is r's normalized escaped path (see
// Normalize); path parameters in res are substrings of it. On Found, res
// holds the route and its parameters; otherwise res.Route is -1. Match does
// not allocate, except to lower-case a Host that has upper-case letters
// (clients send lower case).
func (rt *Router) Match(r *http.Request, path string, res *Result) Status {
	res.reset()
	s := search{r: r, path: path}
	if rt.run(&s) {
		s.fill(res)
		return Found
	}
	if s.wrongMethod {
		return MethodNotAllowed
	}
	return NotFound
}

// Allowed returns the methods, sorted, of the routes that match r's host,
// path, headers and query, with HEAD added where GET is allowed: the Allow
// header of a 405. It returns nil when one of those routes allows every
// method or none matches. It allocates; it is meant for the error path.
func (rt *Router) Allowed(r *http.Request, path string) []string {
	var methods []string
	s := search{r: r, path: path, collected: &methods}
	rt.run(&s)
	if s.anyMethod || len(methods) == 0 {
		return nil
	}
	if slices.Contains(methods, http.MethodGet) {
		methods = append(methods, http.MethodHead)
	}
	slices.Sort(methods)
	return slices.Compact(methods)
}

// run walks the host groups in priority order: exact host, wildcards by
// longest suffix, any host. It reports whether a route accepted the request.
func (rt *Router) run(s *search) bool {
	if s.path == "" || s.path[0] != '/' {
		return false
	}
	host := requestHost(s.r)
	if len(rt.exact) > 0 {
		if t := rt.exact[host]; t != nil && s.walk(t, 1) {
			return true
		}
	}
	if len(rt.wildcard) > 0 {
		// Dots from the left give suffixes from the longest; a suffix must
		// leave at least one label before it.
		for i := 1; i < len(host); i++ {
			if host[i] != '.' {
				continue
			}
			if t := rt.wildcard[host[i:]]; t != nil && s.walk(t, 1) {
				return true
			}
		}
	}
	return rt.any != nil && s.walk(rt.any, 1)
}

// requestHost returns r's host as host patterns are stored: lower-case,
// without port or trailing dot. strings.ToLower returns its argument
// unchanged, without allocating, when it has no upper-case letters.
func requestHost(r *http.Request) string {
	h := r.Host
	if h == "" && r.URL != nil {
		h = r.URL.Host
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h[i:], ']') < 0 {
		h = h[:i] // "[::1]:80" keeps "[::1]"; "[::1]" has no port
	}
	h = strings.TrimSuffix(h, ".")
	return strings.ToLower(h)
}
