package config

import (
	"cmp"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Two routes conflict when no rule can choose between them: they match
// exactly the same requests at the same priority. The router would have to
// pick one arbitrarily, so it is a configuration error. Routes conflict
// when all of these hold:
//   - same priority;
//   - overlapping hosts: both lists empty (any host), or a name in both
//     ("*.example.com" overlaps only the same wildcard: an exact name is
//     more specific than a wildcard, and a listed host than none);
//   - a path pattern in both that is the same once parameter names are
//     erased ("/u/{id}" = "/u/{x}", "/api/*" = "/api/{rest...}");
//   - overlapping methods (an empty list is every method);
//   - identical header and query conditions.

// pathUse is one path pattern of one route.
type pathUse struct {
	route, path int
}

// conflictKey groups the paths that may conflict: routes sharing a
// priority, a canonical pattern, a host (or both taking any host: host "")
// and identical header and query conditions (canon). Within a group only
// the methods are left to compare, and they are indexed, so a valid
// config never compares two routes: thousands of per-tenant routes on
// "/*" told apart by host, header, query or method stay linear.
type conflictKey struct {
	priority  int
	canonical string
	host      string
	canon     string
}

// conflictGroup indexes the path uses of one conflictKey by method.
type conflictGroup struct {
	all      []pathUse            // every use, in document order
	any      []pathUse            // uses of routes that take every method
	byMethod map[string][]pathUse // uses of routes that list methods
}

// candidates returns the earlier uses that overlap r's methods, in
// document order.
func (g *conflictGroup) candidates(r *Route) []pathUse {
	if len(r.Match.Methods) == 0 {
		return g.all
	}
	out := append([]pathUse(nil), g.any...)
	for _, m := range r.Match.Methods {
		out = append(out, g.byMethod[m]...)
	}
	slices.SortFunc(out, func(a, b pathUse) int { return cmp.Or(cmp.Compare(a.route, b.route), cmp.Compare(a.path, b.path)) })
	return out
}

func (g *conflictGroup) add(r *Route, u pathUse) {
	g.all = append(g.all, u)
	if len(r.Match.Methods) == 0 {
		g.any = append(g.any, u)
		return
	}
	if g.byMethod == nil {
		g.byMethod = make(map[string][]pathUse, len(r.Match.Methods))
	}
	for _, m := range slices.Compact(slices.Sorted(slices.Values(r.Match.Methods))) {
		g.byMethod[m] = append(g.byMethod[m], u)
	}
}

func (v *validator) conflicts(routes []Route) {
	groups := make(map[conflictKey]*conflictGroup)
	reported := make(map[[2]int]bool)
	for i := range routes {
		r := &routes[i]
		if v.matchBad(r) {
			continue // one error per mistake: its decode error is enough
		}
		hosts := r.Match.Hosts
		if len(hosts) == 0 {
			hosts = []string{""}
		}
		canon := matchCanon(&r.Match)
		for j, p := range r.Match.Paths {
			pat, err := parsePattern(p)
			if err != nil {
				continue // reported by match
			}
			for _, h := range hosts {
				k := conflictKey{r.Priority, pat.canonical, h, canon}
				g := groups[k]
				if g == nil {
					g = &conflictGroup{}
					groups[k] = g
				}
				// One error per path of a route, naming the first earlier
				// route it conflicts with: a document of n copies of one
				// route gets n-1 errors, not n²/2.
				for _, prev := range g.candidates(r) {
					pair := [2]int{prev.route, i}
					if prev.route == i || reported[pair] || !sameRequests(&routes[prev.route], r) {
						continue
					}
					reported[pair] = true
					v.conflict(routes, prev, pathUse{i, j})
					break
				}
				g.add(r, pathUse{i, j})
			}
		}
	}
}

// matchCanon writes a route's header and query conditions canonically
// (header names canonical, both sorted), so that equal conditions have
// equal strings.
func matchCanon(m *Match) string {
	if len(m.Headers) == 0 && len(m.Query) == 0 {
		return ""
	}
	hs := make([]string, 0, len(m.Headers))
	for k, val := range m.Headers {
		hs = append(hs, strconv.Quote(http.CanonicalHeaderKey(k))+":"+strconv.Quote(val))
	}
	qs := make([]string, 0, len(m.Query))
	for k, val := range m.Query {
		qs = append(qs, strconv.Quote(k)+"="+strconv.Quote(val))
	}
	slices.Sort(hs)
	slices.Sort(qs)
	return strings.Join(hs, ",") + "?" + strings.Join(qs, "&")
}

// conflict reports that route b matches the same requests as the earlier
// route a, at b's path and naming a's line.
func (v *validator) conflict(routes []Route, a, b pathUse) {
	ra, rb := &routes[a.route], &routes[b.route]
	pa, pb := &ra.Match.Paths[a.path], &rb.Match.Paths[b.path]
	where := ""
	if o := v.at(pa, &ra.Match.Paths, ra); o.line > 0 {
		where = " at line " + strconv.Itoa(o.line)
	}
	path := v.show(pb, *pb)
	if *pa != *pb {
		path += " (same as " + v.show(pa, *pa) + ")"
	}
	v.errorf(v.at(pb, &rb.Match.Paths, rb),
		"%s conflicts with %s%s: both match path %s at priority %d with the same hosts, methods, headers and query; give one a higher priority or make their matches differ",
		v.routeLabel(rb, b.route), v.routeLabel(ra, a.route), where, path, rb.Priority)
}

// matchBad reports whether any part of r that decides what it matches
// failed to decode.
func (v *validator) matchBad(r *Route) bool {
	for _, k := range []any{&r.Priority, &r.Match, &r.Match.Hosts, &r.Match.Paths, &r.Match.Methods, &r.Match.Headers, &r.Match.Query} {
		if v.origins[k].bad {
			return true
		}
	}
	return false
}

// sameRequests reports whether a and b overlap on everything but the path.
func sameRequests(a, b *Route) bool {
	return a.Priority == b.Priority &&
		hostsOverlap(a.Match.Hosts, b.Match.Hosts) &&
		methodsOverlap(a.Match.Methods, b.Match.Methods) &&
		headersEqual(a.Match.Headers, b.Match.Headers) &&
		maps.Equal(a.Match.Query, b.Match.Query)
}

func hostsOverlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	return intersects(a, b)
}

func methodsOverlap(a, b []string) bool {
	return len(a) == 0 || len(b) == 0 || intersects(a, b)
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// headersEqual compares header conditions with names compared
// case-insensitively, as HTTP does.
func headersEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	canon := make(map[string]string, len(a))
	for k, v := range a {
		canon[http.CanonicalHeaderKey(k)] = v
	}
	for k, v := range b {
		if w, ok := canon[http.CanonicalHeaderKey(k)]; !ok || w != v {
			return false
		}
	}
	return true
}
