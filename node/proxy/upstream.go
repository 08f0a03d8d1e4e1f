package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/portico-gw/portico/node/config"
)

// Defaults for zero config fields. node/config applies the same defaults;
// they are repeated here so that a hand-built config behaves as documented.
const (
	defaultConnect        = 5 * time.Second
	defaultResponseHeader = 30 * time.Second
	defaultMaxIdle        = 256
	defaultAttempts       = 2
	defaultBackoff        = 25 * time.Millisecond
	defaultBudget         = 0.2
	defaultPassive        = 5
	defaultCooldown       = 10 * time.Second
)

// Upstream is a pool of targets with its balancer, health state, retry
// budget and transport. It is safe for concurrent use; build Handlers on
// it with NewHandler. Start launches active health checks; Close stops
// them.
type Upstream struct {
	name      string
	targets   []*target
	balance   balanceKind
	hashOn    hashOn
	equalW    bool // every target has the same weight (rendezvous shortcut)
	rr        roundRobin
	lc        leastConn
	sw        smoothWeighted
	protocol  protocol
	dialer    *dialer
	transport *http.Transport // TCP: http1, h2, h2c; nil for h3
	h3        *h3Transport    // QUIC: h3; else nil
	upgrade   *http.Transport // HTTP/1.1 for upgrades when protocol is h2, h2c or h3, else nil
	timeouts  config.Timeouts // the upstream's, with defaults
	retry     retryPolicy
	budget    *retryBudget // nil when retries are off
	passive   passivePolicy
	active    activePolicy
	opts      Options
	buffers   *bufferPool

	mu      sync.Mutex
	started bool
	closed  bool
	stop    context.CancelFunc // stops the health checkers
	ctx     context.Context    // their context
	wg      sync.WaitGroup
}

// NewUpstream builds an upstream from its validated config. It starts no
// goroutine: call Start for active health checks and Close when done.
func NewUpstream(cfg config.Upstream, o Options) (*Upstream, error) {
	o = o.withDefaults()
	u := &Upstream{name: cfg.Name, opts: o, buffers: newBufferPool()}
	var err error
	if u.balance, err = parseBalance(cfg.Balance); err != nil {
		return nil, fmt.Errorf("building upstream %q: %w", cfg.Name, err)
	}
	if u.balance == balanceHash {
		if u.hashOn, err = parseHashOn(cfg.HashOn); err != nil {
			return nil, fmt.Errorf("building upstream %q: %w", cfg.Name, err)
		}
	}
	if u.protocol, err = parseProtocol(cfg.Protocol); err != nil {
		return nil, fmt.Errorf("building upstream %q: %w", cfg.Name, err)
	}
	if u.retry, err = newRetryPolicy(cfg.Retries); err != nil {
		return nil, fmt.Errorf("building upstream %q: %w", cfg.Name, err)
	}
	if u.retry.attempts > 0 {
		u.budget = newRetryBudget(cfg.Retries.Budget)
		if cfg.Retries.Budget == 0 {
			u.budget.ratio = defaultBudget
		}
	}
	if err := u.buildTargets(cfg); err != nil {
		return nil, fmt.Errorf("building upstream %q: %w", cfg.Name, err)
	}
	u.timeouts = inheritTimeouts(cfg.Timeouts, config.Timeouts{
		Connect: config.Duration(defaultConnect), ResponseHeader: config.Duration(defaultResponseHeader)})
	if u.passive, err = newPassivePolicy(cfg.Health.Passive); err != nil {
		return nil, fmt.Errorf("building upstream %q: %w", cfg.Name, err)
	}
	u.active = newActivePolicy(cfg.Health.Active)
	u.buildTransports(cfg)
	u.ctx, u.stop = context.WithCancel(context.Background())
	return u, nil
}

