package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzParse checks that Parse never panics, that every problem carries
// the file name and, unless the YAML parser couldn't say, a line; and that
// a document it accepts survives being written back and parsed again.
func FuzzParse(f *testing.F) {
	for _, path := range []string{"minimal", "routing", "balancing", "resilience", "rewrite", "admin-and-logs"} {
		if data, err := os.ReadFile("../../examples/" + path + ".yaml"); err == nil {
			f.Add(data)
		}
	}
	for _, seed := range []string{
		secretDoc,
		"node: {name: ${A:-x}, listen: ':1'}\n",
		"upstreams: [{name: u, targets: [{url: 'http://a:1'}]}]\nroutes: [{name: r, upstream: u, match: {paths: ['/u/{id}']}, rewrite: '/{id}'}]\n",
		"a: &x {b: 1}\nnode: {<<: *x}\n",
		"routes: [{name: r, upstream: u}, {name: r, upstream: u}]\n",
		"node:\n\tname: x\n",
		"---\n---\n",
	} {
		f.Add([]byte(seed))
	}
	env := map[string]string{"A": "a", "TOKEN": "t"}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := testLoader(env).file("f.yaml", data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is %T (%v), want non-empty Errors", err, err)
			}
			for _, e := range es {
				if e.File != "f.yaml" {
					t.Errorf("problem %q names file %q", e, e.File)
				}
				if e.Line == 0 && !strings.HasPrefix(e.Msg, "invalid YAML: ") {
					t.Errorf("problem %q has no line", e)
				}
			}
			return
		}
		out, err := yaml.Marshal(encodeYAML(reflect.ValueOf(file).Elem(), false))
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := testLoader(nil).file("again.yaml", out)
		if err != nil {
			t.Fatalf("written-back document doesn't parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(again, file) {
			t.Fatalf("round trip changed the file:\n got %+v\nwant %+v", again, file)
		}
	})
}
