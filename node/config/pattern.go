package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// This file checks the small languages inside strings: path patterns,
// rewrite templates, host names and HTTP tokens. Each check returns an
// error whose text completes a message about the value.

// valueError is a problem whose message quotes part of the value. When the
// value came from a variable, messages use generic instead: they never
// show a variable's value, nor any part of it.
type valueError struct {
	msg, generic string
}

func (e valueError) Error() string { return e.msg }

func badParamName(name string) error {
	return valueError{
		msg:     fmt.Sprintf("has an invalid parameter name %q: use letters, digits and _", name),
		generic: "has an invalid parameter name: use letters, digits and _",
	}
}

// pattern is a parsed route path pattern.
type pattern struct {
	// canonical is the pattern with parameter names erased ("/u/{}",
	// "/files/{...}") and a final "*" written as "{...}": two patterns
	// with the same canonical form match the same paths.
	canonical string
	// params are the parameter names, in order.
	params []string
}

// parsePattern checks a path pattern:
//
//	/users            exact
//	/users/{id}       one segment, named id
//	/files/{path...}  the rest of the path (catch-all, last segment only)
//	/api/*            "/api" and everything below it (last segment only)
//
// Parameter names are identifiers, unique in the pattern.
func parsePattern(s string) (pattern, error) {
	if !strings.HasPrefix(s, "/") {
		return pattern{}, errors.New(`must start with "/"`)
	}
	if strings.ContainsAny(s, "?#") {
		return pattern{}, errors.New(`must not contain "?" or "#": match query parameters with match.query`)
	}
	segs := strings.Split(s[1:], "/")
	var p pattern
	canon := make([]string, len(segs))
	for i, seg := range segs {
		last := i == len(segs)-1
		c, param, err := patternSegment(seg, last)
		if err != nil {
			return pattern{}, err
		}
		if param != "" {
			if slices.Contains(p.params, param) {
				return pattern{}, valueError{fmt.Sprintf("defines parameter {%s} twice", param), "defines a parameter twice"}
			}
			p.params = append(p.params, param)
		}
		canon[i] = c
	}
	if len(p.params) > maxParams {
		return pattern{}, fmt.Errorf("defines %d parameters; at most %d are allowed", len(p.params), maxParams)
	}
	p.canonical = "/" + strings.Join(canon, "/")
	return p, nil
}

// patternSegment checks one segment and returns its canonical form and the
// parameter it names, if any.
func patternSegment(seg string, last bool) (canon, param string, err error) {
	switch {
	case seg == "":
		if !last {
			return "", "", errors.New(`has an empty segment ("//")`)
		}
		return "", "", nil // trailing slash, or the root "/"
	case seg == "." || seg == "..":
		return "", "", errors.New(`must not contain "." or ".." segments: request paths are cleaned before matching`)
	case seg == "*":
		if !last {
			return "", "", errors.New(`may use "*" only as the final segment, as in "/api/*"`)
		}
		return "{...}", "", nil
	case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
		name, rest := strings.CutSuffix(seg[1:len(seg)-1], "...")
		if rest && !last {
			return "", "", valueError{fmt.Sprintf("may use the catch-all {%s...} only as the final segment", name), "may use a catch-all {name...} only as the final segment"}
		}
		if !isIdentifier(name) {
			return "", "", badParamName(name)
		}
		if rest {
			return "{...}", name, nil
		}
		return "{}", name, nil
	case strings.ContainsAny(seg, "{}"):
		return "", "", errors.New(`must use a parameter as a whole segment, as in "/users/{id}"`)
	case strings.Contains(seg, "*"):
		return "", "", errors.New(`may use "*" only as the whole final segment, as in "/api/*"`)
	case hasSpaceOrControl(seg):
		return "", "", errors.New("must not contain spaces or control characters")
	}
	c, err := canonicalLiteral(seg)
	return c, "", err
}

// maxParams is the most path parameters one pattern may define: the
// router keeps them in fixed arrays so matching never allocates (it must
// agree with node/route.MaxParams).
const maxParams = 8

