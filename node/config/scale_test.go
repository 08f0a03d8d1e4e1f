package config

import (
	"fmt"
	"strings"
	"testing"
)

// manyRoutes is a valid document with n routes on one upstream, shaped as
// real large configs are: shape "hosts" (one tenant per host), "paths"
// (one path per route) or "headers" (every route on "/*", told apart by a
// header, as header-based tenant routing does).
func manyRoutes(shape string, n int) []byte {
	var b strings.Builder
	b.Grow(n * 80)
	b.WriteString("upstreams: [{name: u, targets: [{url: \"http://10.0.0.1:8080\"}]}]\nroutes:\n")
	for i := range n {
		switch shape {
		case "hosts":
			fmt.Fprintf(&b, "  - {name: r%d, upstream: u, match: {hosts: [t%d.example.com]}}\n", i, i)
		case "paths":
			fmt.Fprintf(&b, "  - {name: r%d, upstream: u, match: {paths: [\"/t%d/*\"], methods: [GET]}}\n", i, i)
		case "headers":
			fmt.Fprintf(&b, "  - {name: r%d, upstream: u, match: {headers: {X-Tenant: t%d}}}\n", i, i)
		case "methods":
			fmt.Fprintf(&b, "  - {name: r%d, upstream: u, match: {methods: [M%d], query: {v: \"1\"}}}\n", i, i)
		}
	}
	return []byte(b.String())
}

// TestParse_ManyRoutes: large documents of every shape are valid, and a
// 200k-route one decodes (the decoder's value cap used to refuse any
// document that size). Whether validation stays near-linear is a speed
// figure, so it lives in BenchmarkParse_ManyRoutes (the conflict check
// once compared every pair of routes sharing a path pattern: 50k routes
// told apart by a header took 291 s; now under 1 s). The sizes keep the
// test to a few seconds under -race.
func TestParse_ManyRoutes(t *testing.T) {
	cases := []struct {
		shape string
		n     int
	}{
		{"hosts", 200_000}, {"paths", 20_000}, {"headers", 20_000}, {"methods", 20_000},
	}
	if testing.Short() {
		cases = cases[1:]
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%d", c.shape, c.n), func(t *testing.T) {
			if _, err := testLoader(nil).gateway(testFile, manyRoutes(c.shape, c.n)); err != nil {
				t.Fatalf("document is invalid: %v", err)
			}
		})
	}
}

// BenchmarkParse_ManyRoutes: go test -run '^$' -bench ManyRoutes ./node/config
func BenchmarkParse_ManyRoutes(b *testing.B) {
	for _, shape := range []string{"hosts", "paths", "headers", "methods"} {
		for _, n := range []int{10_000, 50_000, 100_000, 200_000} {
			data := manyRoutes(shape, n)
			b.Run(fmt.Sprintf("%s/routes=%d", shape, n), func(b *testing.B) {
				for b.Loop() {
					if _, err := testLoader(nil).gateway(testFile, data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