func (u *Upstream) buildTargets(cfg config.Upstream) error {
	if len(cfg.Targets) == 0 {
		return fmt.Errorf("no targets: list at least one url")
	}
	u.equalW = true
	for i, tc := range cfg.Targets {
		p, err := url.Parse(tc.URL)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("target %q: want http://host:port or https://host:port", tc.URL)
		}
		if u.protocol.needsTLS() && p.Scheme != "https" {
			return fmt.Errorf("target %q: protocol %s needs TLS: use https:// or protocol http1", tc.URL, u.protocol)
		}
		w := int64(1)
		if tc.Weight != nil {
			w = int64(*tc.Weight)
		}
		if w < 0 {
			return fmt.Errorf("target %q: weight %d is negative", tc.URL, w)
		}
		t := newTarget(i, tc.URL, p, w)
		t.breaker = newBreaker(cfg.CircuitBreaker)
		if i > 0 && w != u.targets[0].weight {
			u.equalW = false
		}
		u.targets = append(u.targets, t)
	}
	u.sw.current = make([]int64, len(u.targets))
	return nil
}

// buildTransports builds the transports of u.protocol: one TCP transport
// (http1, h2, h2c) or the QUIC one (h3), plus an HTTP/1.1 one for
// upgrades when the protocol has no Upgrade (h2, h2c, h3).
func (u *Upstream) buildTransports(cfg config.Upstream) {
	tc := transportConfig{
		connect:      u.timeouts.Connect.D(),
		maxIdle:      cfg.MaxIdleConnsPerTarget,
		maxConns:     cfg.MaxConnsPerTarget,
		protocol:     u.protocol,
		tlsConfig:    u.opts.TLSClientConfig,
		sharedDialer: &dialer{connect: u.timeouts.Connect.D()},
	}
	tc.sharedDialer.net.KeepAlive = 30 * time.Second
	u.dialer = tc.sharedDialer
	if tc.maxIdle <= 0 {
		tc.maxIdle = defaultMaxIdle
	}
	switch u.protocol {
	case protoH3:
		u.h3 = newH3Transport(tc.connect, tc.tlsConfig)
	case protoH2:
		tc.sharedDialer.h2TLS = h2TLSConfig(tc.tlsConfig)
		fallthrough
	default:
		u.transport = newTransport(tc)
	}
	if u.protocol != protoHTTP1 {
		// HTTP/2 and HTTP/3 have no Upgrade; WebSockets use HTTP/1.1 (over
		// TLS on TCP for h2 and h3, to the same host and port).
		tc.forceHTTP1 = true
		u.upgrade = newTransport(tc)
	}
}

// h2TLSConfig is the TLS config of protocol h2's handshakes: base (nil:
// system roots) offering h2, and http/1.1 so that a target without HTTP/2
// completes the handshake and can be told apart from a broken one.
func h2TLSConfig(base *tls.Config) *tls.Config {
	c := &tls.Config{}
	if base != nil {
		c = base.Clone()
	}
	c.NextProtos = []string{"h2", "http/1.1"}
	return c
}

// inheritTimeouts fills the zero fields of t from parent.
func inheritTimeouts(t, parent config.Timeouts) config.Timeouts {
	if t.Connect == 0 {
		t.Connect = parent.Connect
	}
	if t.ResponseHeader == 0 {
		t.ResponseHeader = parent.ResponseHeader
	}
	if t.Total == 0 {
		t.Total = parent.Total
	}
	return t
}

// newPassivePolicy reads c like newRetryPolicy reads retries: enabled:
// false or failures -1 turn passive checks off, a zero failures is the
// default, and connect failures and timeouts count by default.
func newPassivePolicy(c config.PassiveHealth) (passivePolicy, error) {
	p := passivePolicy{failures: int64(c.Failures), cooldown: c.Cooldown.D()}
	switch {
	case (c.Enabled != nil && !*c.Enabled) || p.failures < 0:
		p.failures = 0
	case p.failures == 0:
		p.failures = defaultPassive
	}
	if p.cooldown <= 0 {
		p.cooldown = defaultCooldown
	}
	if len(c.On) == 0 {
		p.onConnect, p.onTimeout = true, true
	}
	for _, on := range c.On {
		switch on {
		case "connect":
			p.onConnect = true
		case "timeout":
			p.onTimeout = true
		case "5xx":
			p.on5xx = true
		default:
			return p, fmt.Errorf("unknown health.passive.on %q: use connect, timeout or 5xx", on)
		}
	}
	return p, nil
}

