package edge_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/portico-gw/portico/edge"
)

// BenchmarkServe_Loopback measures one keep-alive request through the
// edge Server to a trivial handler, client cost included.
func BenchmarkServe_Loopback(b *testing.B) {
	sv := serve(b, edge.Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})})
	c := newClient(b)
	url := "http://" + sv.addr + "/"
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkServe_TLS measures requests over one already handshaken TLS
// connection (HTTP/1.1 keep-alive, or HTTP/2), client cost included: the
// handshake is paid once, before the timer.
func BenchmarkServe_TLS(b *testing.B) {
	for _, proto := range []string{"h1", "h2"} {
		b.Run(proto, func(b *testing.B) {
			sv, pool := serveTLS(b, edge.Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "ok")
			})})
			c := newTLSClient(b, pool, proto)
			url := "https://localhost:" + port(sv) + "/"
			get := func() {
				resp, err := c.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			get() // handshake
			b.ReportAllocs()
			for b.Loop() {
				get()
			}
		})
	}
}
