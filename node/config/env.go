package config

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Env looks up an environment variable the way os.LookupEnv does: the value
// and whether the variable is set. Tests pass a map-backed fake. A nil Env
// defines no variable.
type Env func(name string) (string, bool)

// expand substitutes variable references inside one scalar value:
//
//	${VAR}           the value of VAR; an error if VAR is unset
//	${VAR:-default}  the value of VAR, or default when VAR is unset or empty
//	$$               a literal "$"
//
// Any other "$" is kept as is. Substituted text is not scanned again, and a
// default is literal text that ends at the first "}". Because expansion runs
// on scalars after YAML parsing, a value can never inject YAML structure.
// Error messages name variables but never contain their values.
// subst reports whether anything was substituted (callers then avoid
// quoting the expanded value in their own messages).
func expand(s string, env Env) (out string, subst bool, err error) {
	if strings.IndexByte(s, '$') < 0 {
		return s, false, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			b.WriteString(s)
			return b.String(), subst, nil
		}
		b.WriteString(s[:i])
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			s, subst = s[i+2:], true
		case '{':
			val, n, err := lookupRef(s[i:], env)
			if err != nil {
				return "", true, err
			}
			b.WriteString(val)
			s, subst = s[i+n:], true
		default:
			b.WriteByte('$')
			s = s[i+1:]
		}
	}
}

// lookupRef resolves the reference at the start of s ("${...}") and returns
// its value and the length of the reference.
func lookupRef(s string, env Env) (val string, n int, err error) {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return "", 0, fmt.Errorf("unterminated variable reference: write ${NAME} (or $$ for a literal $)")
	}
	body := s[2:end]
	name, def, hasDef := strings.Cut(body, ":-")
	if !isIdentifier(name) {
		return "", 0, fmt.Errorf("invalid variable reference %q: a name is letters, digits and _, not starting with a digit", s[:end+1])
	}
	if env != nil {
		val, ok := env(name)
		if ok && !utf8.ValidString(val) {
			return "", 0, fmt.Errorf("environment variable %s is not valid UTF-8", name)
		}
		if ok && (val != "" || !hasDef) {
			return val, end + 1, nil
		}
	}
	if hasDef {
		return def, end + 1, nil
	}
	return "", 0, fmt.Errorf("environment variable %s is not set (set it, or write ${%s:-default})", name, name)
}

// isIdentifier reports whether s is a non-empty run of ASCII letters,
// digits and underscores that doesn't start with a digit.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
