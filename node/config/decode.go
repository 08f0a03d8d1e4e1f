package config

import (
	"fmt"
	"reflect"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// This file is the strict decoder: it walks a yaml.Node tree into the
// schema types by reflection. Unlike yaml.Node.Decode it reports every
// unknown key, duplicate key and ill-typed value (not only the first), each
// at its own line:col, substitutes ${VAR} inside scalars, and records where
// every value came from so that validation can point at it too.

// maxValues bounds the values one document may decode to, counting every
// expansion of an alias or merge key, so that a small file full of nested
// aliases ("billion laughs") can't exhaust memory. A large document may
// decode to one value per 4 bytes of its text (more than any document
// without aliases needs: 200k routes are ~11 bytes per value), so the
// bound grows with the input, never with the aliases.
const maxValues = 1 << 20

// valueLimit is the bound of a document of size bytes.
func valueLimit(size int) int { return max(maxValues, size/4) }

// decoder holds the state of decoding one document. It is used once.
type decoder struct {
	file    string
	env     Env
	origins origins
	errs    Errors
	fields  fieldCache
	// values counts decoded values against limit (valueLimit; zero:
	// maxValues).
	values, limit int
	// stopped is set when the document is too large to go on with: one
	// error says so and decoding stops.
	stopped bool
	// gatewayOnly is set when the document is a bare Gateway (ParseGateway):
	// a top-level `node` key then gets a message of its own.
	gatewayOnly bool
	// skipNode, with gatewayOnly, skips a whole config file's node
	// section instead of refusing it (LoadGateway).
	skipNode bool
}

// slot is the destination of one value, for messages and rules.
type slot struct {
	// label names the value in messages: `"match"` or `item of "hosts"`.
	label string
	// id is the "Type.Field" of the field; list items and map values share
	// their field's id.
	id string
	// addr is the value's key in origins.
	addr any
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, Error{File: d.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// fail reports a value that can't be decoded into s and marks it bad.
func (d *decoder) fail(n *yaml.Node, s slot, format string, args ...any) {
	d.errorf(n, format, args...)
	d.origins.markBad(s.addr, n)
}

// stop reports a problem that ends decoding.
func (d *decoder) stop(n *yaml.Node, format string, args ...any) {
	if !d.stopped {
		d.errorf(n, format, args...)
		d.stopped = true
	}
}

// count charges one value against the budget and reports whether
// decoding may go on.
func (d *decoder) count(n *yaml.Node) bool {
	if d.values++; d.values > max(d.limit, maxValues) {
		d.stop(n, "document too large: over %d values after expanding aliases and merge keys", max(d.limit, maxValues))
	}
	return !d.stopped
}

// value decodes n into v. A YAML null leaves v at its zero value, which
// the defaults then fill.
func (d *decoder) value(n *yaml.Node, v reflect.Value, s slot) {
	if !d.count(n) {
		return
	}
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	switch v.Type() {
	case reflect.TypeFor[Duration](), reflect.TypeFor[Size](), reflect.TypeFor[Rate]():
		d.unit(n, v, s)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, v, s)
	case reflect.Slice:
		d.list(n, v, s)
	case reflect.Map:
		d.mapping(n, v, s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if o, ok := d.origins[s.addr]; ok {
			d.origins[p.Interface()] = o
		}
		d.value(n, p.Elem(), slot{label: s.label, id: s.id, addr: p.Interface()})
		if !d.origins[p.Interface()].bad {
			v.Set(p) // else leave nil, for the default to fill
		}
	default:
		d.scalar(n, v, s)
	}
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	// An anchor can't be put on an alias, so one step suffices; the bound
	// only guards against a malformed tree.
	for i := 0; i < 8 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

// structure decodes a mapping into struct v, one key at a time.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, s slot) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, s, "%s must be a mapping of keys, got %s", s.label, kindOf(n))
		return
	}
	fields := d.fields.of(v.Type())
	var seen keySet
	for _, p := range d.pairs(n, 0) {
		name, ok := d.key(p, &seen, contextOf(v.Type()))
		if !ok {
			continue
		}
		f, ok := lookupField(fields, name)
		if !ok {
			d.unknownKey(p.k, name, v, fields)
			continue
		}
		fv := v.FieldByIndex(f.index)
		addr := fv.Addr().Interface()
		d.origins[addr] = origin{line: p.k.Line, col: p.k.Column}
		d.value(p.v, fv, slot{label: strconv.Quote(name), id: f.id, addr: addr})
	}
}

// key checks the key of p: a string, not seen before in this mapping. A
// merged key that an explicit key (or an earlier merge) already set is
// skipped silently, as YAML merge keys specify.
func (d *decoder) key(p pair, seen *keySet, where string) (string, bool) {
	k := resolve(p.k)
	if k.Kind != yaml.ScalarNode {
		d.errorf(p.k, "keys %s must be strings, got %s", where, kindOf(k))
		return "", false
	}
	if first := seen.add(k); first != nil {
		if !p.merged {
			d.errorf(p.k, "duplicate key %q %s (first at line %d)", k.Value, where, first.Line)
		}
		return "", false
	}
	return k.Value, true
}

// keySet holds the keys seen in one mapping. Most mappings have a handful
// of keys, searched in a slice without allocating a map; a map takes over
// when there are many, so that a huge mapping can't make the search
// quadratic.
type keySet struct {
	list []*yaml.Node
	m    map[string]*yaml.Node
}

// add records k and returns nil, or returns the key of the same name seen
// before.
func (ks *keySet) add(k *yaml.Node) *yaml.Node {
	const small = 16
	if ks.m != nil {
		if first, ok := ks.m[k.Value]; ok {
			return first
		}
		ks.m[k.Value] = k
		return nil
	}
	for _, s := range ks.list {
		if s.Value == k.Value {
			return s
		}
	}
	ks.list = append(ks.list, k)
	if len(ks.list) > small {
		ks.m = make(map[string]*yaml.Node, 2*small)
		for _, s := range ks.list {
			ks.m[s.Value] = s
		}
		ks.list = nil
	}
	return nil
}

func lookupField(fields []field, name string) (field, bool) {
	for _, f := range fields {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// unknownKey reports a key struct v doesn't have, suggesting the nearest
// one it does. The suggested field, if still unset, is marked bad: the key
// is most likely a misspelling of it, so "missing required key" would be
// the same mistake reported twice.
func (d *decoder) unknownKey(k *yaml.Node, name string, v reflect.Value, fields []field) {
	t := v.Type()
	if d.gatewayOnly && t == reflect.TypeFor[Gateway]() && name == "node" {
		if d.skipNode {
			return
		}
		d.errorf(k, `"node" is not part of the cluster-wide document: node-local settings come from the node's own config file`)
		return
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	msg := fmt.Sprintf("unknown key %q %s", name, contextOf(t))
	if s := suggest(name, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
		f, _ := lookupField(fields, s)
		addr := v.FieldByIndex(f.index).Addr().Interface()
		if _, set := d.origins[addr]; !set {
			d.origins[addr] = origin{line: k.Line, col: k.Column, bad: true}
		}
	}
	d.errorf(k, "%s", msg)
}

// list decodes a sequence into slice v, item by item in place, so that
// every item keeps a stable address for origins.
func (d *decoder) list(n *yaml.Node, v reflect.Value, s slot) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, s, "%s must be a list, got %s", s.label, kindOf(n))
		return
	}
	if len(n.Content) == 0 {
		return // an empty list is left nil: it means the same as none
	}
	items := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ev := items.Index(i)
		addr := ev.Addr().Interface()
		d.origins[addr] = origin{line: item.Line, col: item.Column}
		d.value(item, ev, slot{label: "item of " + s.label, id: s.id, addr: addr})
	}
	v.Set(items)
}

// mapping decodes a YAML mapping into map[string]T v. Keys are taken as
// written: variables are substituted in values only.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, s slot) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, s, "%s must be a mapping, got %s", s.label, kindOf(n))
		return
	}
	pairs := d.pairs(n, 0)
	if len(pairs) == 0 {
		return // an empty mapping is left nil, like an empty list
	}
	m := reflect.MakeMapWithSize(v.Type(), len(pairs))
	base := v.Addr().Interface()
	var seen keySet
	for _, p := range pairs {
		name, ok := d.key(p, &seen, "in "+s.label)
		if !ok {
			continue
		}
		ek := entryKey{m: base, key: name}
		d.origins[ek] = origin{line: p.k.Line, col: p.k.Column}
		ev := reflect.New(v.Type().Elem()).Elem()
		d.value(p.v, ev, slot{label: strconv.Quote(name), id: s.id, addr: ek})
		m.SetMapIndex(reflect.ValueOf(name).Convert(v.Type().Key()), ev)
	}
	v.Set(m)
}

// kindOf describes a node for "got ..." messages without quoting it.
func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "nothing"
	}
	return "a string"
}
