package config

import (
	"reflect"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDuration_Human(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{250 * time.Millisecond, "250ms"},
		{30 * time.Second, "30s"},
		{time.Minute, "1m"},
		{90 * time.Second, "1m30s"},
		{2 * time.Hour, "2h"},
		{2*time.Hour + 30*time.Minute, "2h30m"},
		{time.Hour + time.Second, "1h0m1s"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			d := Duration(tt.in)
			if got := d.Human(); got != tt.want {
				t.Errorf("Human(%v) = %q, want %q", tt.in, got, tt.want)
			}
			if back, err := ParseDuration(d.Human()); err != nil || back != d {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", d.Human(), back, err, tt.in)
			}
		})
	}
}

func TestSize_String(t *testing.T) {
	tests := []struct {
		in   Size
		want string
	}{
		{0, "0"},
		{1500, "1500"},
		{1024, "1KiB"},
		{64 << 10, "64KiB"},
		{10 << 20, "10MiB"},
		{3 << 30, "3GiB"},
		{1000 * 1000, "1000000"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String(%d) = %q, want %q", int64(tt.in), got, tt.want)
			}
			if back, err := ParseSize(tt.in.String()); err != nil || back != tt.in {
				t.Errorf("ParseSize(%q) = %v, %v; want %d", tt.in.String(), back, err, int64(tt.in))
			}
		})
	}
}

func TestParseSize_Refuses(t *testing.T) {
	for _, s := range []string{"", "NaN", "Inf", "-1", "1e30GB", "10XB", "KiB"} {
		if got, err := ParseSize(s); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", s, int64(got))
		}
	}
}

// unitHolder exercises the yaml.v3 helpers of the unit types.
type unitHolder struct {
	D Duration `yaml:"d"`
	S Size     `yaml:"s"`
	R Rate     `yaml:"r"`
}

func TestUnits_YAMLHelpers(t *testing.T) {
	in := unitHolder{D: Duration(90 * time.Second), S: 10 << 20, R: Rate{Count: 100, Period: time.Second}}
	out, err := yaml.Marshal(in)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if want := "d: 1m30s\ns: 10MiB\nr: 100/s\n"; string(out) != want {
		t.Errorf("Marshal = %q, want %q", out, want)
	}
	var back unitHolder
	if err := yaml.Unmarshal(out, &back); err != nil || back != in {
		t.Errorf("Unmarshal = %+v, %v; want %+v", back, err, in)
	}
	for _, bad := range []string{"d: 5", "s: lots", "r: fast"} {
		if err := yaml.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("Unmarshal(%q) succeeded, want an error", bad)
		}
	}
}

// decoderHolder exercises decoder features the schema doesn't use yet.
type decoderHolder struct {
	Limit   Rate   `yaml:"limit"`
	Skipped string `yaml:"-"`
	Inner   struct {
		Deep string `yaml:"deep"`
	} `yaml:",inline"`
	Plain int
}

func TestDecoder_Generic(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    decoderHolder
		wantErr string
	}{
		{name: "rate, inline and default key", doc: "limit: 100/m\ndeep: x\nplain: 3\n",
			want: decoderHolder{Limit: Rate{Count: 100, Period: time.Minute}, Inner: struct {
				Deep string `yaml:"deep"`
			}{"x"}, Plain: 3}},
		{name: "bad rate", doc: "limit: fast\n", wantErr: `t.yaml:1:8: "limit": invalid rate "fast": use COUNT/PERIOD, e.g. 100/s, 1000/m, 5000/h`},
		{name: "skipped field is unknown", doc: "skipped: x\n", wantErr: `t.yaml:1:1: unknown key "skipped" in decoderHolder`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, err := parseYAML("t.yaml", []byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			var got decoderHolder
			d := &decoder{file: "t.yaml", origins: make(origins), fields: make(fieldCache)}
			d.value(root, reflect.ValueOf(&got).Elem(), slot{label: "the document", addr: &got})
			if tt.wantErr != "" {
				if len(d.errs) != 1 || d.errs[0].Error() != tt.wantErr {
					t.Errorf("errors = %v, want %q", d.errs, tt.wantErr)
				}
				return
			}
			if len(d.errs) > 0 || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decoded %+v, %v; want %+v", got, d.errs, tt.want)
			}
		})
	}
}
