package config

import (
	"math"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// text returns the scalar n after variable substitution. The type of a
// value is decided by its field, not by its YAML tag, so `port: ${PORT}`
// and `port: 80` decode alike.
func (d *decoder) text(n *yaml.Node, s slot, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, s, "%s must be %s, got %s", s.label, want, kindOf(n))
		return "", false
	}
	val, subst, err := expand(n.Value, d.env)
	if err != nil {
		d.fail(n, s, "%s: %v", s.label, err)
		return "", false
	}
	if subst {
		o := d.origins[s.addr]
		o.raw, o.subst = n.Value, true
		d.origins[s.addr] = o
	}
	return val, true
}

// got describes a bad scalar for a message: the text as written, never a
// substituted value.
func (d *decoder) got(n *yaml.Node, s slot, val string) string {
	if d.origins[s.addr].subst {
		return "the value of " + strconv.Quote(n.Value)
	}
	return strconv.Quote(val)
}

// scalar decodes n into a string, bool, integer or float field.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, s slot) {
	switch v.Kind() {
	case reflect.String:
		if val, ok := d.text(n, s, "a string"); ok {
			v.SetString(val)
		}
	case reflect.Bool:
		val, ok := d.text(n, s, "true or false")
		if !ok {
			return
		}
		switch val {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			d.fail(n, s, "%s must be true or false, got %s", s.label, d.got(n, s, val))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.integer(n, v, s)
	case reflect.Float32, reflect.Float64:
		val, ok := d.text(n, s, "a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(n, s, "%s must be a number, got %s", s.label, d.got(n, s, val))
			return
		}
		if r, ok := fractionOf(s.id); ok && !r.contains(f) {
			d.fail(n, s, "%s must be in %v, got %s", s.label, r, d.got(n, s, val))
			return
		}
		v.SetFloat(f)
	default:
		// The schema has no other kinds; a new one needs code here.
		d.fail(n, s, "%s has a type the decoder doesn't support (%s)", s.label, v.Type())
	}
}

// integer decodes a base-10 integer and applies the field's lower bound
// (rules.go): counts can't be negative, -1 means off where documented.
func (d *decoder) integer(n *yaml.Node, v reflect.Value, s slot) {
	val, ok := d.text(n, s, "an integer")
	if !ok {
		return
	}
	i, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
	if err != nil || v.OverflowInt(i) {
		d.fail(n, s, "%s must be an integer, got %s", s.label, d.got(n, s, val))
		return
	}
	if lo, bounded := minOf(s.id); bounded && i < lo {
		switch lo {
		case -1:
			d.fail(n, s, "%s must be -1 (off) or a count >= 0, got %s", s.label, d.got(n, s, val))
		default:
			d.fail(n, s, "%s must be >= %d, got %s", s.label, lo, d.got(n, s, val))
		}
		return
	}
	v.SetInt(i)
}

// unit decodes a Duration, Size or Rate written in human form.
func (d *decoder) unit(n *yaml.Node, v reflect.Value, s slot) {
	val, ok := d.text(n, s, "a "+strings.ToLower(v.Type().Name()))
	if !ok {
		return
	}
	var err error
	switch p := v.Addr().Interface().(type) {
	case *Duration:
		*p, err = ParseDuration(val)
	case *Size:
		*p, err = ParseSize(val)
	case *Rate:
		*p, err = ParseRate(val)
	}
	if err == nil {
		return
	}
	msg := err.Error()
	if d.origins[s.addr].subst {
		// The unit parsers quote their input; show the text as written.
		if q := strconv.Quote(val); strings.Contains(msg, q) {
			msg = strings.Replace(msg, q, strconv.Quote(n.Value)+" (after substitution)", 1)
		} else {
			msg = "invalid " + strings.ToLower(v.Type().Name()) + " " + strconv.Quote(n.Value) + " (after substitution)"
		}
	}
	d.fail(n, s, "%s: %s", s.label, msg)
}
