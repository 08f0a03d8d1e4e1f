package config

import "time"

// This file is the one place defaults are applied: after decoding, before
// validation. Each default is the one documented on its field in types.go.
// Defaults run once per decoded document (Parse does it): they turn the
// "off" value -1 of retries.attempts and health.passive.failures into 0, so
// running them twice would read that 0 as "unset".

// fallbackNodeName names the node when the host name can't be read.
const fallbackNodeName = "portico"

// applyDefaults fills the zero fields of f. hostname names the node when
// node.name is empty (os.Hostname in production).
func (f *File) applyDefaults(hostname func() (string, error)) {
	f.Node.applyDefaults(hostname)
	f.Gateway.applyDefaults()
}

func (n *Node) applyDefaults(hostname func() (string, error)) {
	if n.Name == "" {
		n.Name = fallbackNodeName
		if h, err := hostname(); err == nil && h != "" {
			n.Name = h
		}
	}
	setString(&n.DataDir, "./data")
	setString(&n.Listen, ":8080")
	setString(&n.Admin.Listen, "127.0.0.1:9901")
	setString(&n.AccessLog.Output, "stdout")
	if n.AccessLog.Sample == 0 {
		n.AccessLog.Sample = 1
	}
	setString(&n.Log.Level, "info")
	setString(&n.Log.Format, "text")
	setDuration(&n.Server.ReadHeaderTimeout, 10*time.Second)
	setDuration(&n.Server.IdleTimeout, 120*time.Second)
	setSize(&n.Server.MaxHeaderBytes, 64<<10)
	setSize(&n.Server.MaxBodyBytes, 10<<20)
	if n.Server.MinBodyRate == nil {
		r := Size(240)
		n.Server.MinBodyRate = &r
	}
	setDuration(&n.Server.MinBodyRateGrace, 5*time.Second)
	setInt(&n.Server.MaxConns, 10000)
	setInt(&n.Server.MaxConnsPerIP, 256)
	setDuration(&n.Server.TLSHandshakeTimeout, 10*time.Second)
	setInt(&n.Server.MaxConcurrentStreams, 250)
	setInt(&n.Server.MaxResetsPerSecond, 500)
	if t := n.TLS; t != nil {
		t.applyDefaults()
	}
	if l := n.Server.IPRateLimit; l != nil {
		if l.Burst == 0 {
			l.Burst = 2 * int(l.Rate.Count)
		}
		setInt(&l.MaxAddresses, 65536)
	}
	setSize(&n.Cache.MaxBytes, 256<<20)
	setSize(&n.Cache.NearMaxBytes, 32<<20)
	setDuration(&n.Cache.NearTTL, 5*time.Second)
	setDuration(&n.Cache.PeerTimeout, 2*time.Second)
	setDuration(&n.Limiter.DecisionTimeout, 250*time.Millisecond)
	setDuration(&n.ShutdownTimeout, 30*time.Second)
	setString(&n.Region, "default")
	if c := n.Cluster; c != nil {
		setString(&c.Gossip.Bind, ":7946")
		setString(&c.Raft.Bind, ":7947")
		setString(&c.Peer.Bind, ":7948")
		if c.Voters == 0 {
			c.Voters = 3
		}
		setDuration(&c.DeadServerTimeout, 30*time.Minute)
		setString(&c.Profile, "lan")
		if c.Server == nil {
			t := true
			c.Server = &t
		}
	}
}

func (t *TLS) applyDefaults() {
	setString(&t.Listen, ":8443")
	setString(&t.MinVersion, "1.2")
	h := &t.HTTP3
	setBool(&h.Enabled, true)
	setBool(&h.ZeroRTT, true)
	setInt(&h.MaxStreams, 100)
	setDuration(&h.IdleTimeout, 30*time.Second)
	setSize(&h.StreamReceiveWindow, 6<<20)
	setSize(&h.ConnectionReceiveWindow, 15<<20)
	setDuration(&h.AltSvcMaxAge, 24*time.Hour)
	setInt(&h.RetryAboveHandshakes, 64)
}

func (g *Gateway) applyDefaults() {
	for i := range g.Upstreams {
		g.Upstreams[i].applyDefaults()
	}
	for i := range g.Routes {
		r := &g.Routes[i]
		if len(r.Match.Paths) == 0 {
			r.Match.Paths = []string{"/*"}
		}
		// A route's zero timeouts inherit its upstream's; when the upstream
		// is missing (a validation error) the global defaults still make
		// the route's Timeouts complete.
		if u := g.upstream(r.Upstream); u != nil {
			r.Timeouts.inherit(u.Timeouts)
		}
		r.Timeouts.applyDefaults()
		if c := r.Cache; c != nil {
			c.applyDefaults()
		}
		if a := r.Auth; a != nil {
			a.applyDefaults()
		}
		if c := r.CORS; c != nil {
			c.applyDefaults(r)
		}
		limitDefaults(r.RateLimits, "client_ip")
		upgradeDefaults(&r.Upgrades)
	}
	for i := range g.Consumers {
		limitDefaults(g.Consumers[i].RateLimits, "consumer")
	}
	for i := range g.ConsumerGroups {
		limitDefaults(g.ConsumerGroups[i].RateLimits, "consumer")
	}
	for i := range g.Plans {
		p := &g.Plans[i]
		limitDefaults(p.RateLimits, "consumer")
		if p.Quota != nil {
			setString(&p.Quota.Per, "month")
		}
	}
}

