package config

import (
	"fmt"
	"strings"
	"testing"
)

// benchDoc is a document with n upstreams and 2n routes.
func benchDoc(n int) []byte {
	var b strings.Builder
	b.WriteString("node: {name: bench}\nupstreams:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: u%d\n    targets: [{url: \"http://10.0.%d.1:8080\"}, {url: \"http://10.0.%d.2:8080\", weight: 2}]\n    timeouts: {connect: 2s}\n", i, i%250, i%250)
	}
	b.WriteString("routes:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: r%d\n    upstream: u%d\n    match: {hosts: [h%d.example.com], paths: [\"/users/{id}\", \"/api/*\"], methods: [GET, POST]}\n", i, i, i)
		fmt.Fprintf(&b, "  - name: s%d\n    upstream: u%d\n    match: {paths: [\"/s%d/{rest...}\"], headers: {X-Env: beta}}\n    rewrite: /{rest}\n", i, i, i)
	}
	return []byte(b.String())
}

func BenchmarkParse(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		data := benchDoc(n)
		b.Run(fmt.Sprintf("upstreams=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse("bench.yaml", data, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNewSnapshot(b *testing.B) {
	f, err := Parse("bench.yaml", benchDoc(100), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		NewSnapshot(f, 1)
	}
}

func TestBenchDocIsValid(t *testing.T) {
	if _, err := Parse("bench.yaml", benchDoc(3), nil); err != nil {
		t.Fatalf("benchmark document is invalid:\n%v", err)
	}
}

// BenchmarkParse_Tenants parses n routes that differ by host only, the
// shape of a multi-tenant config: conflict detection must stay linear.
func BenchmarkParse_Tenants(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		var sb strings.Builder
		sb.WriteString("upstreams: [{name: u, targets: [{url: \"http://a:1\"}]}]\nroutes:\n")
		for i := range n {
			fmt.Fprintf(&sb, "  - {name: t%d, upstream: u, match: {hosts: [t%d.example.com]}}\n", i, i)
		}
		data := []byte(sb.String())
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse("bench.yaml", data, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
