// Package route owns request routing: the canonical form of a request path
// (Normalize), the compiled router that picks a config.Route for a request
// (New, Router.Match, Router.Allowed), and the path rewriting a matched
// route asks for (ParseTemplate, Template.Expand, StripPrefix).
//
// It does not own what happens after a match: HTTP statuses (the caller maps
// NotFound to 404, MethodNotAllowed to 405 with Allow, a Normalize error to
// 400), proxying and every other pipeline stage belong to node and its stage
// packages. It imports only the standard library and node/config.
//
// # Paths
//
// Match works on the path as Normalize returns it: percent-escaped,
// unreserved characters decoded, other escapes upper-case, "//" collapsed,
// "." and ".." resolved. An encoded slash (%2F) stays inside its segment, so
// "/a%2Fb" is one segment and path parameters are escaped substrings of the
// normalized path. The same canonical path is what goes upstream, so what the
// router saw is what the upstream gets.
//
// # Patterns
//
// A path pattern is a list of segments: "/users" (literal), "/users/{id}"
// ({id} matches one non-empty segment), "/files/{path...}" (catch-all, last
// only: matches "/files", "/files/" and everything below; the value is the
// rest after "/files/" and may be empty) and "/api/*" (prefix: the same as an
// unnamed catch-all, "/api" and everything below). A trailing slash is
// significant for exact and {param} patterns: "/users/" does not match
// "/users". A pattern has at most MaxParams named parameters.
//
// # Priority (most specific wins)
//
//  1. Host group. Routes are grouped by host: exact hosts first, then
//     wildcard hosts with the longest suffix first ("*.a.example.com" before
//     "*.example.com"), then routes without hosts (any host). A wildcard
//     "*.example.com" matches one or more labels before ".example.com", never
//     "example.com" itself. The request's Host is lower-cased and its port and
//     trailing dot ignored. When no route of a group accepts the request
//     (path, headers, query and method), matching falls through to the next
//     group.
//  2. Path, per segment from left to right: a literal segment beats a
//     {param}, which beats a catch-all or prefix; reaching the end of the
//     path exactly beats a catch-all that would match an empty rest. Matching
//     backtracks: "/users/new" takes "/users/new" over "/users/{id}", but
//     "/users/new/x" still matches "/users/{id}/x" when "/users/new" has no
//     "x" below it. A route that fails its header, query or method
//     conditions does not stop the search; the next candidate is tried.
//  3. Routes with the same pattern (parameter names aside) in the same host
//     group: more header+query conditions first, then a method restriction
//     before none, then higher Route.Priority, then config order (the first
//     route in the file wins, so duplicates resolve deterministically).
//
// A method mismatch is only reported (MethodNotAllowed) when no route at all
// accepts the request but some route matched its host, path, headers and
// query; Allowed lists the methods those routes take. HEAD is accepted by a
// route that allows GET.
//
// # Cost
//
// Each host group is a segment trie (sorted literal children searched by
// binary search, one {param} child, one list of catch-all routes), so a
// match costs a few map lookups for the host plus work proportional to the
// path's segments, not to the number of routes. Match does not allocate
// (unless the Host has upper-case letters); Normalize does not allocate when
// the path is already canonical.
package route
