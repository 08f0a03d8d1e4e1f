package observe

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// stdJSON is encoding/json's rendering of s without HTML escaping, the
// reference appendString must match byte for byte.
func stdJSON(t testing.TB, s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func TestAppendString(t *testing.T) {
	var controls strings.Builder
	for c := range 0x20 {
		controls.WriteByte(byte(c))
	}
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"plain", "/users/42?page=2"},
		{"quote and backslash", `say "hi" \ bye`},
		{"all control characters", controls.String()},
		{"delete is not escaped", "a\x7fb"},
		{"html stays literal", "<script>&amp;</script>"},
		{"multibyte", "héllo wörld ✓ 𝄞"},
		{"invalid byte", "a\xffb"},
		{"truncated sequence", "euro \xe2\x82"},
		{"encoded surrogate", "\xed\xa0\x80x"},
		{"overlong encoding", "\xc0\xaf"},
		{"line separators", "a\u2028b\u2029c"},
		{"escape at end", "end\n"},
		{"escape at start", "\tstart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendString(nil, tt.in))
			if want := stdJSON(t, tt.in); got != want {
				t.Errorf("appendString(%q) = %s, want %s", tt.in, got, want)
			}
		})
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00\x1f", "\xff\xfe", "\u2028", "é\xe2\x82", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString([]byte("x"), s)[1:] // appends, never overwrites
		if want := stdJSON(t, s); string(got) != want {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestAppendMillis(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"zero", 0, "0.000"},
		{"below a microsecond", 999 * time.Nanosecond, "0.000"},
		{"microseconds", 7 * time.Microsecond, "0.007"},
		{"fraction", 1500 * time.Microsecond, "1.500"},
		{"truncates nanoseconds", 12345678 * time.Nanosecond, "12.345"},
		{"seconds", 3 * time.Second, "3000.000"},
		{"negative", -2*time.Millisecond - 50*time.Microsecond, "-2.050"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendMillis(nil, tt.in)); got != tt.want {
				t.Errorf("appendMillis(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// sampleEntry has every field set, several with characters that need
// escaping.
func sampleEntry() *Entry {
	return &Entry{
		Time:             time.Date(2025, 3, 4, 5, 6, 7, 891011121, time.FixedZone("X", 3600)),
		RequestID:        "req-1",
		Route:            "users",
		Method:           "GET",
		Host:             "api.example.com",
		Path:             "/users/\"42\"",
		Query:            "q=a%20b&x=\x01",
		Proto:            "HTTP/1.1",
		Status:           200,
		BytesIn:          12,
		BytesOut:         3456,
		Duration:         12345 * time.Microsecond,
		Upstream:         "users-svc",
		Target:           "http://10.0.0.1:8080",
		UpstreamDuration: 10 * time.Millisecond,
		Retries:          1,
		ClientIP:         "192.0.2.7",
		Consumer:         "acme",
		UserAgent:        "curl/8.5\t(\u2028)",
		Error:            "",
	}
}

func TestAppendEntry(t *testing.T) {
	e := sampleEntry()
	line := appendEntry(nil, e, e.Time)
	if !bytes.HasSuffix(line, []byte("}\n")) || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("line %q is not one object ending in a newline", line)
	}
	var got map[string]any
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("line is not JSON: %v\n%s", err, line)
	}
	want := map[string]any{
		"time":        "2025-03-04T04:06:07.891011121Z",
		"request_id":  "req-1",
		"route":       "users",
		"method":      "GET",
		"host":        "api.example.com",
		"path":        "/users/\"42\"",
		"query":       "q=a%20b&x=\x01",
		"proto":       "HTTP/1.1",
		"status":      200.0,
		"bytes_in":    12.0,
		"bytes_out":   3456.0,
		"duration_ms": 12.345,
		"upstream":    "users-svc",
		"target":      "http://10.0.0.1:8080",
		"upstream_ms": 10.0,
		"retries":     1.0,
		"client_ip":   "192.0.2.7",
		"user_agent":  "curl/8.5\t(\u2028)",
		"consumer":    "acme",
		"error":       "",
	}
	if gk, wk := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)); !slices.Equal(gk, wk) {
		t.Fatalf("keys = %v, want %v", gk, wk)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
}

func BenchmarkAppendEntry(b *testing.B) {
	e := sampleEntry()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendEntry(buf[:0], e, e.Time)
	}
	b.SetBytes(int64(len(buf)))
}
