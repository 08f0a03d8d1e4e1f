package route

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{name: "root", in: "/", want: "/"},
		{name: "canonical", in: "/a/b", want: "/a/b"},
		{name: "trailing slash kept", in: "/a/", want: "/a/"},
		{name: "dotdot escapes public", in: "/public/../admin", want: "/admin"},
		{name: "encoded dotdot", in: "/a/%2e%2e/b", want: "/b"},
		{name: "encoded dotdot upper", in: "/a/%2E%2E/b", want: "/b"},
		{name: "half encoded dotdot", in: "/a/.%2e/b", want: "/b"},
		{name: "half encoded dotdot other half", in: "/a/%2E./b", want: "/b"},
		{name: "encoded dot", in: "/a/%2e/b", want: "/a/b"},
		{name: "double slash at start", in: "//admin", want: "/admin"},
		{name: "slash runs", in: "///a//b///", want: "/a/b/"},
		{name: "encoded slash stays one segment", in: "/a%2fb", want: "/a%2Fb"},
		{name: "encoded slash canonical", in: "/a%2Fb", want: "/a%2Fb"},
		{name: "encoded slash dotdot stays", in: "/public/..%2fadmin", want: "/public/..%2Fadmin"},
		{name: "encoded percent stays", in: "/%25", want: "/%25"},
		{name: "encoded percent then text", in: "/%252e", want: "/%252e"},
		{name: "unreserved letter", in: "/%61dmin", want: "/admin"},
		{name: "unreserved tilde", in: "/%7euser", want: "/~user"},
		{name: "unreserved marks", in: "/a%2d%5F%2E", want: "/a-_."},
		{name: "reserved upper-cased", in: "/a%3bb", want: "/a%3Bb"},
		{name: "encoded control kept", in: "/a%0ab", want: "/a%0Ab"},
		{name: "sub-delims raw", in: "/a;b=c,d!$&'()*+:@", want: "/a;b=c,d!$&'()*+:@"},
		{name: "space encoded", in: "/a b", want: "/a%20b"},
		{name: "utf8 encoded", in: "/\xc3\xa9", want: "/%C3%A9"},
		{name: "question mark encoded", in: "/a?b", want: "/a%3Fb"},
		{name: "brackets encoded", in: "/[x]", want: "/%5Bx%5D"},
		{name: "dot at end", in: "/a/.", want: "/a/"},
		{name: "dotdot at end", in: "/a/b/..", want: "/a/"},
		{name: "dotdot to root", in: "/a/..", want: "/"},
		{name: "dotdot above root", in: "/..", want: "/"},
		{name: "dotdots above root", in: "/../../etc/passwd", want: "/etc/passwd"},
		{name: "rfc example g", in: "/a/b/c/./../../g", want: "/a/g"},
		{name: "rfc example mid", in: "/mid/content=5/../6", want: "/mid/6"},
		{name: "three dots are a name", in: "/a/.../b", want: "/a/.../b"},
		{name: "dot prefix is a name", in: "/.well-known/x", want: "/.well-known/x"},
		{name: "encoded dot at end", in: "/a/%2e", want: "/a/"},
		{name: "deep path", in: strings.Repeat("/a", 100) + "/../b", want: strings.Repeat("/a", 99) + "/b"},

		{name: "empty", in: "", err: ErrNotAbsolute},
		{name: "relative", in: "a/b", err: ErrNotAbsolute},
		{name: "asterisk form", in: "*", err: ErrNotAbsolute},
		{name: "bad hex", in: "/%zz", err: ErrInvalidEscape},
		{name: "lone percent", in: "/a%", err: ErrInvalidEscape},
		{name: "truncated escape", in: "/%4", err: ErrInvalidEscape},
		{name: "escape cut by slash", in: "/%4/a", err: ErrInvalidEscape},
		{name: "bad escape after dirty part", in: "//a/%g1", err: ErrInvalidEscape},
		{name: "encoded nul", in: "/a%00", err: ErrControlChar},
		{name: "raw nul", in: "/a\x00", err: ErrControlChar},
		{name: "raw newline", in: "/a\nb", err: ErrControlChar},
		{name: "raw del", in: "/a\x7f", err: ErrControlChar},
		{name: "raw control after dirty part", in: "/a/../b\r", err: ErrControlChar},
		{name: "raw backslash", in: "/a\\b", err: ErrBackslash},
		{name: "encoded backslash", in: "/a%5cb", err: ErrBackslash},
		{name: "encoded backslash upper", in: "/..%5C..%5Cwin.ini", err: ErrBackslash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Normalize(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalize_Allocs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want float64
	}{
		{name: "canonical", in: "/api/v2/users/42/orders%2F7", want: 0},
		{name: "refused", in: "/a/../%zz", want: 0},
		{name: "dirty", in: "/api//v2/./users/%34%32/../x%2f", want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := testing.AllocsPerRun(100, func() { _, _ = Normalize(tt.in) })
			if got != tt.want {
				t.Errorf("Normalize(%q) allocs = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// refNormalize is a slow, obviously correct Normalize: split on "/",
// canonicalize each segment alone, resolve dot segments on a slice.
func refNormalize(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", ErrNotAbsolute
	}
	raw := strings.Split(p[1:], "/")
	var out []string
	trailing := false
	for i, r := range raw {
		seg, err := refSegment(r)
		if err != nil {
			return "", err
		}
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
		trailing = i == len(raw)-1 && (seg == "" || seg == "." || seg == "..")
	}
	s := "/" + strings.Join(out, "/")
	if trailing && len(out) > 0 {
		s += "/"
	}
	return s, nil
}

func refSegment(r string) (string, error) {
	const unreserved = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
	const keep = unreserved + "!$&'()*+,;=:@"
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c == '%':
			if i+2 >= len(r) {
				return "", ErrInvalidEscape
			}
			n, err := strconv.ParseUint(r[i+1:i+3], 16, 8)
			if err != nil {
				return "", ErrInvalidEscape
			}
			v := byte(n)
			i += 2
			switch {
			case v == 0:
				return "", ErrControlChar
			case v == '\\':
				return "", ErrBackslash
			case strings.IndexByte(unreserved, v) >= 0:
				b.WriteByte(v)
			default:
				fmt.Fprintf(&b, "%%%02X", v)
			}
		case c < 0x20 || c == 0x7f:
			return "", ErrControlChar
		case c == '\\':
			return "", ErrBackslash
		case strings.IndexByte(keep, c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String(), nil
}

// hasDotDot reports whether some segment of p decodes to "..", the only
// thing that may drop an encoded slash from the output.
func hasDotDot(p string) bool {
	for _, s := range strings.Split(p, "/") {
		switch strings.ToLower(s) {
		case "..", "%2e.", ".%2e", "%2e%2e":
			return true
		}
	}
	return false
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/a/%2e%2E/b", "//x//", "/a%2fb/..", "/%61", "/a b", "/%zz",
		"/a\\b", "/a%5c", "/.%2e/./", "/\xff", "/a/b/c/./../../g"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Normalize(in)
		want, wantErr := refNormalize(in)
		if !errors.Is(err, wantErr) || got != want {
			t.Fatalf("Normalize(%q) = %q, %v; reference gives %q, %v", in, got, err, want, wantErr)
		}
		if err != nil {
			return
		}
		if again, err := Normalize(got); again != got || err != nil {
			t.Fatalf("Normalize(%q) = %q, %v; want the fixed point %q", got, again, err, got)
		}
		if strings.Contains(got, "//") || !strings.HasPrefix(got, "/") {
			t.Fatalf("Normalize(%q) = %q: has \"//\" or no leading \"/\"", in, got)
		}
		for _, s := range strings.Split(got, "/") {
			if s == "." || s == ".." {
				t.Fatalf("Normalize(%q) = %q: has a dot segment", in, got)
			}
		}
		in2F := strings.Count(strings.ToUpper(in), "%2F")
		got2F := strings.Count(got, "%2F")
		if got2F > in2F || !hasDotDot(in) && got2F != in2F {
			t.Fatalf("Normalize(%q) = %q: %d encoded slashes, input has %d", in, got, got2F, in2F)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	for _, bc := range []struct{ name, path string }{
		{"canonical", "/api/v2/users/1234/orders/5678"},
		{"dirty", "/api//v2/./users/%31234/../1234/orders%2f5678"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Normalize(bc.path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
