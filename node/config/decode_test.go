package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestParse_DecodeErrors has one row per problem the decoder reports.
// okUpstream is lines 1-3 of the rows that use it.
func TestParse_DecodeErrors(t *testing.T) {
	tests := []errorCase{
		{
			name: "unknown key with suggestion",
			doc:  y(okUpstream, "routes:", "  - name: r", "    upstrem: u"),
			want: `test.yaml:6:5: unknown key "upstrem" in route (did you mean "upstream"?)`,
		},
		{
			name: "unknown key without suggestion",
			doc:  y("node:", "  colour: blue"),
			want: `test.yaml:2:3: unknown key "colour" in node`,
		},
		{
			name: "unknown top-level key",
			doc:  y("routs: []"),
			want: `test.yaml:1:1: unknown key "routs" at the top level (did you mean "routes"?)`,
		},
		{
			name: "unknown nested key",
			doc:  y("node:", "  admin:", "    tokn: x"),
			want: `test.yaml:3:5: unknown key "tokn" in node.admin (did you mean "token"?)`,
		},
		{
			name: "duplicate key",
			doc:  y(okUpstream, "routes:", "  - name: r", "    upstream: u", "    name: s"),
			want: `test.yaml:7:5: duplicate key "name" in route (first at line 5)`,
		},
		{
			name: "duplicate top-level key",
			doc:  y("node: {}", "node: {}"),
			want: `test.yaml:2:1: duplicate key "node" at the top level (first at line 1)`,
		},
		{
			name: "duplicate map key",
			doc:  y(okUpstream, "routes:", "  - {name: r, upstream: u, match: {headers: {X-A: a, X-A: b}}}"),
			want: `test.yaml:5:54: duplicate key "X-A" in "headers" (first at line 5)`,
		},
		{
			name: "list expected",
			doc:  y("routes: {name: r}"),
			want: `test.yaml:1:9: "routes" must be a list, got a mapping`,
		},
		{
			name: "mapping expected",
			doc:  y(okUpstream, "routes:", "  - name: r", "    upstream: u", "    match: /x"),
			want: `test.yaml:7:12: "match" must be a mapping of keys, got a string`,
		},
		{
			name: "list item mapping expected",
			doc:  y("upstreams:", "  - u"),
			want: `test.yaml:2:5: item of "upstreams" must be a mapping of keys, got a string`,
		},
		{
			name: "string expected",
			doc:  y("upstreams:", "  - name: [a]", `    targets: [{url: "http://a:1"}]`),
			want: `test.yaml:2:11: "name" must be a string, got a list`,
		},
		{
			name: "string map value expected",
			doc:  y(okUpstream, "routes:", "  - {name: r, upstream: u, match: {query: {a: [1]}}}"),
			want: `test.yaml:5:47: "a" must be a string, got a list`,
		},
		{
			name: "top level not a mapping",
			doc:  y("- a", "- b"),
			want: `test.yaml:1:1: the document must be a mapping of keys, got a list`,
		},
		{
			name: "non-string key",
			doc:  y("? [a]", ": 1"),
			want: `test.yaml:1:3: keys at the top level must be strings, got a list`,
		},
		{
			name: "bad duration",
			doc:  y("node:", "  shutdown_timeout: 30"),
			want: `test.yaml:2:21: "shutdown_timeout": invalid duration "30": use a number with a unit, e.g. 500ms, 30s, 5m`,
		},
		{
			name: "negative duration",
			doc:  y("node:", "  shutdown_timeout: -1s"),
			want: `test.yaml:2:21: "shutdown_timeout": invalid duration "-1s": must not be negative`,
		},
		{
			name: "bad size",
			doc:  y("node:", "  server: {max_body_bytes: 10XB}"),
			want: `test.yaml:2:28: "max_body_bytes": invalid size "10XB": use bytes or a unit, e.g. 512, 64KiB, 10MiB, 1GB`,
		},
		{
			name: "negative size",
			doc:  y("node:", "  server: {max_header_bytes: -5}"),
			want: `test.yaml:2:30: "max_header_bytes": invalid size "-5": use bytes or a unit, e.g. 512, 64KiB, 10MiB, 1GB`,
		},
		{
			name: "integer expected",
			doc:  y("upstreams:", "  - name: u", `    targets: [{url: "http://a:1"}]`, "    max_conns_per_target: lots"),
			want: `test.yaml:4:27: "max_conns_per_target" must be an integer, got "lots"`,
		},
		{
			name: "integer overflow",
			doc:  y(okUpstream, "routes:", "  - {name: r, upstream: u, priority: 99999999999999999999}"),
			want: `test.yaml:5:38: "priority" must be an integer, got "99999999999999999999"`,
		},
		{
			name: "negative count",
			doc:  y("upstreams:", "  - name: u", `    targets: [{url: "http://a:1"}]`, "    max_idle_conns_per_target: -1"),
			want: `test.yaml:4:32: "max_idle_conns_per_target" must be >= 0, got "-1"`,
		},
		{
			name: "negative weight",
			doc:  y("upstreams:", "  - name: u", `    targets: [{url: "http://a:1", weight: -2}]`),
			want: `test.yaml:3:43: "weight" must be >= 0, got "-2"`,
		},
		{
			name: "attempts below -1",
			doc:  y("upstreams:", "  - name: u", `    targets: [{url: "http://a:1"}]`, "    retries: {attempts: -2}"),
			want: `test.yaml:4:25: "attempts" must be -1 (off) or a count >= 0, got "-2"`,
		},
		{
			name: "passive failures below -1",
			doc:  y("upstreams:", "  - name: u", `    targets: [{url: "http://a:1"}]`, "    health: {passive: {failures: -3}}"),
			want: `test.yaml:4:34: "failures" must be -1 (off) or a count >= 0, got "-3"`,
		},
		{
			name: "negative active healthy",
			doc:  y("upstreams:", "  - name: u", `    targets: [{url: "http://a:1"}]`, "    health: {active: {healthy: -1}}"),
			want: `test.yaml:4:32: "healthy" must be >= 0, got "-1"`,
		},
		{
			name: "number expected",
			doc:  y("node:", "  access_log: {sample: half}"),
			want: `test.yaml:2:24: "sample" must be a number, got "half"`,
		},
		{
			name: "NaN refused",
			doc:  y("node:", "  access_log: {sample: .nan}"),
			want: `test.yaml:2:24: "sample" must be a number, got ".nan"`,
		},
		{
			name: "boolean expected",
			doc:  y(okUpstream, "routes:", "  - {name: r, upstream: u, preserve_host: yes}"),
			want: `test.yaml:5:43: "preserve_host" must be true or false, got "yes"`,
		},
		{
			name: "unset variable",
			doc:  y("node:", "  name: ${NODE_NAME}"),
			want: `test.yaml:2:9: "name": environment variable NODE_NAME is not set (set it, or write ${NODE_NAME:-default})`,
		},
		{
			name: "invalid variable name",
			doc:  y("node:", "  name: ${1X}"),
			want: `test.yaml:2:9: "name": invalid variable reference "${1X}": a name is letters, digits and _, not starting with a digit`,
		},
		{
			name: "unterminated variable",
			doc:  y("node:", "  name: ${X"),
			want: `test.yaml:2:9: "name": unterminated variable reference: write ${NAME} (or $$ for a literal $)`,
		},
		{
			name: "substituted value not shown",
			doc:  y("node:", "  shutdown_timeout: ${GRACE}"),
			env:  map[string]string{"GRACE": "s3cret"},
			want: `test.yaml:2:21: "shutdown_timeout": invalid duration "${GRACE}" (after substitution): use a number with a unit, e.g. 500ms, 30s, 5m`,
		},
		{
			name: "substituted integer not shown",
			doc:  y(okUpstream, "routes:", "  - {name: r, upstream: u, priority: \"${P}\"}"),
			env:  map[string]string{"P": "s3cret"},
			want: `test.yaml:5:38: "priority" must be an integer, got the value of "${P}"`,
		},
		{
			name: "invalid UTF-8 in variable",
			doc:  y("node:", "  name: ${N}"),
			env:  map[string]string{"N": "\xff"},
			want: `test.yaml:2:9: "name": environment variable N is not valid UTF-8`,
		},
		{
			name: "YAML syntax error",
			doc:  y("node:", "  name: [a,"),
			want: `test.yaml:2: invalid YAML: did not find expected node content`,
		},
		{
			name: "tab indentation",
			doc:  y("node:", "\tname: a"),
			want: `test.yaml:2: invalid YAML: found character that cannot start any token`,
		},
		{
			name: "unknown alias",
			doc:  y("node: *nope"),
			want: `test.yaml: invalid YAML: unknown anchor 'nope' referenced`,
		},
		{
			name: "two documents",
			doc:  y("node: {}", "---", "node: {}"),
			want: `test.yaml:2:1: a config file holds one YAML document: remove the "---" separator and what follows, or split the documents into files`,
		},
		{
			name: "merge of a scalar",
			doc:  y("node:", "  <<: x"),
			want: `test.yaml:2:7: a merge key (<<) takes a mapping or a list of mappings, got a string`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.doc, tt.env)
			checkOneError(t, err, tt.want)
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows a variable's value: %v", err)
			}
		})
	}
}

