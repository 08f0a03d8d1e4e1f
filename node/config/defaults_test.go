package config

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParse_Defaults(t *testing.T) {
	doc := y(
		"upstreams:",
		"  - name: u",
		`    targets: [{url: "http://a:1"}, {url: "http://b:1", weight: 0}]`,
		"    timeouts: {response_header: 3s, total: 1m}",
		"routes:",
		"  - {name: r, upstream: u}",
		"  - {name: s, upstream: u, match: {paths: [/s]}, timeouts: {connect: 1s}}",
	)
	one, zero := 1, 0
	upstreamTimeouts := Timeouts{Connect: Duration(5 * time.Second), ResponseHeader: Duration(3 * time.Second), Total: Duration(time.Minute)}
	minRate := Size(240)
	want := &File{
		Node: Node{
			Name:      "test-host",
			DataDir:   "./data",
			Listen:    ":8080",
			Admin:     Admin{Listen: "127.0.0.1:9901"},
			AccessLog: AccessLog{Output: "stdout", Sample: 1},
			Log:       Log{Level: "info", Format: "text"},
			Server: Server{
				ReadHeaderTimeout:    Duration(10 * time.Second),
				IdleTimeout:          Duration(120 * time.Second),
				MaxHeaderBytes:       64 << 10,
				MaxBodyBytes:         10 << 20,
				MinBodyRate:          &minRate,
				MinBodyRateGrace:     Duration(5 * time.Second),
				MaxConns:             10000,
				MaxConnsPerIP:        256,
				TLSHandshakeTimeout:  Duration(10 * time.Second),
				MaxConcurrentStreams: 250,
				MaxResetsPerSecond:   500,
			},
			Cache: NodeCache{MaxBytes: 256 << 20, NearMaxBytes: 32 << 20,
				NearTTL: Duration(5 * time.Second), PeerTimeout: Duration(2 * time.Second)},
			Limiter:         NodeLimiter{DecisionTimeout: Duration(250 * time.Millisecond)},
			ShutdownTimeout: Duration(30 * time.Second),
			Region:          "default",
		},
		Gateway: Gateway{
			Upstreams: []Upstream{{
				Name:     "u",
				Targets:  []Target{{URL: "http://a:1", Weight: &one}, {URL: "http://b:1", Weight: &zero}},
				Balance:  "round_robin",
				Protocol: "http1",
				Timeouts: upstreamTimeouts,
				Retries: Retries{Attempts: 2, Backoff: Duration(25 * time.Millisecond), Budget: 0.2,
					On: []string{"connect"}},
				Health: Health{
					Passive: PassiveHealth{Failures: 5, Cooldown: Duration(10 * time.Second),
						On: []string{"connect", "timeout"}},
					Active: ActiveHealth{Interval: Duration(5 * time.Second), Timeout: Duration(2 * time.Second),
						Healthy: 2, Unhealthy: 3},
				},
				CircuitBreaker: CircuitBreaker{MinRequests: 20, Window: Duration(10 * time.Second),
					OpenFor: Duration(30 * time.Second)},
				MaxIdleConnsPerTarget: 256,
			}},
			Routes: []Route{
				{Name: "r", Upstream: "u", Match: Match{Paths: []string{"/*"}}, Timeouts: upstreamTimeouts,
					Upgrades: []string{"websocket"}},
				{Name: "s", Upstream: "u", Match: Match{Paths: []string{"/s"}}, Timeouts: Timeouts{
					Connect: Duration(time.Second), ResponseHeader: Duration(3 * time.Second), Total: Duration(time.Minute)},
					Upgrades: []string{"websocket"}},
			},
		},
	}
	got := mustParse(t, doc, nil)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaulted file:\n got %+v\nwant %+v", got, want)
	}
}

func TestParse_DefaultsOff(t *testing.T) {
	f := mustParse(t, upstreamDoc("retries: {attempts: -1}", "health: {passive: {failures: -1}}"), nil)
	u := f.Gateway.Upstreams[0]
	if u.Retries.Attempts != 0 || u.Health.Passive.Failures != 0 {
		t.Errorf("attempts, failures = %d, %d; want 0, 0 (off)", u.Retries.Attempts, u.Health.Passive.Failures)
	}
	// -1 becomes enabled: false, so that the off switch does not read as
	// "unset" (0) to the proxy, which would apply the defaults.
	if e, p := u.Retries.Enabled, u.Health.Passive.Enabled; e == nil || *e || p == nil || *p {
		t.Errorf("retries.enabled, health.passive.enabled = %v, %v; want false, false", e, p)
	}
	f = mustParse(t, upstreamDoc("retries: {enabled: false}", "health: {passive: {enabled: false}}"), nil)
	if u := f.Gateway.Upstreams[0]; *u.Retries.Enabled || *u.Health.Passive.Enabled {
		t.Errorf("enabled: false did not stick: %+v", u)
	}
	f = mustParse(t, upstreamDoc("retries: {attempts: 5}", "health: {passive: {failures: 1}}"), nil)
	u = f.Gateway.Upstreams[0]
	if u.Retries.Attempts != 5 || u.Health.Passive.Failures != 1 {
		t.Errorf("attempts, failures = %d, %d; want 5, 1 as written", u.Retries.Attempts, u.Health.Passive.Failures)
	}
}

func TestParse_NodeNameFallback(t *testing.T) {
	l := loader{hostname: func() (string, error) { return "", errors.New("no host name") }}
	f, err := l.file(testFile, nil)
	if err != nil {
		t.Fatalf("Parse(empty): %v", err)
	}
	if f.Node.Name != fallbackNodeName {
		t.Errorf("node name = %q, want %q", f.Node.Name, fallbackNodeName)
	}
}
