package route

import (
	"errors"
	"strings"
)

// Errors returned by Normalize. Each one means the request path is malformed
// or deliberately ambiguous, and the caller answers 400 Bad Request. They are
// sentinels so that refusing a hostile path costs no allocation.
var (
	// ErrNotAbsolute: the path is empty or does not start with "/" (for
	// example the "*" of "OPTIONS *").
	ErrNotAbsolute = errors.New("route: path must start with \"/\"")
	// ErrInvalidEscape: a "%" not followed by two hex digits ("%zz", a
	// truncated "%4" or a lone "%" at the end).
	ErrInvalidEscape = errors.New("route: invalid percent-escape in path")
	// ErrControlChar: a NUL in either form ("%00") or a raw control
	// character (0x00-0x1F, 0x7F). Encoded control characters other than
	// %00 are data and stay encoded.
	ErrControlChar = errors.New("route: control character in path")
	// ErrBackslash: a backslash, raw or encoded ("%5C"). Some servers treat
	// it as a separator, so a path holding one could route differently here
	// and upstream.
	ErrBackslash = errors.New("route: backslash in path")
)

// Normalize returns the canonical form of a request's escaped path (what
// r.URL.EscapedPath returns). The canonical form is what the router matches
// and what is forwarded upstream:
//
//   - escapes of unreserved characters (ALPHA DIGIT "-" "." "_" "~") are
//     decoded ("%61" becomes "a"); other escapes keep their encoding with
//     upper-case hex ("%2f" becomes "%2F"). In particular %2F and %25 stay
//     encoded: an encoded slash never becomes a separator;
//   - raw bytes that may not appear in a path (space, '"', '<', '>', '[',
//     ']', '^', '`', '{', '|', '}', '?', '#', bytes >= 0x80) are encoded;
//   - runs of "/" collapse to one;
//   - "." and ".." segments, also encoded ("%2e", ".%2E"), are resolved as
//     RFC 3986 remove_dot_segments does; ".." above the root stays at the
//     root, and a path ending in a dot segment ends with "/";
//   - a trailing slash is kept.
//
// It returns ErrNotAbsolute, ErrInvalidEscape, ErrControlChar or
// ErrBackslash for paths it refuses. It does not allocate when p is already
// canonical (the common case) and allocates once otherwise (twice for paths
// more than 64 segments deep). It is safe for concurrent use.
func Normalize(p string) (string, error) {
	if p == "" || p[0] != '/' {
		return "", ErrNotAbsolute
	}
	ok, err := isCanonical(p)
	if err != nil {
		return "", err
	}
	if ok {
		return p, nil
	}
	return rebuild(p)
}

// isCanonical reports whether p, which starts with "/", is already
// canonical. It stops at the first byte that needs rewriting, so an error it
// has not reached yet is left for rebuild to find.
func isCanonical(p string) (bool, error) {
	seg := 1 // start of the current segment
	for i := 1; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			if s := p[seg:i]; s == "" || s == "." || s == ".." {
				return false, nil
			}
			seg = i + 1
		case c == '%':
			v, lower, err := unescape(p, i)
			if err != nil {
				return false, err
			}
			if lower || isUnreserved(v) {
				return false, nil
			}
			i += 2
		case isPathByte(c):
		default:
			return false, rawError(c) // nil: the byte only needs encoding
		}
	}
	s := p[seg:]
	return s != "." && s != "..", nil
}

// span is a kept raw segment p[start:end] whose canonical form is size bytes.
type span struct{ start, end, size int }

// rebuild writes the canonical form of p in two passes: the first validates
// every segment, measures it and resolves dot segments on a stack of spans;
// the second writes the kept spans into a builder grown to the exact size,
// so the result costs one allocation.
func rebuild(p string) (string, error) {
	var stack [64]span // on the goroutine stack; append spills deeper paths to the heap
	kept := stack[:0]
	trailing := false
	for start := 1; start <= len(p); {
		end := strings.IndexByte(p[start:], '/')
		if end < 0 {
			end = len(p)
		} else {
			end += start
		}
		size, dots, err := measureSegment(p[start:end])
		if err != nil {
			return "", err
		}
		switch {
		case size == 0: // "//" collapses; an empty last segment is the trailing slash
		case dots == 1:
		case dots == 2:
			if len(kept) > 0 {
				kept = kept[:len(kept)-1]
			}
		default:
			kept = append(kept, span{start, end, size})
		}
		// A path ending in "/", "/." or "/.." names a directory: keep the slash.
		trailing = end == len(p) && (size == 0 || dots > 0)
		start = end + 1
	}

	total := 0
	for _, s := range kept {
		total += 1 + s.size
	}
	if trailing || len(kept) == 0 {
		total++
	}
	var b strings.Builder
	b.Grow(total)
	for _, s := range kept {
		b.WriteByte('/')
		writeSegment(&b, p[s.start:s.end])
	}
	if trailing || len(kept) == 0 {
		b.WriteByte('/')
	}
	return b.String(), nil
}

// measureSegment validates one raw segment and returns the length of its
// canonical form, and dots = 1 for ".", 2 for ".." (in any encoding), else 0.
func measureSegment(seg string) (size, dots int, err error) {
	allDots := true
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c == '%':
			v, _, err := unescape(seg, i)
			if err != nil {
				return 0, 0, err
			}
			i += 2
			c = v
			if isUnreserved(v) {
				size++
			} else {
				size += 3
			}
		case isPathByte(c):
			size++
		default:
			if err := rawError(c); err != nil {
				return 0, 0, err
			}
			size += 3
		}
		allDots = allDots && c == '.'
	}
	if allDots && size <= 2 {
		dots = size
	}
	return size, dots, nil
}

// writeSegment writes the canonical form of a segment measureSegment
// accepted.
func writeSegment(b *strings.Builder, seg string) {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c == '%':
			v, _, _ := unescape(seg, i)
			i += 2
			if isUnreserved(v) {
				b.WriteByte(v)
			} else {
				writeEscape(b, v)
			}
		case isPathByte(c):
			b.WriteByte(c)
		default:
			writeEscape(b, c)
		}
	}
}

func writeEscape(b *strings.Builder, c byte) {
	const upperHex = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(upperHex[c>>4])
	b.WriteByte(upperHex[c&15])
}

// unescape decodes the escape at s[i] == '%'. lower reports lower-case hex
// digits (not canonical). NUL and backslash are refused here so that no
// encoding of them gets through.
func unescape(s string, i int) (v byte, lower bool, err error) {
	if i+2 >= len(s) {
		return 0, false, ErrInvalidEscape
	}
	hi, okHi := unhex(s[i+1])
	lo, okLo := unhex(s[i+2])
	if !okHi || !okLo {
		return 0, false, ErrInvalidEscape
	}
	v = hi<<4 | lo
	switch v {
	case 0:
		return 0, false, ErrControlChar
	case '\\':
		return 0, false, ErrBackslash
	}
	lower = s[i+1] >= 'a' || s[i+2] >= 'a'
	return v, lower, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// rawError returns the error for a raw byte that is refused, or nil for a
// byte that is merely encoded.
func rawError(c byte) error {
	switch {
	case c < 0x20 || c == 0x7f:
		return ErrControlChar
	case c == '\\':
		return ErrBackslash
	}
	return nil
}

// isUnreserved reports RFC 3986 unreserved characters, whose escapes are
// decoded.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isPathByte reports the bytes a canonical segment holds raw: unreserved,
// sub-delims, ":" and "@" (RFC 3986 pchar without pct-encoded).
func isPathByte(c byte) bool {
	if isUnreserved(c) {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@':
		return true
	}
	return false
}
