package problem

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// docsPath is the catalogue every Type must have an entry in.
const docsPath = "../docs/problems.md"

// docEntry is one row of a table in docs/problems.md.
type docEntry struct {
	line     int
	statuses []int // empty: the row states none
}

var (
	anchorRe = regexp.MustCompile(`<a id="([^"]*)"></a>`)
	// A row: | <a id="SLUG"></a>`SLUG` | STATUS[, STATUS] | when |
	rowRe = regexp.MustCompile("^\\| <a id=\"([^\"]+)\"></a>`([^`]+)` \\| ([^|]*) \\|")
)

// readDocs parses docs/problems.md's table rows by slug. It fails t on
// an anchor outside a well-formed row, a row whose shown name differs
// from its anchor, an unreadable status and a slug documented twice.
func readDocs(t *testing.T) map[string]docEntry {
	t.Helper()
	f, err := os.Open(docsPath)
	if err != nil {
		t.Fatalf("open the problem catalogue: %v", err)
	}
	defer f.Close()
	docs := map[string]docEntry{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		anchors := anchorRe.FindAllStringSubmatch(line, -1)
		if len(anchors) == 0 {
			continue
		}
		m := rowRe.FindStringSubmatch(line)
		if m == nil || len(anchors) != 1 {
			t.Errorf("%s:%d: anchor %q is not the start of a row | <a id=\"SLUG\"></a>`SLUG` | STATUS | when |", docsPath, n, anchors[0][1])
			continue
		}
		slug, shown, cell := m[1], m[2], strings.TrimSpace(m[3])
		if shown != slug {
			t.Errorf("%s:%d: anchor %q is shown as %q", docsPath, n, slug, shown)
		}
		if prev, dup := docs[slug]; dup {
			t.Errorf("%s:%d: %q is documented again (first on line %d)", docsPath, n, slug, prev.line)
			continue
		}
		e := docEntry{line: n}
		if strings.ContainsAny(cell, "0123456789") {
			for _, s := range strings.Split(cell, ",") {
				st, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || st < 100 || st > 599 {
					t.Errorf("%s:%d: %q: status %q is not a list of HTTP statuses", docsPath, n, slug, cell)
					break
				}
				e.statuses = append(e.statuses, st)
			}
		}
		docs[slug] = e
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read the problem catalogue: %v", err)
	}
	return docs
}

func TestDocsListEveryType(t *testing.T) {
	docs := readDocs(t)
	bySlug := map[string][]Type{}
	for _, ty := range Types() {
		bySlug[ty.Slug()] = append(bySlug[ty.Slug()], ty)
	}
	for slug, types := range bySlug {
		d, ok := docs[slug]
		if !ok {
			t.Errorf("%s (status %d) has no entry in %s: add a row | <a id=%q></a>`%s` | %d | when |",
				slug, types[0].Status(), docsPath, slug, slug, types[0].Status())
			continue
		}
		var got []int
		for _, ty := range types {
			got = append(got, ty.Status())
		}
		slices.Sort(got)
		if len(types) > 1 {
			// Types may share a slug only as one documented answer with
			// several statuses (usage-unavailable's 502 and 504), one type
			// per status.
			if len(slices.Compact(slices.Clone(got))) != len(got) {
				t.Errorf("%s: %d types share the slug with the statuses %v; two types with one slug and one status can't be told apart", slug, len(types), got)
			}
			want := slices.Sorted(slices.Values(d.statuses))
			if !slices.Equal(got, want) {
				t.Errorf("%s: %d types share the slug with the statuses %v, but %s:%d documents %v; a shared slug must list each type's status",
					slug, len(types), got, docsPath, d.line, d.statuses)
			}
			continue
		}
		if len(d.statuses) > 0 && !slices.Equal(d.statuses, got) {
			t.Errorf("%s: status %d, but %s:%d documents %v", slug, got[0], docsPath, d.line, d.statuses)
		}
	}
	for slug, d := range docs {
		if _, ok := bySlug[slug]; !ok {
			t.Errorf("%s:%d documents %q, which is no problem.Type", docsPath, d.line, slug)
		}
	}
}

