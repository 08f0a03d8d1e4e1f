package config

import (
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testFile is the name documents are parsed under in tests.
const testFile = "test.yaml"

// y joins lines into a document, so that a row's line numbers can be
// counted in the source.
func y(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// mapEnv is a fake Env.
func mapEnv(vars map[string]string) Env {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// testLoader parses with a fixed host name and the given variables.
func testLoader(vars map[string]string) loader {
	return loader{env: mapEnv(vars), hostname: func() (string, error) { return "test-host", nil }}
}

func parse(t *testing.T, doc string, vars map[string]string) (*File, error) {
	t.Helper()
	return testLoader(vars).file(testFile, []byte(doc))
}

func mustParse(t *testing.T, doc string, vars map[string]string) *File {
	t.Helper()
	f, err := parse(t, doc, vars)
	if err != nil {
		t.Fatalf("Parse: unexpected error:\n%v", err)
	}
	return f
}

// problems returns the lines of err, which must be Errors.
func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, want Errors: %v", err, err)
	}
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return lines
}

// errorCase is one row of the error tables: a document and the one
// problem it must produce, as "test.yaml:line:col: msg".
type errorCase struct {
	name string
	doc  string
	env  map[string]string
	want string
}

// checkOneError asserts that err holds exactly the problem want.
func checkOneError(t *testing.T, err error, want string) {
	t.Helper()
	got := problems(t, err)
	if len(got) != 1 || got[0] != want {
		t.Errorf("got errors:\n  %s\nwant exactly:\n  %s", strings.Join(got, "\n  "), want)
	}
}

// okUpstream is a valid upstreams section of 3 lines.
const okUpstream = "upstreams:\n  - name: u\n    targets: [{url: \"http://127.0.0.1:9000\"}]"
