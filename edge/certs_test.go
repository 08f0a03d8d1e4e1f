package edge_test

import (
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-gw/portico/edge"
	"github.com/prometheus/client_golang/prometheus"
)

// peerSerial handshakes with addr as a client sending SNI serverName
// (none if empty) and returns the serial of the certificate presented.
func peerSerial(t *testing.T, addr, serverName string, cfg *tls.Config) string {
	t.Helper()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.ServerName = serverName
	cfg.InsecureSkipVerify = true // the point is which certificate comes, trusted or not
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("handshake with SNI %q: %v", serverName, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func TestSNI_PicksCertificate(t *testing.T) {
	ca := edge.NewTestCA(t)
	dir := t.TempDir()
	def := ca.Issue(t, edge.LeafSpec{Names: []string{"default.test"}})
	exact := ca.Issue(t, edge.LeafSpec{Names: []string{"a.example.com"}})
	wild := ca.Issue(t, edge.LeafSpec{Names: []string{"*.example.com"}})
	ip := ca.Issue(t, edge.LeafSpec{Names: []string{"ip.test", "127.0.0.1"}})
	dualRSA := ca.Issue(t, edge.LeafSpec{Names: []string{"dual.test"}, RSA: true})
	dualEC := ca.Issue(t, edge.LeafSpec{Names: []string{"dual.test"}})
	sv := serve(t, edge.Config{TLS: &edge.TLSConfig{Certificates: []edge.CertFiles{
		def.WriteFiles(t, dir, "default"), exact.WriteFiles(t, dir, "exact"), wild.WriteFiles(t, dir, "wild"),
		ip.WriteFiles(t, dir, "ip"), dualRSA.WriteFiles(t, dir, "dual-rsa"), dualEC.WriteFiles(t, dir, "dual-ec"),
	}}})
	ecdsaOnly := &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
	tests := []struct {
		name, serverName string
		client           *tls.Config
		want             *edge.TestLeaf
	}{
		{"exact name", "a.example.com", nil, exact},
		{"exact name in capitals", "A.EXAMPLE.COM", nil, exact},
		{"wildcard covers one label", "b.example.com", nil, wild},
		{"wildcard does not cover two labels", "x.b.example.com", nil, def},
		{"wildcard does not cover the apex", "example.com", nil, def},
		{"unknown name gets the default", "other.test", nil, def},
		{"no SNI gets the IP SAN of the address reached", "", nil, ip},
		{"first certificate for the name", "dual.test", nil, dualRSA},
		{"first certificate the client supports", "dual.test", ecdsaOnly, dualEC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := peerSerial(t, sv.addr, tt.serverName, tt.client), tt.want.Cert.SerialNumber.String(); got != want {
				t.Errorf("certificate for SNI %q has serial %s, want %s (%v)", tt.serverName, got, want, tt.want.Cert.DNSNames)
			}
		})
	}
}

func TestNew_CertificateErrors(t *testing.T) {
	ca := edge.NewTestCA(t)
	dir := t.TempDir()
	good := ca.Issue(t, edge.LeafSpec{Names: []string{"good.test"}})
	other := ca.Issue(t, edge.LeafSpec{Names: []string{"other.test"}})
	mismatched := edge.CertFiles{CertFile: good.WriteFiles(t, dir, "good").CertFile, KeyFile: other.WriteFiles(t, dir, "other").KeyFile}
	expired := ca.Issue(t, edge.LeafSpec{Names: []string{"old.test"},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)})
	future := ca.Issue(t, edge.LeafSpec{Names: []string{"future.test"},
		NotBefore: time.Now().Add(48 * time.Hour), NotAfter: time.Now().Add(96 * time.Hour)})
	noNames := ca.Issue(t, edge.LeafSpec{})
	notPEM := filepath.Join(dir, "not-pem.crt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := edge.CertFiles{CertFile: filepath.Join(dir, "missing.crt"), KeyFile: filepath.Join(dir, "missing.key")}

	tests := []struct {
		name     string
		files    []edge.CertFiles
		mentions []string
	}{
		{"key of another certificate", []edge.CertFiles{mismatched},
			[]string{mismatched.CertFile, "private key does not match the certificate's public key"}},
		{"expired", []edge.CertFiles{expired.WriteFiles(t, dir, "expired")},
			[]string{"expired.crt", "expired on 2021-01-01T00:00:00Z", "valid from 2020-01-01T00:00:00Z"}},
		{"not valid yet", []edge.CertFiles{future.WriteFiles(t, dir, "future")},
			[]string{"future.crt", "not valid yet: valid from " + future.Cert.NotBefore.UTC().Format(time.RFC3339)}},
		{"no SANs", []edge.CertFiles{noNames.WriteFiles(t, dir, "nonames")},
			[]string{"nonames.crt", "no DNS or IP subject alternative names"}},
		{"unreadable files", []edge.CertFiles{missing},
			[]string{"missing.crt", "missing.key", "no such file"}},
		{"no PEM", []edge.CertFiles{{CertFile: notPEM, KeyFile: mismatched.KeyFile}},
			[]string{"not-pem.crt", "no PEM data found"}},
		{"every problem at once", []edge.CertFiles{good.WriteFiles(t, dir, "good2"), mismatched, missing},
			[]string{"private key does not match", "missing.crt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := edge.New(edge.Config{Handler: okHandler(), TLS: &edge.TLSConfig{Certificates: tt.files}})
			if err == nil {
				t.Fatalf("New = %v, nil; want an error", s)
			}
			for _, m := range tt.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("New error %q does not mention %q", err, m)
				}
			}
		})
	}
}

