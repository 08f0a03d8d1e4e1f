package route

import "iter"

// Result is what Match found: the route and its path parameters. It holds
// the parameters in fixed-size arrays, so a caller can keep one per request
// (or on the stack) and Match never allocates. Values are substrings of the
// normalized path given to Match, still percent-escaped ("a%2Fb"); a
// catch-all's value is the whole rest of the path and may be empty or hold
// slashes.
//
// A Result is written by Match and then only read; it is not safe to share
// while Match writes it.
type Result struct {
	// Route is the index of the matched route in the slice given to New,
	// or -1 when Match did not return Found.
	Route int
	// Pattern is the matched path pattern as written in the config (for
	// logs and metrics labels: it has bounded cardinality, the path has not).
	Pattern string

	n      int
	names  [MaxParams]string
	values [MaxParams]string
}

// Len returns the number of path parameters.
func (r *Result) Len() int { return r.n }

// Param returns the i-th parameter (in pattern order), 0 <= i < Len().
func (r *Result) Param(i int) (name, value string) {
	return r.names[i], r.values[i]
}

// Get returns the value of the named parameter, or "" when the pattern has
// no such parameter.
func (r *Result) Get(name string) string {
	for i := 0; i < r.n; i++ {
		if r.names[i] == name {
			return r.values[i]
		}
	}
	return ""
}

// All iterates over the parameters in pattern order as name, value pairs.
func (r *Result) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i := 0; i < r.n; i++ {
			if !yield(r.names[i], r.values[i]) {
				return
			}
		}
	}
}

func (r *Result) reset() {
	r.Route, r.Pattern, r.n = -1, "", 0
}
