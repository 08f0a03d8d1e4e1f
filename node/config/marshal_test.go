package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const secretDoc = `
node:
  admin: {listen: "0.0.0.0:9901", token: "${TOKEN}"}
  server: {max_body_bytes: 10MiB, max_header_bytes: 1500, idle_timeout: 2m}
upstreams:
  - name: u
    targets: [{url: "http://a:1"}]
    retries: {attempts: -1}
    health: {passive: {failures: -1}}
routes:
  - name: r
    upstream: u
    match: {headers: {X-Price: "$$5", X-Ref: "$${HOME}"}}
`

func TestMarshal_HumanUnitsAndRedaction(t *testing.T) {
	f := mustParse(t, secretDoc, map[string]string{"TOKEN": "s3cret-0123456789ab"})
	tests := []struct {
		name string
		v    any
		want []string
	}{
		{"file", f, []string{"token: REDACTED", "max_body_bytes: 10MiB", "max_header_bytes: 1500", "idle_timeout: 2m", "shutdown_timeout: 30s", "attempts: -1", "failures: -1", "X-Price: $$5", "X-Ref: $${HOME}"}},
		{"file value", *f, []string{"token: REDACTED"}},
		{"node", f.Node, []string{"token: REDACTED", "listen: 0.0.0.0:9901"}},
		{"gateway", f.Gateway, []string{"name: u", "backoff: 25ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := yaml.Marshal(tt.v)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), "s3cret") {
				t.Errorf("output shows the token:\n%s", out)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	f := mustParse(t, secretDoc, map[string]string{"TOKEN": "s3cret-0123456789ab"})
	r := f.Redacted()
	if r.Node.Admin.Token != "REDACTED" {
		t.Errorf("redacted token = %q, want REDACTED", r.Node.Admin.Token)
	}
	if f.Node.Admin.Token != "s3cret-0123456789ab" {
		t.Errorf("Redacted changed the original token to %q", f.Node.Admin.Token)
	}
	r.Node.Admin.Token = f.Node.Admin.Token
	if !reflect.DeepEqual(r, f) {
		t.Errorf("Redacted changed more than the token:\n got %+v\nwant %+v", r, f)
	}
	r.Gateway.Routes[0].Match.Headers["X-Price"] = "changed"
	*r.Gateway.Upstreams[0].Targets[0].Weight = 7
	if f.Gateway.Routes[0].Match.Headers["X-Price"] != "$5" || *f.Gateway.Upstreams[0].Targets[0].Weight != 1 {
		t.Error("Redacted shares maps or pointers with the original")
	}
	empty := mustParse(t, "", nil).Redacted()
	if empty.Node.Admin.Token != "" {
		t.Errorf("empty token redacted to %q, want it left empty", empty.Node.Admin.Token)
	}
}

// TestMarshal_RoundTrip checks that a parsed File, written back, parses
// to the same File: units, -1 "off" values, "$" and defaults survive.
func TestMarshal_RoundTrip(t *testing.T) {
	docs := map[string]string{"secrets": secretDoc}
	for _, path := range exampleFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		docs[path] = string(data)
	}
	env := map[string]string{"TOKEN": "s3cret-0123456789ab", "PORTICO_ADMIN_TOKEN": "example-token-0123456789", "PORTICO_GOSSIP_KEY": "c2l4dGVlbiBieXRlIGtleQ=="}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			f := mustParse(t, doc, env)
			clear, err := yaml.Marshal(encodeYAML(reflect.ValueOf(f).Elem(), false))
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			again := mustParse(t, string(clear), nil)
			if !reflect.DeepEqual(again, f) {
				t.Errorf("round trip changed the file:\n got %+v\nwant %+v\nfrom:\n%s", again, f, clear)
			}
			redacted, err := yaml.Marshal(f)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			_, err = parse(t, string(redacted), nil)
			switch {
			case f.Node.Cluster != nil && f.Node.Cluster.GossipKey != "", f.Node.Admin.Token != "":
				// A redacted cluster key or admin token is not one: the
				// output must say so.
				if err == nil || !strings.Contains(err.Error(), "REDACTED") {
					t.Errorf("redacted cluster key: err = %v, want one naming REDACTED", err)
				}
			case err != nil:
				t.Errorf("redacted output doesn't parse: %v\n%s", err, redacted)
			}
		})
	}
}

