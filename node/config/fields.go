package config

import (
	"reflect"
	"strings"
)

// field is one YAML key of a struct type, with inline structs flattened.
type field struct {
	// name is the YAML key.
	name string
	// index locates the field from the outer struct (reflect.FieldByIndex).
	index []int
	// id is "Type.Field" for the rules in rules.go.
	id string
	// secret is set by the tag `secret:"true"`.
	secret bool
	typ    reflect.Type
}

// fieldsOf lists the YAML keys of struct type t in declaration order. It
// honours `yaml:"name"`, `yaml:"-"` and `yaml:",inline"`; other options are
// ignored. Unexported fields are skipped.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if sf.Type.Kind() == reflect.Struct && hasOption(opts, "inline") {
			for _, f := range fieldsOf(sf.Type) {
				f.index = append([]int{i}, f.index...)
				out = append(out, f)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		out = append(out, field{
			name:   name,
			index:  []int{i},
			id:     fieldID(t, sf.Name),
			secret: sf.Tag.Get("secret") == "true",
			typ:    sf.Type,
		})
	}
	return out
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// fieldCache remembers fieldsOf per type for one decode or encode, which
// otherwise spends most of its allocations re-listing the same fields.
type fieldCache map[reflect.Type][]field

func (c fieldCache) of(t reflect.Type) []field {
	fs, ok := c[t]
	if !ok {
		fs = fieldsOf(t)
		c[t] = fs
	}
	return fs
}
