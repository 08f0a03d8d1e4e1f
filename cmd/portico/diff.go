package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// gatewayDiff compares two gateway documents (YAML with the defaults
// expanded, as nodes serve them) and lists what differs, one line per
// changed value at its path ("routes[tea].match.paths"): items of lists
// of named maps (upstreams, routes, consumers, …) are matched by name, so
// the defaults both documents expand to never show. An item only the
// local file has is shown as written in raw (the file), an item only the
// served document has by its name. "" means the documents are the same.
func gatewayDiff(served, local, raw []byte) (string, error) {
	var a, b, file map[string]any
	if err := yaml.Unmarshal(served, &a); err != nil {
		return "", fmt.Errorf("served config: %w", err)
	}
	if err := yaml.Unmarshal(local, &b); err != nil {
		return "", fmt.Errorf("local config: %w", err)
	}
	_ = yaml.Unmarshal(raw, &file) // best effort: only used to show added items
	d := differ{file: file}
	d.walk("", a, b)
	return strings.Join(d.lines, ""), nil
}

type differ struct {
	file  map[string]any
	lines []string
}

func (d *differ) add(op, path string, v any) {
	d.lines = append(d.lines, fmt.Sprintf("%s %s: %s\n", op, path, compact(v)))
}

func (d *differ) walk(path string, a, b any) {
	if reflect.DeepEqual(a, b) {
		return
	}
	ma, okA := a.(map[string]any)
	mb, okB := b.(map[string]any)
	if okA && okB {
		keys := make([]string, 0, len(ma)+len(mb))
		for k := range ma {
			keys = append(keys, k)
		}
		for k := range mb {
			if _, ok := ma[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			d.walk(join(path, k), ma[k], mb[k])
		}
		return
	}
	la, okA := a.([]any)
	lb, okB := b.([]any)
	// A side without the list at all (a fresh node serves no routes: the
	// key is omitted) compares as an empty one, item by item.
	if a == nil && okB && named(lb) {
		la, okA = []any{}, true
	}
	if b == nil && okA && named(la) {
		lb, okB = []any{}, true
	}
	switch {
	case okA && okB && (named(la) || len(la) == 0) && (named(lb) || len(lb) == 0):
		d.named(path, la, lb)
	case okA && okB && len(la) == len(lb):
		for i := range la {
			d.walk(fmt.Sprintf("%s[%d]", path, i), la[i], lb[i])
		}
	default:
		if a != nil {
			d.add("-", path, a)
		}
		if b != nil {
			d.add("+", path, b)
		}
	}
}

// named compares lists of maps with a "name" by name.
func (d *differ) named(path string, la, lb []any) {
	byName := func(l []any) map[string]any {
		m := make(map[string]any, len(l))
		for _, x := range l {
			m[fmt.Sprint(x.(map[string]any)["name"])] = x
		}
		return m
	}
	ma, mb := byName(la), byName(lb)
	for _, x := range la {
		name := fmt.Sprint(x.(map[string]any)["name"])
		item := fmt.Sprintf("%s[%s]", path, name)
		if y, ok := mb[name]; ok {
			d.walk(item, x, y)
		} else {
			d.lines = append(d.lines, fmt.Sprintf("- %s\n", item))
		}
	}
	for _, y := range lb {
		name := fmt.Sprint(y.(map[string]any)["name"])
		if _, ok := ma[name]; !ok {
			d.add("+", fmt.Sprintf("%s[%s]", path, name), d.asWritten(path, name, y))
		}
	}
}

// asWritten returns the item of the top-level list path named name as
// the file writes it (without defaults), or def.
func (d *differ) asWritten(path, name string, def any) any {
	l, _ := d.file[path].([]any)
	for _, x := range l {
		if m, ok := x.(map[string]any); ok && fmt.Sprint(m["name"]) == name {
			return m
		}
	}
	return def
}

func named(l []any) bool {
	for _, x := range l {
		m, ok := x.(map[string]any)
		if !ok || m["name"] == nil {
			return false
		}
	}
	return len(l) > 0
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// compact writes a value on one line (JSON: strings quoted).
func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
