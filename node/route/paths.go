package route

import (
	"fmt"

	"github.com/portico-gw/portico/node/config"
)

// Paths matches a path against one route's path patterns alone, without
// its host, method, header or query conditions: how a node recovers the
// parameters of a route it knows already matched, from the path. A cache
// owner filling a peer's miss needs them for the route's rewrite: the
// asker matched the route under the same config, and the request the
// owner gets has lost headers the route's conditions may name (a fill
// drops the override headers its key leaves out). Among the route's
// patterns the same one wins as in the Router: its per-segment priority,
// then config order. Safe for concurrent use.
type Paths struct {
	root node
}

// NewPaths compiles the path patterns of r (all paths, "/*", when it has
// none).
func NewPaths(r config.Route) (*Paths, error) {
	p := &Paths{}
	paths := r.Match.Paths
	if len(paths) == 0 {
		paths = []string{"/*"}
	}
	for i, pat := range paths {
		segs, err := parsePattern(pat)
		if err != nil {
			return nil, fmt.Errorf("compile route %q: %w", r.Name, err)
		}
		// An entry without conditions: accepts and allows need no request.
		e := &entry{order: i, pattern: pat}
		for _, s := range segs {
			if s.kind != segLiteral && s.text != "" {
				e.names = append(e.names, s.text)
			}
		}
		p.root.insert(segs, e)
	}
	p.root.sortEntries()
	return p, nil
}

// Match matches the normalized escaped path and, when one of the route's
// patterns matches it, fills res with its parameters (res.Route is 0).
func (p *Paths) Match(path string, res *Result) bool {
	res.reset()
	if path == "" || path[0] != '/' {
		return false
	}
	s := search{path: path}
	if !s.walk(&p.root, 1) {
		return false
	}
	s.fill(res)
	return true
}