// TestReload_RenamedFiles: files replaced by rename are served to new
// connections without a restart, while a connection opened before keeps
// its certificate and keeps working.
func TestReload_RenamedFiles(t *testing.T) {
	ca := edge.NewTestCA(t)
	first := ca.Issue(t, edge.LeafSpec{Names: []string{"localhost"}})
	files := first.WriteFiles(t, t.TempDir(), "server")
	reg := prometheus.NewRegistry()
	sv := serve(t, edge.Config{Registerer: reg, TLS: &edge.TLSConfig{Certificates: []edge.CertFiles{files}, WatchDebounce: 20 * time.Millisecond}})

	old, err := tls.Dial("tcp", sv.addr, &tls.Config{RootCAs: ca.Pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	second := ca.Issue(t, edge.LeafSpec{Names: []string{"localhost"}})
	second.ReplaceFiles(t, files)
	want := second.Cert.SerialNumber.String()
	waitFor(t, "the replaced certificate to be served", func() bool { return peerSerial(t, sv.addr, "localhost", nil) == want })
	if got := metric(t, reg, "portico_edge_cert_reloads_total", "result", "ok"); got < 1 {
		t.Errorf("cert_reloads_total{ok} = %v, want >= 1", got)
	}

	if got := old.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(first.Cert.SerialNumber) != 0 {
		t.Errorf("old connection's certificate serial = %v, want the first one", got)
	}
	if resp := rawRequest(t, old, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); !strings.HasPrefix(resp, "HTTP/1.1 200 OK") {
		t.Errorf("request on the connection opened before the reload = %q, want a 200", resp)
	}
}

// TestReload_KubernetesSymlinkSwap: a Secret volume swaps its ..data
// symlink to a new directory; the files are symlinks through it.
func TestReload_KubernetesSymlinkSwap(t *testing.T) {
	ca := edge.NewTestCA(t)
	dir := t.TempDir()
	first := ca.Issue(t, edge.LeafSpec{Names: []string{"localhost"}})
	first.WriteFiles(t, mkdir(t, dir, "..v1"), "tls")
	symlink(t, "..v1", filepath.Join(dir, "..data"))
	for _, f := range []string{"tls.crt", "tls.key"} {
		symlink(t, filepath.Join("..data", f), filepath.Join(dir, f))
	}
	files := edge.CertFiles{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key")}
	sv := serve(t, edge.Config{TLS: &edge.TLSConfig{Certificates: []edge.CertFiles{files}, WatchDebounce: 20 * time.Millisecond}})
	if got, want := peerSerial(t, sv.addr, "localhost", nil), first.Cert.SerialNumber.String(); got != want {
		t.Fatalf("serial before the swap = %s, want %s", got, want)
	}

	second := ca.Issue(t, edge.LeafSpec{Names: []string{"localhost"}})
	second.WriteFiles(t, mkdir(t, dir, "..v2"), "tls")
	symlink(t, "..v2", filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	want := second.Cert.SerialNumber.String()
	waitFor(t, "the swapped certificate to be served", func() bool { return peerSerial(t, sv.addr, "localhost", nil) == want })
}

// TestReload_BadFilesKeepTheOld: a broken replacement is refused, counted
// and logged; the certificate in use stays.
func TestReload_BadFilesKeepTheOld(t *testing.T) {
	ca := edge.NewTestCA(t)
	first := ca.Issue(t, edge.LeafSpec{Names: []string{"localhost"}})
	files := first.WriteFiles(t, t.TempDir(), "server")
	reg := prometheus.NewRegistry()
	log := &levelRecorder{min: slog.LevelWarn}
	sv := serve(t, edge.Config{Registerer: reg, Logger: slog.New(log),
		TLS: &edge.TLSConfig{Certificates: []edge.CertFiles{files}, WatchDebounce: 20 * time.Millisecond}})
	peerSerial(t, sv.addr, "localhost", nil) // serving, so watching (it starts with Serve)

	// A new certificate with the old key: the pair no longer matches.
	second := ca.Issue(t, edge.LeafSpec{Names: []string{"localhost"}})
	writeTestFile(t, files.CertFile, second.CertPEM)
	waitFor(t, "the failed reload to be counted", func() bool {
		return metric(t, reg, "portico_edge_cert_reloads_total", "result", "error") >= 1
	})
	if !log.has("certificate files changed but could not be loaded") {
		t.Errorf("warnings = %q, want the failed reload", log.messages())
	}
	if got, want := peerSerial(t, sv.addr, "localhost", nil), first.Cert.SerialNumber.String(); got != want {
		t.Errorf("serial after a bad reload = %s, want the old %s", got, want)
	}
	err := sv.ReloadCertificates()
	if err == nil || !strings.Contains(err.Error(), "private key does not match") {
		t.Errorf("ReloadCertificates = %v, want the key mismatch", err)
	}
}

// TestReloadCertificates swaps certificates on request with watching off.
func TestReloadCertificates(t *testing.T) {
	ca := edge.NewTestCA(t)
	files := ca.Issue(t, edge.LeafSpec{Names: []string{"localhost"}}).WriteFiles(t, t.TempDir(), "server")
	sv := serve(t, edge.Config{TLS: &edge.TLSConfig{Certificates: []edge.CertFiles{files}, WatchDebounce: -1}})
	second := ca.Issue(t, edge.LeafSpec{Names: []string{"localhost"}})
	second.ReplaceFiles(t, files)
	if err := sv.ReloadCertificates(); err != nil {
		t.Fatalf("ReloadCertificates = %v", err)
	}
	if got, want := peerSerial(t, sv.addr, "localhost", nil), second.Cert.SerialNumber.String(); got != want {
		t.Errorf("serial after ReloadCertificates = %s, want %s", got, want)
	}

	plain := serve(t, edge.Config{})
	if err := plain.ReloadCertificates(); err == nil {
		t.Error("ReloadCertificates without TLS = nil, want an error")
	}
}

func TestCertExpiry_WarnsAndPublishes(t *testing.T) {
	ca := edge.NewTestCA(t)
	dir := t.TempDir()
	now := time.Now()
	soon := ca.Issue(t, edge.LeafSpec{Names: []string{"soon.test"}, NotAfter: now.Add(7 * 24 * time.Hour)})
	later := ca.Issue(t, edge.LeafSpec{Names: []string{"later.test"}, NotAfter: now.Add(60 * 24 * time.Hour)})
	reg := prometheus.NewRegistry()
	log := &levelRecorder{min: slog.LevelWarn}
	s, err := edge.New(edge.Config{Handler: okHandler(), Registerer: reg, Logger: slog.New(log), Now: func() time.Time { return now },
		TLS: &edge.TLSConfig{Certificates: []edge.CertFiles{soon.WriteFiles(t, dir, "soon"), later.WriteFiles(t, dir, "later")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(t.Context())
	if got := log.messages(); len(got) != 1 || !strings.Contains(got[0], "expires soon") {
		t.Errorf("warnings = %q, want one for the certificate expiring in 7 days", got)
	}
	for _, c := range []*edge.TestLeaf{soon, later} {
		name := c.Cert.DNSNames[0]
		if got, want := metric(t, reg, "portico_edge_cert_expiry_timestamp_seconds", "name", name), float64(c.Cert.NotAfter.Unix()); got != want {
			t.Errorf("cert_expiry_timestamp_seconds{name=%q} = %v, want %v", name, got, want)
		}
	}
}

// TestNew_CertificateExpiredByInjectedClock: validity is checked against
// Config.Now.
func TestNew_CertificateExpiredByInjectedClock(t *testing.T) {
	files, _ := edge.NewTestCert(t, "localhost")
	_, err := edge.New(edge.Config{Handler: okHandler(), Now: func() time.Time { return time.Now().Add(48 * time.Hour) },
		TLS: &edge.TLSConfig{Certificates: []edge.CertFiles{files}}})
	if err == nil || !strings.Contains(err.Error(), "expired on") {
		t.Errorf("New two days after expiry = %v, want an expired error", err)
	}
}

func mkdir(t *testing.T, parent, name string) string {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func writeTestFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
