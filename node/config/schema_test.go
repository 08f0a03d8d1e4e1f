package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const schemaFile = "portico.schema.json"

// TestJSONSchemaUpToDate fails when portico.schema.json is not what
// JSONSchema generates. UPDATE_SCHEMA=1 (or go generate) rewrites it.
func TestJSONSchemaUpToDate(t *testing.T) {
	got, err := JSONSchema()
	if err != nil {
		t.Fatalf("JSONSchema: %v", err)
	}
	if os.Getenv("UPDATE_SCHEMA") == "1" {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatalf("writing %s: %v", schemaFile, err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("reading %s: %v (run go generate ./node/config)", schemaFile, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run `go generate ./node/config` (or UPDATE_SCHEMA=1 go test -run TestJSONSchemaUpToDate ./node/config)", schemaFile)
	}
}

// compileSchema compiles the generated schema.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := JSONSchema()
	if err != nil {
		t.Fatalf("JSONSchema: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaFile, doc); err != nil {
		t.Fatalf("adding schema: %v", err)
	}
	s, err := c.Compile(schemaFile)
	if err != nil {
		t.Fatalf("compiling schema: %v", err)
	}
	return s
}

// yamlAsJSON converts a YAML document to the value a JSON Schema
// validator takes, the way an editor's YAML support does.
func yamlAsJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("yaml to json: %v", err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	return out
}

func TestJSONSchema_Rejects(t *testing.T) {
	s := compileSchema(t)
	tests := []struct {
		name, doc, want string
	}{
		{"unknown key", y(okUpstream, "routs: []"), "routs"},
		{"bad enum", upstreamDoc("balance: fastest"), "balance"},
		{"bad duration", y("node:", "  shutdown_timeout: 30"), "shutdown_timeout"},
		{"negative count", upstreamDoc("max_conns_per_target: -1"), "max_conns_per_target"},
		{"attempts below -1", upstreamDoc("retries: {attempts: -2}"), "attempts"},
		{"sample out of range", y("node:", "  access_log: {sample: 0}"), "sample"},
		{"missing required", y("upstreams:", "  - name: u"), "targets"},
		{"bad hash_on", upstreamDoc("hash_on: ip"), "hash_on"},
		{"bad size", y("node:", "  server: {max_body_bytes: 10XB}"), "max_body_bytes"},
		{"cors unknown key", routeDoc("cors: {allow_origins: [\"*\"], allow_origin: x}"), "allow_origin"},
		{"cors without origins", routeDoc("cors: {max_age: 10m}"), "allow_origins"},
		{"cors max_age a number", routeDoc("cors: {allow_origins: [\"*\"], max_age: 600}"), "max_age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Validate(yamlAsJSON(t, []byte(tt.doc)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

func TestJSONSchema_Accepts(t *testing.T) {
	s := compileSchema(t)
	docs := []string{
		upstreamDoc("retries: {attempts: -1, backoff: 1m30s}", "hash_on: header:X-Id", "max_conns_per_target: ${MAX}"),
		y("node:", "  server: {max_body_bytes: 1048576, max_header_bytes: 64KiB, idle_timeout: 0}", "  access_log: {sample: 1}"),
		routeDoc("cors:", "  allow_origins: [\"https://*.example.com\"]", "  allow_methods: [GET, PUT]", "  allow_headers: [\"*\"]",
			"  expose_headers: [X-Request-Id]", "  allow_credentials: true", "  max_age: 10m"),
	}
	for _, doc := range docs {
		if err := s.Validate(yamlAsJSON(t, []byte(doc))); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", doc, err)
		}
	}
}

// exampleEnv defines the variables the examples use.
var exampleEnv = map[string]string{"PORTICO_ADMIN_TOKEN": "example-token-0123456789", "PORTICO_GOSSIP_KEY": "c2l4dGVlbiBieXRlIGtleQ=="}

func exampleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"admin-and-logs", "balancing", "cluster-node1", "cluster-node2", "cluster-node3", "cors", "minimal", "resilience", "rewrite", "routing"}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".yaml"))
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(names, " "), w) {
			t.Errorf("examples/%s.yaml is missing (have %v)", w, names)
		}
	}
	return files
}

// TestExamples loads every example and checks it against the schema.
func TestExamples(t *testing.T) {
	s := compileSchema(t)
	for _, path := range exampleFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			if _, err := Load(path, mapEnv(exampleEnv)); err != nil {
				t.Errorf("Load:\n%v", err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(yamlAsJSON(t, data)); err != nil {
				t.Errorf("schema validation:\n%v", err)
			}
		})
	}
}
