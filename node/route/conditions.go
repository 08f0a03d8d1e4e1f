package route

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/portico-gw/portico/node/config"
)

// entry is one path pattern of one route, with the route's non-path
// conditions. The trie keeps entries at the node where their pattern ends.
type entry struct {
	route    int    // index in the routes given to New
	order    int    // position in config order (route, then path), the last tie-break
	priority int    // config.Route.Priority
	pattern  string // as written in the config
	names    []string
	methods  []string    // nil: any method
	headers  []condition // sorted by key, so evaluation order is stable
	query    []condition // sorted by key
}

// condition is one header or query requirement; value "*" means present.
type condition struct{ key, value string }

// newConditions compiles a route's method, header and query conditions,
// shared by all of its path patterns.
func newConditions(m config.Match) (methods []string, headers, query []condition, err error) {
	for _, meth := range m.Methods {
		if !isToken(meth) {
			return nil, nil, nil, fmt.Errorf("method %q is not an HTTP method token", meth)
		}
		methods = append(methods, meth)
	}
	for k, v := range m.Headers {
		if !isToken(k) {
			return nil, nil, nil, fmt.Errorf("header condition name %q is not an HTTP token", k)
		}
		// r.Header is keyed by canonical names; canonicalizing here lets
		// Match index it directly instead of paying Header.Get's allocation.
		headers = append(headers, condition{http.CanonicalHeaderKey(k), v})
	}
	for k, v := range m.Query {
		if k == "" {
			return nil, nil, nil, fmt.Errorf("query condition with an empty name")
		}
		query = append(query, condition{k, v})
	}
	byKey := func(a, b condition) int { return strings.Compare(a.key, b.key) }
	slices.SortFunc(headers, byKey)
	slices.SortFunc(query, byKey)
	return methods, headers, query, nil
}

// compareEntries orders entries on the same pattern: more header+query
// conditions first, then a method restriction before none, then higher
// priority, then config order.
func compareEntries(a, b *entry) int {
	if ca, cb := len(a.headers)+len(a.query), len(b.headers)+len(b.query); ca != cb {
		return cb - ca
	}
	if ra, rb := len(a.methods) > 0, len(b.methods) > 0; ra != rb {
		if ra {
			return -1
		}
		return 1
	}
	if a.priority != b.priority {
		if a.priority > b.priority {
			return -1
		}
		return 1
	}
	return a.order - b.order
}

// allows reports whether the route takes method; HEAD is taken by a route
// that allows GET, as net/http serves HEAD with the GET handler.
func (e *entry) allows(method string) bool {
	if len(e.methods) == 0 {
		return true
	}
	if method == "" {
		method = http.MethodGet // the net/http convention for an empty Method
	}
	for _, m := range e.methods {
		if m == method || method == http.MethodHead && m == http.MethodGet {
			return true
		}
	}
	return false
}

// accepts reports whether the request meets every header and query
// condition.
func (e *entry) accepts(r *http.Request) bool {
	for _, c := range e.headers {
		if !headerHas(r.Header[c.key], c.value) {
			return false
		}
	}
	if len(e.query) == 0 {
		return true
	}
	raw := ""
	if r.URL != nil {
		raw = r.URL.RawQuery
	}
	for _, c := range e.query {
		if !queryHas(raw, c.key, c.value) {
			return false
		}
	}
	return true
}

// headerHas reports whether one of a header's field values equals want
// exactly (a comma-separated list is not split), or, for "*", whether the
// header is present at all.
func headerHas(values []string, want string) bool {
	if len(values) == 0 {
		return false
	}
	return want == "*" || slices.Contains(values, want)
}

// queryHas reports whether the raw query string has key with the value want
// (or any value, for "*"). Keys and values are compared decoded ("+" is a
// space, %XX a byte) without allocating; a malformed escape never matches.
func queryHas(raw, key, want string) bool {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if !queryEqual(k, key) {
			continue
		}
		if want == "*" || queryEqual(v, want) {
			return true
		}
	}
	return false
}

// queryEqual reports whether the query-escaped raw decodes to want.
func queryEqual(raw, want string) bool {
	j := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(raw) {
				return false
			}
			hi, ok1 := unhex(raw[i+1])
			lo, ok2 := unhex(raw[i+2])
			if !ok1 || !ok2 {
				return false
			}
			c = hi<<4 | lo
			i += 2
		}
		if j >= len(want) || want[j] != c {
			return false
		}
		j++
	}
	return j == len(want)
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2), the
// syntax of methods and header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
