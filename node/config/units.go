package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in Go syntax ("30s", "1m30s",
// "250ms"). Negative durations are refused.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d the way it is written in a file.
func (d Duration) String() string { return time.Duration(d).String() }

// ParseDuration parses a human duration such as "30s".
func ParseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a number with a unit, e.g. 500ms, 30s, 5m", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return Duration(v), nil
}

// Size is a byte count written with an optional unit: "512", "64KiB",
// "1MiB", "2GiB" (powers of 1024) or "10KB", "1MB", "1GB" (powers of 1000).
type Size int64

// Bytes returns s as an int64 byte count.
func (s Size) Bytes() int64 { return int64(s) }

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// ParseSize parses a human byte size such as "1MiB".
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(n) || n < 0 || n*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("invalid size %q: use bytes or a unit, e.g. 512, 64KiB, 10MiB, 1GB", s)
	}
	return Size(n * float64(mult)), nil
}

// Rate is a count per period written "100/s", "1000/m", "5000/h",
// "100000/d". Used by rate limits and quotas.
type Rate struct {
	Count  int64
	Period time.Duration
}

// String formats r the way it is written in a file.
func (r Rate) String() string {
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h", 24 * time.Hour: "d"}[r.Period]
	if unit == "" {
		unit = r.Period.String()
	}
	return fmt.Sprintf("%d/%s", r.Count, unit)
}

// ParseRate parses "100/s" and the like. The period may be s, m, h, d
// (also sec, min, hour, day) or a Go duration ("100/10s").
func ParseRate(s string) (Rate, error) {
	bad := fmt.Errorf("invalid rate %q: use COUNT/PERIOD, e.g. 100/s, 1000/m, 5000/h", s)
	num, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, bad
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 {
		return Rate{}, bad
	}
	var p time.Duration
	switch strings.TrimSpace(per) {
	case "s", "sec", "second":
		p = time.Second
	case "m", "min", "minute":
		p = time.Minute
	case "h", "hour":
		p = time.Hour
	case "d", "day":
		p = 24 * time.Hour
	default:
		p, err = time.ParseDuration(strings.TrimSpace(per))
		if err != nil || p <= 0 {
			return Rate{}, bad
		}
	}
	return Rate{Count: n, Period: p}, nil
}

// Human formats d the short way a person writes it: "30s", "1m30s", "2h"
// rather than time.Duration's "2h0m0s". ParseDuration reads it back
// exactly.
func (d Duration) Human() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// String formats s with the largest binary unit that divides it exactly
// ("10MiB", "64KiB", "1500"), so ParseSize reads it back exactly.
func (s Size) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s != 0 && int64(s)%u.mult == 0 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// MarshalYAML writes d in human form ("30s").
func (d Duration) MarshalYAML() (any, error) { return d.Human(), nil }

// UnmarshalYAML reads a human duration, for code that decodes these types
// with yaml.Unmarshal; Parse has its own stricter decoder.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes s in human form ("10MiB").
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML reads a human size ("64KiB").
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalYAML writes r in human form ("100/s").
func (r Rate) MarshalYAML() (any, error) { return r.String(), nil }

// UnmarshalYAML reads a human rate ("100/s").
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseRate(n.Value)
	if err != nil {
		return err
	}
	*r = v
	return nil
}