func TestGateway_Digest(t *testing.T) {
	base := y(okUpstream, "routes:", "  - {name: r, upstream: u, match: {headers: {A: '1', B: '2'}}}")
	tests := []struct {
		name  string
		doc   string
		equal bool
	}{
		{"same text", base, true},
		{"formatting, order and comments", y(
			"# the same document, written differently",
			"routes:",
			"  - match:",
			"      headers: {B: '2', A: '1'}",
			"    upstream: u",
			"    name: r",
			"upstreams:",
			"  - targets:",
			"      - url: http://127.0.0.1:9000",
			"        weight: 1 # the default, written out",
			"    name: u",
			"    timeouts: {connect: 5000ms}",
			"node: {name: other-node}",
		), true},
		{"a header value differs", y(okUpstream, "routes:", "  - {name: r, upstream: u, match: {headers: {A: '1', B: '3'}}}"), false},
		{"a timeout differs", y(okUpstream, "    timeouts: {connect: 4s}", "routes:", "  - {name: r, upstream: u, match: {headers: {A: '1', B: '2'}}}"), false},
	}
	want := mustParse(t, base, nil).Gateway.Digest()
	if len(want) != 64 {
		t.Fatalf("digest %q is not hex SHA-256", want)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.doc, nil).Gateway.Digest()
			if (got == want) != tt.equal {
				t.Errorf("digest equal = %v, want %v", got == want, tt.equal)
			}
		})
	}
}

// TestCanonicalYAML checks that the digest's input is YAML that parses
// back to the same document.
func TestCanonicalYAML(t *testing.T) {
	f := mustParse(t, secretDoc, map[string]string{"TOKEN": "s3cret-0123456789ab"})
	canon := canonicalYAML(&f.Gateway)
	if !strings.HasPrefix(string(canon), `{"upstreams": [{"name": "u", `) {
		t.Errorf("canonical form = %.60s..., want flow style", canon)
	}
	g, err := testLoader(nil).gateway(testFile, canon)
	if err != nil {
		t.Fatalf("canonical form doesn't parse: %v\n%s", err, canon)
	}
	if !reflect.DeepEqual(*g, f.Gateway) {
		t.Errorf("canonical form parses to\n%+v\nwant\n%+v", *g, f.Gateway)
	}
}

func TestNewSnapshot(t *testing.T) {
	f := mustParse(t, secretDoc, map[string]string{"TOKEN": "s3cret-0123456789ab"})
	s := NewSnapshot(f, 42)
	if s.Version != 42 || s.Digest != f.Gateway.Digest() {
		t.Errorf("snapshot version, digest = %d, %s; want 42, %s", s.Version, s.Digest, f.Gateway.Digest())
	}
	if !reflect.DeepEqual(s.Node, f.Node) || !reflect.DeepEqual(s.Gateway, f.Gateway) {
		t.Error("snapshot differs from its file")
	}
	f.Gateway.Routes[0].Match.Headers["X-Price"] = "changed"
	f.Gateway.Upstreams[0].Targets[0].URL = "http://changed:1"
	*f.Gateway.Upstreams[0].Targets[0].Weight = 9
	f.Gateway.Upstreams[0].Retries.On[0] = "changed"
	g := s.Gateway
	if g.Routes[0].Match.Headers["X-Price"] != "$5" || g.Upstreams[0].Targets[0].URL != "http://a:1" ||
		*g.Upstreams[0].Targets[0].Weight != 1 || g.Upstreams[0].Retries.On[0] != "connect" {
		t.Error("snapshot shares memory with its file")
	}
	if NewSnapshot(nil, 1) == nil {
		t.Error("NewSnapshot(nil) = nil, want an empty snapshot")
	}
}