// lastAvailable reports whether no target of u but t is available at now
// (t nil: whether none is): passive health then keeps t in.
func (u *Upstream) lastAvailable(t *target, now int64) bool {
	for _, o := range u.targets {
		if o != t && o.available(now, false) {
			return false
		}
	}
	return true
}

// Name returns the upstream's name.
func (u *Upstream) Name() string { return u.name }

// pick chooses a target for one try, skipping those in tried, and commits
// to it (reserving the half-open probe of its breaker if it has one).
// probe says whether the try is that probe; the caller reports its outcome.
//
// When passive ejection left no target (targets failing together may eject
// each other at once), the ejected ones are picked anyway: the last
// targets of an upstream are always tried (nginx's rule). Active health,
// weight 0 and an open breaker still keep a target out.
func (u *Upstream) pick(r *http.Request, tried *targetSet, now time.Time) (t *target, probe bool, err error) {
	ps := pickState{now: now.UnixNano(), tried: tried}
	// A breaker may refuse at commit time (another request took the
	// half-open probe): exclude it and pick again, at most once per target.
	for range len(u.targets) {
		if t = u.choose(r, &ps); t == nil && !ps.anyway && u.passive.failures > 0 && u.lastAvailable(nil, ps.now) {
			ps.anyway = true
			t = u.choose(r, &ps)
		}
		if t == nil {
			break
		}
		if t.breaker == nil {
			return t, false, nil
		}
		if probe, ok := t.breaker.acquire(ps.now); ok {
			return t, probe, nil
		}
		tried.add(t.index)
	}
	return nil, false, fmt.Errorf("picking a target of upstream %q: %w", u.name, ErrNoHealthyTarget)
}

func (u *Upstream) choose(r *http.Request, ps *pickState) *target {
	switch u.balance {
	case balanceLeastConn:
		return u.lc.pick(u.targets, ps)
	case balanceWeighted:
		return u.sw.pick(u.targets, ps)
	case balanceRandom:
		return pickRandom(u.targets, ps, u.opts.Rand())
	case balanceHash:
		if key, ok := hashKey(r, u.hashOn, u.opts.TrustedProxies); ok {
			return pickRendezvous(u.targets, ps, key, u.equalW)
		}
	}
	return u.rr.pick(u.targets, ps)
}

// transportFor returns the transport for one outbound request.
func (u *Upstream) transportFor(r *http.Request) http.RoundTripper {
	if u.upgrade != nil && r.Header.Get("Upgrade") != "" {
		return u.upgrade
	}
	return u.roundTripper()
}

// roundTripper is the transport of u's protocol.
func (u *Upstream) roundTripper() http.RoundTripper {
	if u.h3 != nil {
		return u.h3
	}
	return u.transport
}

// begin counts a try on t in flight, until end.
func (u *Upstream) begin(t *target) {
	t.inflight.Add(1)
	if u.h3 != nil {
		u.h3.begin()
	}
}

func (u *Upstream) end(t *target) {
	t.inflight.Add(-1)
	if u.h3 != nil {
		u.h3.end()
	}
}

// TargetStatus is a snapshot of one target's state.
type TargetStatus struct {
	// URL is the target's configured URL.
	URL string
	// Weight is its configured weight (0: draining).
	Weight int
	// Healthy is the active health verdict (true when active checks are
	// off or have not failed yet).
	Healthy bool
	// EjectedUntil is when passive ejection ends; zero when not ejected.
	EjectedUntil time.Time
	// Breaker is BreakerClosed, BreakerOpen or BreakerHalfOpen
	// (BreakerClosed when circuit breaking is off).
	Breaker string
	// InFlight counts attempts sent to the target and not yet finished,
	// response body (or upgraded connection) included.
	InFlight int64
}

// Targets returns the state of every target, in config order.
func (u *Upstream) Targets() []TargetStatus {
	now := u.opts.Now().UnixNano()
	out := make([]TargetStatus, len(u.targets))
	for i, t := range u.targets {
		s := TargetStatus{URL: t.raw, Weight: int(t.weight), Healthy: t.healthy.Load(),
			Breaker: t.breaker.state(now), InFlight: t.inflight.Load()}
		if until := t.ejectedUntil.Load(); until > now {
			s.EjectedUntil = time.Unix(0, until)
		}
		out[i] = s
	}
	return out
}
