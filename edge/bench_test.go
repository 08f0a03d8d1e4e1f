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