func TestTable(t *testing.T) {
	slugRe := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	if got, want := len(Types()), int(numTypes)-1; got != want {
		t.Fatalf("Types() has %d types, want %d", got, want)
	}
	for _, ty := range Types() {
		if !slugRe.MatchString(ty.Slug()) || ty.Title() == "" || ty.Detail() == "" || ty.Status() < 400 || ty.Status() > 599 {
			t.Errorf("type %d = {%d %q %q %q}: want a lower-case slug, a title, a detail and a 4xx/5xx status",
				ty, ty.Status(), ty.Slug(), ty.Title(), ty.Detail())
		}
		if ty.URI() != Base+ty.Slug() {
			t.Errorf("%s: URI %q, want Base+slug", ty.Slug(), ty.URI())
		}
	}
	// Outside the table: Internal, not a panic or an empty answer.
	for _, ty := range []Type{0, numTypes, 255} {
		if ty.Slug() != Internal.Slug() || ty.Status() != http.StatusInternalServerError {
			t.Errorf("Type(%d) = %d %q, want internal's", ty, ty.Status(), ty.Slug())
		}
	}
}

// answer is a problem as a client reads it.
type answer struct {
	status int
	header http.Header
	body   []byte
	doc    map[string]any
}

// record runs write against a ResponseRecorder whose header already has
// a stale Content-Length and Content-Type, as a handler may leave them.
func record(t *testing.T, write func(http.ResponseWriter)) answer {
	t.Helper()
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Length", "12345")
	rec.Header().Set("Content-Type", "text/html")
	rec.Header().Set("Cache-Control", "public, max-age=60")
	write(rec)
	a := answer{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	if !json.Valid(a.body) {
		t.Fatalf("body is not JSON: %s", a.body)
	}
	if err := json.Unmarshal(a.body, &a.doc); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, a.body)
	}
	return a
}

// check verifies the standard members and headers of a for ty.
func (a answer) check(t *testing.T, ty Type, detail, requestID string) {
	t.Helper()
	if a.status != ty.Status() {
		t.Errorf("%s: status %d, want %d", ty.Slug(), a.status, ty.Status())
	}
	if got := a.header.Values("Content-Type"); !slices.Equal(got, []string{"application/problem+json"}) {
		t.Errorf("%s: Content-Type %q, want application/problem+json", ty.Slug(), got)
	}
	if got := a.header.Values("Cache-Control"); !slices.Equal(got, []string{"no-store"}) {
		t.Errorf("%s: Cache-Control %q, want no-store", ty.Slug(), got)
	}
	if got, ok := a.header["Content-Length"]; ok {
		t.Errorf("%s: Content-Length %q left in place, want it removed", ty.Slug(), got)
	}
	want := map[string]any{"type": Base + ty.Slug(), "title": ty.Title(), "status": float64(ty.Status()), "detail": detail}
	if requestID != "" {
		want["request_id"] = requestID
	}
	for k, v := range want {
		if a.doc[k] != v {
			t.Errorf("%s: %q = %#v, want %#v", ty.Slug(), k, a.doc[k], v)
		}
	}
	if _, ok := a.doc["request_id"]; ok && requestID == "" {
		t.Errorf("%s: request_id %v present, want none when not given", ty.Slug(), a.doc["request_id"])
	}
}

func TestWrite(t *testing.T) {
	for _, ty := range Types() {
		for _, id := range []string{"", "0f3c9a1e5b7d2c48", "client-id_1.2:3"} {
			a := record(t, func(w http.ResponseWriter) { Write(w, ty, id) })
			a.check(t, ty, ty.Detail(), id)
			if want := 4 + min(len(id), 1); len(a.doc) != want {
				t.Errorf("%s: members %v, want type, title, status, detail (and request_id)", ty.Slug(), a.doc)
			}
			if !strings.HasSuffix(string(a.body), "}\n") {
				t.Errorf("%s: body %q does not end in a newline", ty.Slug(), a.body)
			}
		}
	}
}

func TestWriteDetail(t *testing.T) {
	for _, detail := range []string{
		"The upstream named api did not answer.",
		`A "quoted" word, a back\slash, a tab	and a newline
too.`,
		"Not UTF-8: \xff, and U+2028: \u2028 — fine.",
		"",
	} {
		a := record(t, func(w http.ResponseWriter) { WriteDetail(w, NoHealthyUpstream, detail, "id-1") })
		want := strings.ToValidUTF8(detail, "\uFFFD")
		a.check(t, NoHealthyUpstream, want, "id-1")
	}
	// A request id is echoed as JSON whatever it holds.
	a := record(t, func(w http.ResponseWriter) { Write(w, NoRoute, `a"b\c`) })
	a.check(t, NoRoute, NoRoute.Detail(), `a"b\c`)
}