// upstream returns the first upstream called name, or nil.
func (g *Gateway) upstream(name string) *Upstream {
	for i := range g.Upstreams {
		if g.Upstreams[i].Name == name {
			return &g.Upstreams[i]
		}
	}
	return nil
}

// limitDefaults fills rate limits: name from the rate, burst of one
// period's count, global async scope, and by.
func limitDefaults(ls []RateLimit, by string) {
	for i := range ls {
		l := &ls[i]
		if l.Name == "" && l.Rate.Count > 0 {
			l.Name = l.Rate.String()
		}
		if l.Burst == 0 {
			l.Burst = int(l.Rate.Count)
		}
		setString(&l.Scope, "global")
		setString(&l.Mode, "async")
		if len(l.By) == 0 {
			l.By = []string{by}
		}
	}
}

func (c *RouteCache) applyDefaults() {
	if len(c.Methods) == 0 {
		c.Methods = []string{"GET", "HEAD"}
	}
	if len(c.Statuses) == 0 {
		c.Statuses = []int{200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}
	}
	setSize(&c.MaxObjectSize, 8<<20)
	setString(&c.Scope, "region")
	if len(c.TagHeaders) == 0 {
		c.TagHeaders = []string{"Surrogate-Key", "Cache-Tag"}
	}
}

func (u *Upstream) applyDefaults() {
	setString(&u.Balance, "round_robin")
	setString(&u.Protocol, "http1")
	u.Timeouts.applyDefaults()
	u.Retries.applyDefaults()
	u.Health.applyDefaults()
	u.CircuitBreaker.applyDefaults()
	setInt(&u.MaxIdleConnsPerTarget, 256)
	for i := range u.Targets {
		if u.Targets[i].Weight == nil {
			one := 1
			u.Targets[i].Weight = &one
		}
	}
}

func (t *Timeouts) applyDefaults() {
	setDuration(&t.Connect, 5*time.Second)
	setDuration(&t.ResponseHeader, 30*time.Second)
	// Total stays 0: no limit, so streams and WebSockets live on.
}

// inherit fills t's zero fields from parent.
func (t *Timeouts) inherit(parent Timeouts) {
	setDuration(&t.Connect, parent.Connect.D())
	setDuration(&t.ResponseHeader, parent.ResponseHeader.D())
	setDuration(&t.Total, parent.Total.D())
}

func (r *Retries) applyDefaults() {
	offSwitch(&r.Enabled, r.Attempts)
	r.Attempts = countOrOff(r.Attempts, 2)
	setDuration(&r.Backoff, 25*time.Millisecond)
	if r.Budget == 0 {
		r.Budget = 0.2
	}
	if len(r.On) == 0 {
		r.On = []string{"connect"}
	}
}

// upgradeDefaults allows WebSocket when a route says nothing ([none]
// allows none: an empty list decodes as unset).
func upgradeDefaults(u *[]string) {
	if len(*u) == 0 {
		*u = []string{"websocket"}
	}
}

// offSwitch turns the older "-1 means off" spelling of a count into
// enabled: false, so that the off switch survives the count's 0 (which a
// consumer of the File would otherwise take for "unset: the default").
func offSwitch(enabled **bool, count int) {
	if count == -1 && *enabled == nil {
		off := false
		*enabled = &off
	}
}

func (h *Health) applyDefaults() {
	offSwitch(&h.Passive.Enabled, h.Passive.Failures)
	h.Passive.Failures = countOrOff(h.Passive.Failures, 5)
	setDuration(&h.Passive.Cooldown, 10*time.Second)
	if len(h.Passive.On) == 0 {
		h.Passive.On = []string{"connect", "timeout"}
	}
	setDuration(&h.Active.Interval, 5*time.Second)
	setDuration(&h.Active.Timeout, 2*time.Second)
	setInt(&h.Active.Healthy, 2)
	setInt(&h.Active.Unhealthy, 3)
}

func (c *CircuitBreaker) applyDefaults() {
	setInt(&c.MinRequests, 20)
	setDuration(&c.Window, 10*time.Second)
	setDuration(&c.OpenFor, 30*time.Second)
}

// countOrOff maps a count whose -1 means off: 0 (unset) becomes def and -1
// becomes 0, so that after defaults 0 means off.
func countOrOff(n, def int) int {
	switch n {
	case 0:
		return def
	case -1:
		return 0
	}
	return n
}

func setString(p *string, def string) {
	if *p == "" {
		*p = def
	}
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}

func setDuration(p *Duration, def time.Duration) {
	if *p == 0 {
		*p = Duration(def)
	}
}

func setSize(p *Size, def int64) {
	if *p == 0 {
		*p = Size(def)
	}
}

func setBool(p **bool, def bool) {
	if *p == nil {
		*p = &def
	}
}
