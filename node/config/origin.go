package config

import (
	"strconv"

	"go.yaml.in/yaml/v3"
)

// origin is where a decoded value came from in the document.
type origin struct {
	line, col int
	// raw is the scalar as written when variable substitution changed it;
	// messages show raw instead of the value, which may be a secret.
	raw   string
	subst bool
	// bad marks a value that failed to decode: validation stays quiet
	// about it, so that one mistake gives one error.
	bad bool
}

// origins maps the address of every decoded struct field, list item
// (e.g. *string for &hosts[i], *Route for &routes[i]) and map entry
// (entryKey) to its origin. Field addresses are distinct keys even when
// they share memory (&r and &r.Name) because an interface key compares the
// type too. For a field the origin is its key; for an item, the item.
type origins map[any]origin

// entryKey identifies one entry of a map field: the field's address and
// the entry's key.
type entryKey struct {
	m   any
	key string
}

// place returns the origin of the first key that has one, so callers can
// name the most precise place first and fall back to the enclosing item.
func (os origins) place(keys ...any) origin {
	for _, k := range keys {
		if o, ok := os[k]; ok {
			return o
		}
	}
	return origin{}
}

// show quotes a decoded string for a message, or the text it was
// substituted from: the value of a variable never goes into a message.
func (os origins) show(key any, val string) string {
	if o, ok := os[key]; ok && o.subst {
		return strconv.Quote(o.raw) + " (after substitution)"
	}
	return strconv.Quote(val)
}

// markBad flags the value at key as one that failed to decode.
func (os origins) markBad(key any, n *yaml.Node) {
	o, ok := os[key]
	if !ok {
		o = origin{line: n.Line, col: n.Column}
	}
	o.bad = true
	os[key] = o
}