func TestParseGateway(t *testing.T) {
	tests := []errorCase{
		{
			name: "node key refused",
			doc:  y(okUpstream, "node:", "  name: a"),
			want: `test.yaml:4:1: "node" is not part of the cluster-wide document: node-local settings come from the node's own config file`,
		},
		{
			name: "validated like a file",
			doc:  y(okUpstream, "routes:", "  - {name: r, upstream: nope}"),
			want: `test.yaml:5:15: route "r": upstream "nope" is not defined (defined: "u")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := testLoader(tt.env).gateway(testFile, []byte(tt.doc))
			checkOneError(t, err, tt.want)
		})
	}
	t.Run("valid document is defaulted", func(t *testing.T) {
		g, err := ParseGateway(testFile, []byte(y(okUpstream, "routes:", "  - {name: r, upstream: u}")), nil)
		if err != nil {
			t.Fatalf("ParseGateway: %v", err)
		}
		if got := g.Routes[0].Match.Paths; !reflect.DeepEqual(got, []string{"/*"}) {
			t.Errorf("route paths = %q, want the default [/*]", got)
		}
	})
}

func TestParse_AnchorsAndMerges(t *testing.T) {
	doc := y(
		"x-timeouts: &t {connect: 1s, response_header: 2s}",
		"upstreams:",
		"  - &base",
		"    name: a",
		`    targets: [{url: "http://a:1"}]`,
		"    timeouts: *t",
		"  - <<: *base",
		"    name: b",
	)
	// x- keys are not part of the schema; anchors must live in a known
	// place, so move the anchor under a real key instead.
	_, err := parse(t, doc, nil)
	checkOneError(t, err, `test.yaml:1:1: unknown key "x-timeouts" at the top level`)

	doc = y(
		"upstreams:",
		"  - &base",
		"    name: a",
		`    targets: [{url: "http://a:1"}]`,
		"    timeouts: &t {connect: 1s, response_header: 2s}",
		"  - <<: *base",
		"    name: b",
		"  - <<: [{name: ignored, protocol: h2c}, *base]",
		"    name: c",
		"    timeouts: *t",
	)
	f := mustParse(t, doc, nil)
	for i, want := range []struct{ name, protocol string }{{"a", "http1"}, {"b", "http1"}, {"c", "h2c"}} {
		u := f.Gateway.Upstreams[i]
		if u.Name != want.name || u.Protocol != want.protocol || u.Timeouts.Connect.D() != time.Second || len(u.Targets) != 1 {
			t.Errorf("upstream %d = %q protocol %q connect %v targets %d, want %q protocol %q connect 1s targets 1",
				i, u.Name, u.Protocol, u.Timeouts.Connect, len(u.Targets), want.name, want.protocol)
		}
	}
}

func TestParse_MergeBombs(t *testing.T) {
	// Level i merges level i-1 `width` times, so the last level expands to
	// width^depth pairs: the depth limit or the value budget must stop it
	// long before memory runs out.
	bomb := func(depth, width int) string {
		var b strings.Builder
		b.WriteString("x:\n  - &m0 {name: a}\n")
		for i := 1; i <= depth; i++ {
			refs := strings.Repeat(fmt.Sprintf("*m%d, ", i-1), width)
			fmt.Fprintf(&b, "  - &m%d {<<: [%s]}\n", i, strings.TrimSuffix(refs, ", "))
		}
		fmt.Fprintf(&b, "node: *m%d\n", depth)
		return b.String()
	}
	tests := []struct {
		name         string
		depth, width int
		want         string
	}{
		{"deep", 40, 2, "merge keys nested too deeply"},
		{"wide", 6, 40, "document too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, bomb(tt.depth, tt.width), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a %q error", err, tt.want)
			}
			if n := len(problems(t, err)); n != 2 {
				t.Errorf("got %d errors, want 2 (unknown key x, and the stop)", n)
			}
		})
	}
}
