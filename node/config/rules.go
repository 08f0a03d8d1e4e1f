package config

import (
	"fmt"
	"reflect"
)

// This file is the one table of per-field rules that the decoder, the
// validator, the marshaller and the JSON Schema generator share, so that an
// enum or a bound is written once. Fields are named "Type.Field" after the
// Go names in types.go.

// fieldID names a field as "Type.Field".
func fieldID(owner reflect.Type, field string) string { return owner.Name() + "." + field }

// enumOf returns the values a string field (or each item of a []string
// field) may take, or nil when any string goes.
func enumOf(id string) []string {
	switch id {
	case "Upstream.Balance":
		return []string{"round_robin", "least_conn", "weighted", "hash", "random"}
	case "Upstream.Protocol":
		return []string{"http1", "h2", "h2c", "h3"}
	case "Retries.On":
		return []string{"connect", "5xx"}
	case "PassiveHealth.On":
		return []string{"connect", "timeout", "5xx"}
	case "Log.Level":
		return []string{"debug", "info", "warn", "error"}
	case "Log.Format":
		return []string{"text", "json"}
	case "RateLimit.Scope":
		return []string{"global", "local"}
	case "RateLimit.Mode":
		return []string{"async", "strict"}
	case "Quota.Per":
		return []string{"day", "week", "month"}
	case "RouteCache.Scope":
		return []string{"region", "cluster", "node"}
	case "TLS.MinVersion":
		return []string{"1.2", "1.3"}
	case "Cluster.Profile":
		return []string{"lan", "wan"}
	}
	return nil
}

// minOf returns the smallest value an integer field accepts. Counts and
// caps can't be negative; -1 means "off" where the field says so; a
// priority is any integer.
func minOf(id string) (min int64, bounded bool) {
	switch id {
	case "Route.Priority":
		return 0, false
	case "Retries.Attempts", "PassiveHealth.Failures",
		"Server.MaxConns", "Server.MaxConnsPerIP", "Server.MaxResetsPerSecond", "HTTP3.RetryAboveHandshakes":
		return -1, true
	}
	return 0, true
}

// offWhenZero reports whether a zero in a defaulted File means "off" for
// this field (its -1 was turned into 0 by the defaults), so that marshalling
// writes -1 back and the output parses to the same File.
func offWhenZero(id string) bool {
	return id == "Retries.Attempts" || id == "PassiveHealth.Failures"
}

// fraction is the range of a float field.
type fraction struct {
	lo, hi      float64
	loExclusive bool
}

// fractionOf returns the range of a float field. It applies to values
// written in the document, so an explicit 0 for sample (which would
// otherwise silently become the default 1) is refused.
func fractionOf(id string) (fraction, bool) {
	switch id {
	case "AccessLog.Sample":
		return fraction{lo: 0, hi: 1, loExclusive: true}, true
	case "Retries.Budget", "CircuitBreaker.ErrorRatio":
		return fraction{lo: 0, hi: 1}, true
	}
	return fraction{}, false
}

// contains reports whether x is in r.
func (r fraction) contains(x float64) bool {
	return (x > r.lo || !r.loExclusive && x == r.lo) && x <= r.hi
}

// String writes r as an interval: "(0, 1]".
func (r fraction) String() string {
	open := "["
	if r.loExclusive {
		open = "("
	}
	return fmt.Sprintf("%s%g, %g]", open, r.lo, r.hi)
}

// isRequired reports whether a field must be set in the document.
func isRequired(id string) bool {
	switch id {
	case "Upstream.Name", "Upstream.Targets", "Target.URL", "Route.Name", "Route.Upstream",
		"CORS.AllowOrigins":
		return true
	}
	return false
}

// contextOf names where a struct's keys sit, for messages such as
// `unknown key "x" in route`.
func contextOf(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[File](), reflect.TypeFor[Gateway]():
		return "at the top level"
	case reflect.TypeFor[Node]():
		return "in node"
	case reflect.TypeFor[Admin]():
		return "in node.admin"
	case reflect.TypeFor[AccessLog]():
		return "in node.access_log"
	case reflect.TypeFor[Log]():
		return "in node.log"
	case reflect.TypeFor[Server]():
		return "in node.server"
	case reflect.TypeFor[PassiveHealth]():
		return "in health.passive"
	case reflect.TypeFor[ActiveHealth]():
		return "in health.active"
	case reflect.TypeFor[CircuitBreaker]():
		return "in circuit_breaker"
	case reflect.TypeFor[Upstream]():
		return "in upstream"
	case reflect.TypeFor[Target]():
		return "in target"
	case reflect.TypeFor[Timeouts]():
		return "in timeouts"
	case reflect.TypeFor[Retries]():
		return "in retries"
	case reflect.TypeFor[Health]():
		return "in health"
	case reflect.TypeFor[Route]():
		return "in route"
	case reflect.TypeFor[Match]():
		return "in match"
	case reflect.TypeFor[CORS]():
		return "in cors"
	case reflect.TypeFor[Auth]():
		return "in auth"
	case reflect.TypeFor[APIKeyAuth]():
		return "in auth.api_key"
	case reflect.TypeFor[UpstreamHeaders]():
		return "in auth.upstream_headers"
	}
	return "in " + lowerFirst(t.Name())
}

func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}
