package route

import (
	"fmt"
	"strings"
)

// Template is a compiled rewrite template such as "/v2/users/{id}": literal
// text with {name} (or {name...}, the same thing) references to a matched
// route's path parameters. It is immutable and safe for concurrent use.
type Template struct {
	parts  []templatePart
	size   int      // total length of the literal parts
	params []string // referenced names, in order of appearance
}

// templatePart is either literal text or, when param is set, a parameter
// reference.
type templatePart struct {
	text  string
	param bool
}

// ParseTemplate compiles a rewrite template. It must start with "/";
// references are whole "{name}" groups with identifier names and may sit
// anywhere ("/v2/u-{id}.json"). Literal text is copied as written, so it
// should be in canonical (Normalize) form.
func ParseTemplate(s string) (*Template, error) {
	if s == "" || s[0] != '/' {
		return nil, fmt.Errorf("template %q: must start with \"/\"", s)
	}
	t := &Template{}
	for rest := s; rest != ""; {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			t.addLiteral(rest)
			break
		}
		if rest[open] == '}' {
			return nil, fmt.Errorf("template %q: \"}\" without \"{\"", s)
		}
		t.addLiteral(rest[:open])
		closing := strings.IndexAny(rest[open+1:], "{}")
		if closing < 0 || rest[open+1+closing] != '}' {
			return nil, fmt.Errorf("template %q: unclosed \"{\"", s)
		}
		name := strings.TrimSuffix(rest[open+1:open+1+closing], "...")
		if !isIdent(name) {
			return nil, fmt.Errorf("template %q: parameter name %q is not an identifier (letters, digits, _)", s, name)
		}
		t.parts = append(t.parts, templatePart{text: name, param: true})
		t.params = append(t.params, name)
		rest = rest[open+closing+2:]
	}
	return t, nil
}

func (t *Template) addLiteral(s string) {
	if s != "" {
		t.parts = append(t.parts, templatePart{text: s})
		t.size += len(s)
	}
}

// Params returns the parameter names the template references, in order of
// appearance; config validation checks that every path of a route defines
// them.
func (t *Template) Params() []string { return append([]string(nil), t.params...) }

// Expand returns the template with each reference replaced by the value of
// that parameter in res ("" when res has none; a catch-all substitutes its
// whole rest). Expand never writes "//" where a value ending in "/" (or an
// empty value after a "/") meets a literal starting with "/": "/a/{x}/b"
// with x empty gives "/a/b", not "/a//b". It allocates once, or not at all
// for a template without references.
func (t *Template) Expand(res *Result) string {
	if len(t.params) == 0 && len(t.parts) == 1 {
		return t.parts[0].text
	}
	size := t.size
	for _, p := range t.parts {
		if p.param {
			size += len(res.Get(p.text))
		}
	}
	var b strings.Builder
	b.Grow(size)
	endsInSlash := false // what b holds so far ends in "/"
	for _, p := range t.parts {
		text := p.text
		if p.param {
			text = res.Get(p.text)
		} else if endsInSlash && text[0] == '/' {
			text = text[1:]
		}
		b.WriteString(text)
		if text != "" {
			endsInSlash = text[len(text)-1] == '/'
		}
	}
	return b.String()
}

// StripPrefix removes prefix from path on a segment boundary: "/api" strips
// "/api/x" to "/x" and "/api" to "/", but leaves "/apix" alone. A trailing
// slash on prefix is ignored and a prefix of "/" strips nothing. Both are
// expected in canonical form (Normalize). The result always starts with "/"
// and is a substring of path (no allocation) whenever path starts with "/".
func StripPrefix(path, prefix string) string {
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" || !strings.HasPrefix(path, prefix) {
		return path
	}
	rest := path[len(prefix):]
	switch {
	case rest == "":
		return "/"
	case rest[0] != '/':
		return path // "/apix" is not under "/api"
	}
	return rest
}
