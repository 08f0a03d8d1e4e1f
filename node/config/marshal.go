package config

import (
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file writes the schema types back as YAML: for people (the
// effective config, with secrets redacted) and for the digest (canonical,
// secrets included). The output of a parsed File parses back to the same
// File:
//   - units are written in human form ("30s", "10MiB", "100/s");
//   - zero values are left out (parsing gives them back as defaults);
//   - a zero retries.attempts or health.passive.failures, which means
//     "off" once defaults are applied, is written as -1;
//   - "$" in strings is written "$$", so that no value reads back as a
//     ${VAR} reference;
//   - map keys are sorted, so equal documents give equal bytes.

// redactedValue replaces every non-empty secret in redacted output.
const redactedValue = "REDACTED"

// MarshalYAML writes f in the form described above, with secrets (fields
// tagged `secret:"true"`) written as "REDACTED". It expects a File as
// Parse returns it (defaulted).
func (f File) MarshalYAML() (any, error) {
	return encodeYAML(reflect.ValueOf(f), true), nil
}

// MarshalYAML writes g like File.MarshalYAML.
func (g Gateway) MarshalYAML() (any, error) {
	return encodeYAML(reflect.ValueOf(g), true), nil
}

// MarshalYAML writes n like File.MarshalYAML: the admin token is redacted.
func (n Node) MarshalYAML() (any, error) {
	return encodeYAML(reflect.ValueOf(n), true), nil
}

// YAML writes f for people: block style, secrets redacted.
func (f *File) YAML() ([]byte, error) { return yaml.Marshal(f) }

// Document returns g's canonical form with secrets in clear: what a node
// stores and (later) replicates. ParseGateway(name, doc, nil) reads it back
// to an equal Gateway.
func (g *Gateway) Document() []byte { return canonicalYAML(g) }

// canonicalYAML is g written with secrets in clear, in YAML's flow style
// (the JSON-compatible subset: {"key": value}, [items], double-quoted
// strings): the input of the digest. Flow style is as canonical as block
// style and much cheaper to produce.
func canonicalYAML(g *Gateway) []byte {
	return appendFlow(nil, encodeYAML(reflect.ValueOf(g).Elem(), false))
}

// appendFlow appends n in flow style. Strings are quoted with Go's
// escapes, which are valid YAML double-quoted escapes.
func appendFlow(b []byte, n *yaml.Node) []byte {
	switch n.Kind {
	case yaml.MappingNode:
		b = append(b, '{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendFlow(b, n.Content[i])
			b = append(b, ": "...)
			b = appendFlow(b, n.Content[i+1])
		}
		return append(b, '}')
	case yaml.SequenceNode:
		b = append(b, '[')
		for i, c := range n.Content {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendFlow(b, c)
		}
		return append(b, ']')
	}
	if n.Tag == "!!str" {
		return strconv.AppendQuote(b, n.Value)
	}
	return append(b, n.Value...)
}

// encodeYAML builds the YAML node of v; redact hides secrets.
func encodeYAML(v reflect.Value, redact bool) *yaml.Node {
	e := encoder{redact: redact, fields: make(fieldCache)}
	return e.value(v)
}

// encoder holds the settings of one encoding.
type encoder struct {
	redact bool
	fields fieldCache
}

// value builds the YAML node of v.
func (e encoder) value(v reflect.Value) *yaml.Node {
	switch x := v.Interface().(type) {
	case Duration:
		return scalarNode("!!str", x.Human())
	case Size:
		if x.String() == strconv.FormatInt(int64(x), 10) {
			return scalarNode("", x.String())
		}
		return scalarNode("!!str", x.String())
	case Rate:
		return scalarNode("!!str", x.String())
	}
	switch v.Kind() {
	case reflect.Struct:
		return e.structure(v)
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for i := 0; i < v.Len(); i++ {
			n.Content = append(n.Content, e.value(v.Index(i)))
		}
		return n
	case reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			n.Content = append(n.Content, scalarNode("!!str", k.String()), e.value(v.MapIndex(k)))
		}
		return n
	case reflect.Pointer:
		return e.value(v.Elem())
	case reflect.String:
		return scalarNode("!!str", strings.ReplaceAll(v.String(), "$", "$$"))
	case reflect.Bool:
		return scalarNode("", strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalarNode("", strconv.FormatInt(v.Int(), 10))
	case reflect.Float32, reflect.Float64:
		return scalarNode("", strconv.FormatFloat(v.Float(), 'g', -1, 64))
	}
	// The schema has no other kinds.
	return scalarNode("", "null")
}

// structure writes the non-zero fields of struct v in declaration order,
// inline structs flattened.
func (e encoder) structure(v reflect.Value) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, f := range e.fields.of(v.Type()) {
		fv := v.FieldByIndex(f.index)
		var val *yaml.Node
		switch {
		case fv.IsZero() && offWhenZero(f.id):
			val = scalarNode("", "-1")
		case fv.IsZero(), fv.Kind() == reflect.Slice && fv.Len() == 0, fv.Kind() == reflect.Map && fv.Len() == 0:
			continue
		case f.secret && e.redact:
			val = scalarNode("!!str", redactedValue)
		default:
			val = e.value(fv)
		}
		if val.Kind == yaml.MappingNode && len(val.Content) == 0 {
			continue
		}
		n.Content = append(n.Content, scalarNode("!!str", f.name), val)
	}
	return n
}

func scalarNode(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}
