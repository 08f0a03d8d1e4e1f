package route

import (
	"net/http"
	"slices"
	"strings"
)

// node is one position in a host group's segment trie: the patterns that
// share the segments leading here continue through its children.
type node struct {
	labels   []string // literal children's segments, sorted for binary search
	children []*node  // children[i] follows labels[i]
	param    *node    // the {param} child
	end      []*entry // patterns that end exactly here
	rest     []*entry // catch-all and prefix patterns rooted here
}

// insert adds e under the pattern segs.
func (n *node) insert(segs []segment, e *entry) {
	for _, s := range segs {
		switch s.kind {
		case segLiteral:
			n = n.addChild(s.text)
		case segParam:
			if n.param == nil {
				n.param = &node{}
			}
			n = n.param
		case segRest:
			n.rest = append(n.rest, e)
			return
		}
	}
	n.end = append(n.end, e)
}

func (n *node) addChild(label string) *node {
	i, found := slices.BinarySearch(n.labels, label)
	if found {
		return n.children[i]
	}
	c := &node{}
	n.labels = slices.Insert(n.labels, i, label)
	n.children = slices.Insert(n.children, i, c)
	return c
}

// child returns the literal child for seg, or nil. A hand-written binary
// search: it runs per segment on the hot path and must not allocate.
func (n *node) child(seg string) *node {
	lo, hi := 0, len(n.labels)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if n.labels[mid] < seg {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(n.labels) && n.labels[lo] == seg {
		return n.children[lo]
	}
	return nil
}

// sortEntries puts every entry list in priority order (compareEntries).
func (n *node) sortEntries() {
	slices.SortStableFunc(n.end, compareEntries)
	slices.SortStableFunc(n.rest, compareEntries)
	for _, c := range n.children {
		c.sortEntries()
	}
	if n.param != nil {
		n.param.sortEntries()
	}
}

// search is the state of one Match or Allowed call. It lives on the
// caller's stack; walk and offer take it by pointer. It records a hit
// rather than writing the caller's Result: escape analysis is not
// field-sensitive, and a Result pointer stored in here next to the path
// would be judged to escape, costing the caller an allocation.
type search struct {
	r    *http.Request // nil in Paths.Match: paths alone
	path string
	hit  *entry // the accepted entry, when walk returns true
	rest string // the hit's catch-all value

	// collected is non-nil in Allowed: every candidate is visited (walk
	// never reports success) and the methods of those that pass their
	// header and query conditions are appended here.
	collected   *[]string
	anyMethod   bool // a collected route allows every method
	wrongMethod bool // a route matched all but the method

	n    int               // parameters captured on the current trie path
	vals [MaxParams]string // their values
}

// walk matches the path from index i at node n and reports whether a route
// accepted the request. i is the start of the next segment, just after a
// "/", or len(path)+1 once the whole path is consumed. The order of the
// attempts below is the per-segment priority: literal, then {param}, then
// catch-all; a failed attempt backtracks to the next.
func (s *search) walk(n *node, i int) bool {
	if i > len(s.path) {
		return s.offer(n.end, "") || s.offer(n.rest, "")
	}
	end := strings.IndexByte(s.path[i:], '/')
	if end < 0 {
		end = len(s.path)
	} else {
		end += i
	}
	seg := s.path[i:end]
	if c := n.child(seg); c != nil && s.walk(c, end+1) {
		return true
	}
	if n.param != nil && seg != "" && s.n < MaxParams {
		s.vals[s.n] = seg
		s.n++
		if s.walk(n.param, end+1) {
			return true
		}
		s.n--
	}
	return s.offer(n.rest, s.path[i:])
}

// offer tries the entries of one trie position in priority order. rest is
// the value of a catch-all (unused for exact patterns, whose names are all
// captured already).
func (s *search) offer(entries []*entry, rest string) bool {
	if s.r == nil { // Paths: one route's patterns, no conditions
		if len(entries) == 0 {
			return false
		}
		s.hit, s.rest = entries[0], rest
		return true
	}
	for _, e := range entries {
		if !e.accepts(s.r) {
			continue
		}
		if s.collected != nil {
			s.collectMethods(e)
			continue
		}
		if !e.allows(s.r.Method) {
			s.wrongMethod = true
			continue
		}
		s.hit, s.rest = e, rest
		return true
	}
	return false
}

// fill writes the hit into res. The captured values are still in s.vals:
// walk returns straight up once a route accepts, without backtracking.
func (s *search) fill(res *Result) {
	e := s.hit
	res.Route, res.Pattern = e.route, e.pattern
	res.n = copy(res.names[:], e.names)
	copy(res.values[:], s.vals[:s.n])
	if res.n > s.n { // the pattern ends in a named catch-all
		res.values[s.n] = s.rest
	}
}

func (s *search) collectMethods(e *entry) {
	if len(e.methods) == 0 {
		s.anyMethod = true
		return
	}
	*s.collected = append(*s.collected, e.methods...)
}
