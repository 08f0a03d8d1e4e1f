package node_test

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/portico-gw/portico/node/nodetest"
)

// TestUpstreamTLS: an https upstream signed by a private CA is refused
// with the system roots (502) and served once its tls.ca is configured,
// for protocol http1 and h2 (with a server_name to verify).
func TestUpstreamTLS(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "proto %d", r.ProtoMajor)
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	defer up.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	gw := fmt.Sprintf(`
upstreams:
  - {name: system-roots, targets: [{url: %[1]q}]}
  - {name: private-ca, targets: [{url: %[1]q}], tls: {ca: %[2]q}}
  - {name: private-ca-h2, protocol: h2, targets: [{url: %[1]q}], tls: {ca: %[2]q, server_name: example.com}}
routes:
  - {name: a, match: {paths: ["/a"]}, upstream: system-roots}
  - {name: b, match: {paths: ["/b"]}, upstream: private-ca}
  - {name: c, match: {paths: ["/c"]}, upstream: private-ca-h2}
`, up.URL, ca)
	n := nodetest.Start(t, 1, gw)[0]
	for _, tt := range []struct {
		path, want string
		status     int
	}{
		{"/a", "", 502},
		{"/b", "proto 2", 200}, // http1 takes HTTP/2 when the target offers it (ALPN)
		{"/c", "proto 2", 200}, // httptest's certificate names example.com
	} {
		r := get(t, n.URL+tt.path)
		if r.status != tt.status || (tt.want != "" && string(r.body) != tt.want) {
			t.Errorf("GET %s = %d %q, want %d %q", tt.path, r.status, r.body, tt.status, tt.want)
		}
	}
}
