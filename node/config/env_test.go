package config

import (
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	env := mapEnv(map[string]string{"HOST": "db", "EMPTY": "", "PORT": "5432", "DOLLAR": "${HOST}"})
	tests := []struct {
		name, in, want string
		subst          bool
		wantErr        string
	}{
		{name: "no reference", in: "plain", want: "plain"},
		{name: "variable", in: "${HOST}", want: "db", subst: true},
		{name: "inside text", in: "http://${HOST}:${PORT}/x", want: "http://db:5432/x", subst: true},
		{name: "default unused", in: "${HOST:-other}", want: "db", subst: true},
		{name: "default when unset", in: "${NOPE:-other}", want: "other", subst: true},
		{name: "default when empty", in: "${EMPTY:-other}", want: "other", subst: true},
		{name: "empty default", in: "a${NOPE:-}b", want: "ab", subst: true},
		{name: "empty without default", in: "a${EMPTY}b", want: "ab", subst: true},
		{name: "default is literal", in: "${NOPE:-$x:y}", want: "$x:y", subst: true},
		{name: "escaped dollar", in: "cost: $$5 and $${HOST}", want: "cost: $5 and ${HOST}", subst: true},
		{name: "lone dollar kept", in: "^a$ b$c $", want: "^a$ b$c $"},
		{name: "value not expanded again", in: "${DOLLAR}", want: "${HOST}", subst: true},
		{name: "unset", in: "x${NOPE}", wantErr: "environment variable NOPE is not set (set it, or write ${NOPE:-default})"},
		{name: "unterminated", in: "${HOST", wantErr: "unterminated variable reference: write ${NAME} (or $$ for a literal $)"},
		{name: "empty name", in: "${}", wantErr: `invalid variable reference "${}": a name is letters, digits and _, not starting with a digit`},
		{name: "bad name", in: "${A-B}", wantErr: `invalid variable reference "${A-B}": a name is letters, digits and _, not starting with a digit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, subst, err := expand(tt.in, env)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("expand(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || subst != tt.subst {
				t.Errorf("expand(%q) = %q, %v, %v; want %q, %v, nil", tt.in, got, subst, err, tt.want, tt.subst)
			}
		})
	}
	t.Run("nil env", func(t *testing.T) {
		if got, _, err := expand("${A:-x}", nil); err != nil || got != "x" {
			t.Errorf("expand with nil Env = %q, %v; want \"x\", nil", got, err)
		}
		if _, _, err := expand("${A}", nil); err == nil {
			t.Error("expand with nil Env accepted an unset variable")
		}
	})
}

// TestParse_Substitution checks where substitution happens: in scalar
// values of every type, never in keys, and never as YAML structure.
func TestParse_Substitution(t *testing.T) {
	env := map[string]string{
		"TOKEN":   "s3cret-0123456789ab",
		"BACKEND": "http://10.0.0.1:8080",
		"WEIGHT":  "3",
		"TIMEOUT": "7s",
		"INJECT":  "x\nrouting: {a: b}",
		"KEY":     "X-Injected",
	}
	doc := y(
		"node:",
		"  name: ${NODE:-edge-1}",
		`  admin: {listen: "0.0.0.0:9901", token: "${TOKEN}"}`,
		"  data_dir: ${INJECT}",
		"upstreams:",
		"  - name: u",
		"    targets: [{url: '${BACKEND}', weight: '${WEIGHT}'}]",
		"    timeouts: {connect: '${TIMEOUT}'}",
		"routes:",
		"  - name: r",
		"    upstream: u",
		`    match: {query: {"${KEY}": '$${literal}'}}`,
	)
	f := mustParse(t, doc, env)
	u := f.Gateway.Upstreams[0]
	checks := []struct{ name, got, want string }{
		{"node name default", f.Node.Name, "edge-1"},
		{"token", f.Node.Admin.Token, "s3cret-0123456789ab"},
		{"multi-line value stays a string", f.Node.DataDir, "x\nrouting: {a: b}"},
		{"target url", u.Targets[0].URL, "http://10.0.0.1:8080"},
		{"header key as written, value unescaped", f.Gateway.Routes[0].Match.Query["${KEY}"], "${literal}"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if *u.Targets[0].Weight != 3 || u.Timeouts.Connect.D() != 7*time.Second {
		t.Errorf("weight, connect = %d, %v; want 3, 7s", *u.Targets[0].Weight, u.Timeouts.Connect)
	}
}