func TestWriteExt(t *testing.T) {
	ext := map[string]any{
		"errors": []string{`routes[0].path: must start with "/"`, "upstreams.api: no targets"},
		// None of these may change the standard members.
		"type": "https://evil.example/x", "title": "Owned", "status": 200, "detail": "overridden",
	}
	for _, id := range []string{"", "0f3c9a1e5b7d2c48"} {
		a := record(t, func(w http.ResponseWriter) { WriteExt(w, InvalidConfig, id, ext) })
		a.check(t, InvalidConfig, InvalidConfig.Detail(), id)
		got, _ := json.Marshal(a.doc["errors"])
		if want, _ := json.Marshal(ext["errors"]); string(got) != string(want) {
			t.Errorf("errors = %s, want %s", got, want)
		}
	}
	if ext["type"] != "https://evil.example/x" || len(ext) != 5 {
		t.Errorf("WriteExt changed the caller's map: %v", ext)
	}
	a := record(t, func(w http.ResponseWriter) {
		WriteExt(w, VersionConflict, "", map[string]any{"current_version": int64(7)})
	})
	a.check(t, VersionConflict, VersionConflict.Detail(), "")
	if a.doc["current_version"] != float64(7) {
		t.Errorf("current_version = %v, want 7", a.doc["current_version"])
	}
	a = record(t, func(w http.ResponseWriter) { WriteExt(w, Internal, "", nil) })
	a.check(t, Internal, Internal.Detail(), "")
}

// TestWriteOverHTTP serves problems from a real listener after the
// handler set a Content-Length for another body: the client must get the
// whole problem, which it would not if that header were kept.
func TestWriteOverHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "3")
		switch r.URL.Path {
		case "/ext":
			WriteExt(w, QuorumLost, "r-1", map[string]any{"serving_version": 4})
		case "/detail":
			WriteDetail(w, UpstreamTimeout, "The upstream api did not answer in 30s.", "r-1")
		default:
			Write(w, BadIfMatch, "r-1")
		}
	}))
	defer srv.Close()
	for path, ty := range map[string]Type{"/ext": QuorumLost, "/detail": UpstreamTimeout, "/": BadIfMatch} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET %s: read body: %v", path, err)
		}
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Errorf("GET %s: body %q is not JSON: %v", path, body, err)
			continue
		}
		if resp.StatusCode != ty.Status() || doc["type"] != ty.URI() || doc["request_id"] != "r-1" ||
			resp.Header.Get("Content-Type") != "application/problem+json" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s = %d %q %q %s, want %d %s with request_id r-1",
				path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), body, ty.Status(), ty.URI())
		}
		if resp.ContentLength != -1 && resp.ContentLength != int64(len(body)) {
			t.Errorf("GET %s: Content-Length %d for a %d-byte body", path, resp.ContentLength, len(body))
		}
	}
}

// discard is a ResponseWriter that keeps nothing: what Write itself
// costs, without a recorder's.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func BenchmarkWrite(b *testing.B) {
	for _, bc := range []struct {
		name string
		fn   func(http.ResponseWriter)
	}{
		{"default", func(w http.ResponseWriter) { Write(w, NoRoute, "") }},
		{"request-id", func(w http.ResponseWriter) { Write(w, UpstreamError, "0f3c9a1e5b7d2c48") }},
		{"escaped-default", func(w http.ResponseWriter) { Write(w, BadIfMatch, "0f3c9a1e5b7d2c48") }},
		{"detail", func(w http.ResponseWriter) {
			WriteDetail(w, UpstreamTimeout, "The upstream api did not answer in 30s.", "0f3c9a1e5b7d2c48")
		}},
		{"ext", func(w http.ResponseWriter) {
			WriteExt(w, VersionConflict, "0f3c9a1e5b7d2c48", map[string]any{"current_version": 7})
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				bc.fn(w)
			}
		})
	}
}

// Example shows an answer's body.
func ExampleWrite() {
	rec := httptest.NewRecorder()
	Write(rec, NoRoute, "0f3c9a1e5b7d2c48")
	fmt.Print(rec.Code, " ", rec.Header().Get("Content-Type"), "\n", rec.Body.String())
	// Output:
	// 404 application/problem+json
	// {"type":"https://github.com/portico-gw/portico/blob/main/docs/problems.md#no-route","title":"No route","status":404,"detail":"No route matches this request.","request_id":"0f3c9a1e5b7d2c48"}
}
