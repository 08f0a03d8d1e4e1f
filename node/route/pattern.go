package route

import (
	"errors"
	"fmt"
	"strings"
)

// MaxParams is the most named parameters ({name} and {name...}) one path
// pattern may have; New refuses patterns with more. It sizes Result's
// arrays, which is what keeps Match free of allocations.
const MaxParams = 8

type segKind uint8

const (
	segLiteral segKind = iota // matches one segment equal to text
	segParam                  // {text}: one non-empty segment
	segRest                   // {text...} or "*" (text ""): the rest of the path, last only
)

// segment is one compiled segment of a path pattern. A literal's text is in
// canonical (Normalize) form; a parameter's text is its name.
type segment struct {
	kind segKind
	text string
}

// parsePattern compiles a path pattern ("/users/{id}", "/files/{p...}",
// "/api/*", "/") into segments. "/" is one empty literal segment, and a
// trailing slash is a final empty literal, mirroring how a path splits.
func parsePattern(pat string) ([]segment, error) {
	if pat == "" || pat[0] != '/' {
		return nil, errors.New("path pattern must start with \"/\"")
	}
	parts := strings.Split(pat[1:], "/")
	segs := make([]segment, 0, len(parts))
	names := 0
	for i, part := range parts {
		last := i == len(parts)-1
		seg, err := parseSegment(part, last)
		if err != nil {
			return nil, fmt.Errorf("path pattern %q: %w", pat, err)
		}
		if seg.kind != segLiteral && seg.text != "" {
			for _, prev := range segs {
				if prev.kind != segLiteral && prev.text == seg.text {
					return nil, fmt.Errorf("path pattern %q: parameter %q appears twice", pat, seg.text)
				}
			}
			names++
		}
		segs = append(segs, seg)
	}
	if names > MaxParams {
		return nil, fmt.Errorf("path pattern %q: %d parameters, at most %d are allowed", pat, names, MaxParams)
	}
	return segs, nil
}

func parseSegment(part string, last bool) (segment, error) {
	if part == "*" {
		if !last {
			return segment{}, errors.New(`"*" must be the last segment (prefix pattern "/x/*")`)
		}
		return segment{kind: segRest}, nil
	}
	if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
		name := part[1 : len(part)-1]
		kind := segParam
		if n, ok := strings.CutSuffix(name, "..."); ok {
			if !last {
				return segment{}, fmt.Errorf("catch-all %q must be the last segment", part)
			}
			name, kind = n, segRest
		}
		if !isIdent(name) {
			return segment{}, fmt.Errorf("parameter name %q is not an identifier (letters, digits, _)", name)
		}
		return segment{kind: kind, text: name}, nil
	}
	if strings.ContainsAny(part, "{}") {
		return segment{}, fmt.Errorf("segment %q mixes text and a parameter; a parameter must be a whole segment", part)
	}
	if part == "" {
		if !last {
			return segment{}, errors.New("empty segment (\"//\")")
		}
		return segment{kind: segLiteral}, nil
	}
	// Requests are matched in canonical form, so literals must be too:
	// "/%61dmin" is the route for "/admin".
	c, err := Normalize("/" + part)
	if err != nil {
		return segment{}, fmt.Errorf("segment %q: %w", part, err)
	}
	if c == "/" || strings.IndexByte(c[1:], '/') >= 0 {
		return segment{}, fmt.Errorf("segment %q is a dot segment", part)
	}
	return segment{kind: segLiteral, text: c[1:]}, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// parseHost compiles a host pattern: an exact name is returned in exact, a
// wildcard "*.example.com" as its suffix ".example.com". Both are
// lower-cased with any trailing dot removed, the form requestHost produces.
func parseHost(h string) (exact, suffix string, err error) {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	switch {
	case h == "" || h == "*" || h == "*.":
		return "", "", fmt.Errorf("host %q is empty", h)
	case strings.HasPrefix(h, "*."):
		suffix = h[1:]
		if strings.ContainsAny(suffix, "*:") || strings.HasPrefix(suffix, "..") {
			return "", "", fmt.Errorf("host %q: only one leading \"*.\" wildcard label and no port are allowed", h)
		}
		return "", suffix, nil
	case strings.Contains(h, "*"):
		return "", "", fmt.Errorf("host %q: a wildcard must be a whole leading label (\"*.example.com\")", h)
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		return "", "", fmt.Errorf("host %q: ports are not allowed (the request's port is ignored)", h)
	}
	return h, "", nil
}