// canonicalLiteral checks a literal path segment the way the router's
// normalization sees request paths, and returns its canonical form:
// escapes of unreserved characters decoded ("%61" is "a"), other escapes
// upper-cased, bytes outside ASCII escaped. Patterns are compared (for
// conflicts) and matched in this form, so "/%61dmin" is "/admin".
func canonicalLiteral(seg string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c == '\\':
			return "", errors.New("must not contain a backslash")
		case c == '%':
			if i+2 >= len(seg) || !isHex(seg[i+1]) || !isHex(seg[i+2]) {
				return "", errors.New(`has an invalid percent-escape: "%" must be followed by two hex digits`)
			}
			v := unhex(seg[i+1])<<4 | unhex(seg[i+2])
			switch {
			case v == 0:
				return "", errors.New("must not contain an encoded NUL (%00)")
			case v == '\\':
				return "", errors.New("must not contain a backslash (%5C)")
			case isUnreserved(v):
				b.WriteByte(v)
			default:
				b.WriteByte('%')
				b.WriteString(strings.ToUpper(seg[i+1 : i+3]))
			}
			i += 2
		case c >= 0x80:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	out := b.String()
	if out == "." || out == ".." {
		return "", errors.New(`must not contain "." or ".." segments (also encoded): request paths are cleaned before matching`)
	}
	return out, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// templateParams checks a rewrite template ("/v2/users/{id}") and returns
// the parameters it uses. "{name...}" is accepted as a synonym of
// "{name}".
func templateParams(s string) ([]string, error) {
	if !strings.HasPrefix(s, "/") {
		return nil, errors.New(`must start with "/"`)
	}
	if strings.ContainsAny(s, "?#") {
		return nil, errors.New(`must not contain "?" or "#": it replaces the path only`)
	}
	if hasSpaceOrControl(s) {
		return nil, errors.New("must not contain spaces or control characters")
	}
	var params []string
	for rest := s; ; {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			return params, nil
		}
		if rest[open] == '}' {
			return nil, errors.New(`has a "}" without its "{"`)
		}
		end := strings.IndexAny(rest[open+1:], "{}")
		if end < 0 || rest[open+1+end] == '{' {
			return nil, errors.New(`has a "{" without its "}"`)
		}
		name, _ := strings.CutSuffix(rest[open+1:open+1+end], "...")
		if !isIdentifier(name) {
			return nil, badParamName(name)
		}
		params = append(params, name)
		rest = rest[open+1+end+1:]
	}
}

// checkStripPrefix checks a literal path prefix.
func checkStripPrefix(s string) error {
	switch {
	case !strings.HasPrefix(s, "/"):
		return errors.New(`must start with "/"`)
	case strings.ContainsAny(s, "{}*?#"):
		return errors.New(`must be a literal path prefix (no "{", "}", "*", "?" or "#")`)
	case hasSpaceOrControl(s):
		return errors.New("must not contain spaces or control characters")
	}
	segs := strings.Split(s[1:], "/")
	for i, seg := range segs {
		if seg == "" && i < len(segs)-1 {
			return errors.New(`has an empty segment ("//")`)
		}
		if seg == "" {
			continue
		}
		if _, err := canonicalLiteral(seg); err != nil {
			return err
		}
	}
	return nil
}

// checkHost checks a match.hosts entry: a lower-case DNS name, or one with
// a leading "*." wildcard label.
func checkHost(h string) error {
	name := strings.TrimPrefix(h, "*.")
	switch {
	case h == "":
		return errors.New("must not be empty")
	case h == "*":
		return errors.New("is not a host: leave hosts empty to match any host")
	case strings.Contains(h, ":"):
		return errors.New("must not include a port: the port of a request's Host is ignored when matching")
	case strings.Contains(name, "*"):
		return errors.New(`may use a wildcard only as the whole first label, as in "*.example.com"`)
	case h != strings.ToLower(h):
		return valueError{fmt.Sprintf("must be lower case (%q)", strings.ToLower(h)), "must be lower case"}
	case len(name) > 253:
		return errors.New("is longer than 253 characters")
	}
	for _, label := range strings.Split(name, ".") {
		if err := checkLabel(label); err != nil {
			return err
		}
	}
	return nil
}

// checkLabel checks one DNS label: 1 to 63 letters, digits and hyphens, not
// starting or ending with a hyphen.
func checkLabel(l string) error {
	if l == "" || len(l) > 63 {
		return errors.New("is not a DNS name: each dot-separated label has 1 to 63 characters")
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return errors.New("is not a DNS name: a label can't start or end with a hyphen")
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return errors.New("is not a DNS name: use letters, digits, hyphens and dots")
		}
	}
	return nil
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2), the
// syntax of methods and header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func hasSpaceOrControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}
