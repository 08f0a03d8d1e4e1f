package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
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

// TestParse_ManyRoutesNearLinear parses 200k routes of every shape. The
// conflict check used to compare every pair of routes sharing a path
// pattern and a host (200k routes told apart by a header: ~100 s); it
// must stay near-linear. The bound is generous (a few seconds expected,
// even under -race on a busy machine); the benchmark below measures.
func TestParse_ManyRoutesNearLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("large document")
	}
	for _, shape := range []string{"hosts", "paths", "headers", "methods"} {
		t.Run(shape, func(t *testing.T) {
			data := manyRoutes(shape, 200_000)
			start := time.Now()
			if _, err := testLoader(nil).gateway(testFile, data); err != nil {
				t.Fatalf("document is invalid: %v", err)
			}
			if d := time.Since(start); d > 60*time.Second {
				t.Errorf("200k routes (%s) validated in %v: validation is not near-linear", shape, d)
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
