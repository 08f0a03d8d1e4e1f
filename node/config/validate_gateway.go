package config

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// gateway validates the cluster-wide document: each upstream and route,
// unique names, route references, and route conflicts.
func (v *validator) gateway(g *Gateway) {
	byName := make(map[string]*Upstream, len(g.Upstreams))
	var defined []*Upstream
	for i := range g.Upstreams {
		u := &g.Upstreams[i]
		v.upstream(u, i)
		if u.Name == "" {
			continue
		}
		if first, ok := byName[u.Name]; ok {
			v.errorf(v.at(&u.Name, u), "duplicate upstream name %s%s", v.show(&u.Name, u.Name), v.firstAt(&first.Name, first))
			continue
		}
		byName[u.Name] = u
		defined = append(defined, u)
	}
	routes := make(map[string]*Route, len(g.Routes))
	for i := range g.Routes {
		r := &g.Routes[i]
		v.route(r, i, byName, defined)
		if r.Name == "" {
			continue
		}
		if first, ok := routes[r.Name]; ok {
			v.errorf(v.at(&r.Name, r), "duplicate route name %s%s", v.show(&r.Name, r.Name), v.firstAt(&first.Name, first))
			continue
		}
		routes[r.Name] = r
	}
	v.conflicts(g.Routes)
	v.consumers(g)
}

// firstAt says where the first of two duplicates is, when known.
func (v *validator) firstAt(keys ...any) string {
	if o := v.at(keys...); o.line > 0 {
		return fmt.Sprintf(" (first defined at line %d)", o.line)
	}
	return ""
}

// upstreamLabel names upstream number i (0-based) in messages.
func (v *validator) upstreamLabel(u *Upstream, i int) string {
	if u.Name == "" {
		return fmt.Sprintf("upstream #%d", i+1)
	}
	return "upstream " + v.show(&u.Name, u.Name)
}

func (v *validator) upstream(u *Upstream, i int) {
	label := v.upstreamLabel(u, i)
	if u.Name == "" {
		v.required(&u.Name, u, "upstream", "name")
	}
	v.targets(u, label)
	v.enum(&u.Balance, "Upstream.Balance", label+": balance", u.Balance)
	v.enum(&u.Protocol, "Upstream.Protocol", label+": protocol", u.Protocol)
	switch {
	case u.Balance == "hash" && u.HashOn == "":
		v.errorf(v.at(&u.Balance, u), `%s: balance hash needs hash_on: "header:NAME", "cookie:NAME" or "client_ip"`, label)
	case u.Balance != "hash" && u.HashOn != "":
		v.errorf(v.at(&u.HashOn, u), "%s: hash_on is used only with balance: hash", label)
	case u.HashOn != "" && !validHashOn(u.HashOn):
		v.errorf(v.at(&u.HashOn, u), `%s: hash_on %s must be "header:NAME", "cookie:NAME" or "client_ip"`, label, v.show(&u.HashOn, u.HashOn))
	}
	for j := range u.Retries.On {
		on := &u.Retries.On[j]
		v.enum(on, "Retries.On", label+": retries.on entry", *on)
	}
	for j := range u.Health.Passive.On {
		on := &u.Health.Passive.On[j]
		v.enum(on, "PassiveHealth.On", label+": health.passive.on entry", *on)
	}
	// After defaults a count of 0 is the older "-1: off" (see offSwitch).
	if r := &u.Retries; r.Enabled != nil && *r.Enabled && r.Attempts == 0 {
		v.errorf(v.at(&r.Attempts, &r.Enabled, r), "%s: retries.attempts -1 turns retries off, but retries.enabled is true: write enabled: false to turn them off, or a count to keep them on", label)
	}
	if p := &u.Health.Passive; p.Enabled != nil && *p.Enabled && p.Failures == 0 {
		v.errorf(v.at(&p.Failures, &p.Enabled, p), "%s: health.passive.failures -1 turns passive checks off, but health.passive.enabled is true: write enabled: false to turn them off, or a count to keep them on", label)
	}
	if p := u.Health.Active.Path; p != "" && (!strings.HasPrefix(p, "/") || hasSpaceOrControl(p)) {
		v.errorf(v.at(&u.Health.Active.Path), `%s: health.active.path %s must be a path starting with "/"`, label, v.show(&u.Health.Active.Path, p))
	}
}

// targets checks an upstream's target list: valid URLs, some weight, and
// a protocol every target can speak.
func (v *validator) targets(u *Upstream, label string) {
	if len(u.Targets) == 0 {
		v.errorf(v.at(&u.Targets, u), "%s needs at least one target", label)
		return
	}
	weight := 0
	for i := range u.Targets {
		t := &u.Targets[i]
		if t.Weight != nil {
			weight += min(*t.Weight, 1)
		}
		if t.URL == "" {
			v.required(&t.URL, t, "target", "url")
			continue
		}
		if err := checkTargetURL(t.URL); err != nil {
			v.errorf(v.at(&t.URL, t), "target url %s %v", v.show(&t.URL, t.URL), err)
		} else if u.Protocol == "h2c" && strings.HasPrefix(strings.ToLower(t.URL), "https:") {
			v.errorf(v.at(&t.URL, t), "target url %s uses https, but %s speaks h2c (cleartext HTTP/2): use http:// or protocol http1", v.show(&t.URL, t.URL), label)
		} else if (u.Protocol == "h2" || u.Protocol == "h3") && !strings.HasPrefix(strings.ToLower(t.URL), "https:") {
			v.errorf(v.at(&t.URL, t), "target url %s uses http, but %s speaks %s, which needs TLS: use https:// or protocol h2c/http1", v.show(&t.URL, t.URL), label, u.Protocol)
		}
	}
	if tc := &u.TLS; (tc.Cert == "") != (tc.Key == "") {
		v.errorf(v.at(&tc.Cert, &tc.Key, tc, u), "%s: tls.cert and tls.key go together (a client certificate and its key)", label)
	}
	if weight == 0 {
		v.errorf(v.at(&u.Targets, u), "%s: every target has weight 0; give at least one a weight > 0", label)
	}
}

// checkTargetURL checks a target: http or https, a host with an optional
// port, an optional base path, no user info, query or fragment.
func checkTargetURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		// url's own error repeats the input; the caller shows it already.
		return errors.New("is not a valid URL, e.g. http://10.0.0.5:8080")
	case u.Scheme != "http" && u.Scheme != "https", u.Opaque != "":
		return errors.New("must start with http:// or https://")
	case u.User != nil:
		return errors.New("must not contain user info: send credentials in a header")
	case u.Hostname() == "":
		return errors.New("needs a host, e.g. http://10.0.0.5:8080")
	case u.RawQuery != "" || u.ForceQuery:
		return errors.New(`must not have a query ("?")`)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return errors.New(`must not have a fragment ("#")`)
	case strings.HasSuffix(u.Host, ":"):
		return errors.New("has an empty port")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("has an invalid port: use 1 to 65535")
		}
	}
	return nil
}

// validHashOn checks "header:NAME", "cookie:NAME" or "client_ip".
func validHashOn(s string) bool {
	if s == "client_ip" {
		return true
	}
	kind, name, ok := strings.Cut(s, ":")
	return ok && (kind == "header" || kind == "cookie") && isToken(name)
}

// routeLabel names route number i (0-based) in messages.
func (v *validator) routeLabel(r *Route, i int) string {
	if r.Name == "" {
		return fmt.Sprintf("route #%d", i+1)
	}
	return "route " + v.show(&r.Name, r.Name)
}

func (v *validator) route(r *Route, i int, ups map[string]*Upstream, defined []*Upstream) {
	label := v.routeLabel(r, i)
	if r.Name == "" {
		v.required(&r.Name, r, "route", "name")
	}
	switch {
	case r.Upstream == "":
		v.required(&r.Upstream, r, label, "upstream")
	case ups[r.Upstream] == nil:
		v.errorf(v.at(&r.Upstream, r), "%s: upstream %s is not defined%s", label, v.show(&r.Upstream, r.Upstream), v.knownUpstreams(r, defined))
	}
	v.match(&r.Match, label)
	if r.StripPrefix != "" {
		if err := checkStripPrefix(r.StripPrefix); err != nil {
			v.errorf(v.at(&r.StripPrefix), "%s: strip_prefix %s %v", label, v.show(&r.StripPrefix, r.StripPrefix), err)
		}
	}
	if r.Rewrite != "" {
		v.rewrite(r, label)
	}
	if r.Cache != nil {
		v.routeCache(r.Cache, label)
	}
	v.upgrades(r, label)
	if r.CORS != nil {
		v.cors(r.CORS, label)
	}
	v.rateLimits(r.RateLimits, label)
	for i := range r.RateLimits {
		l := &r.RateLimits[i]
		for j := range l.By {
			if (l.By[j] == "consumer" || l.By[j] == "api_key") && (r.Auth == nil || r.Auth.APIKey == nil) {
				v.errorf(v.at(&l.By[j], &l.By, l), "%s: rate limit by %s needs the route to identify consumers: add auth: {api_key: {}}", label, l.By[j])
			}
		}
	}
	if a := r.Auth; a != nil {
		v.auth(a, r, label)
	}
}

// rateLimits checks a list of limits: a rate, and what they count by.
func (v *validator) rateLimits(ls []RateLimit, label string) {
	for i := range ls {
		l := &ls[i]
		if l.Rate.Count <= 0 {
			v.errorf(v.at(&l.Rate, l), "%s: rate limit #%d needs a rate, e.g. rate: 100/s", label, i+1)
		}
		for j := range l.By {
			b := &l.By[j]
			switch {
			case *b == "consumer", *b == "api_key", *b == "client_ip", *b == "route":
			case strings.HasPrefix(*b, "header:") && isToken(strings.TrimPrefix(*b, "header:")):
			default:
				v.errorf(v.at(b, &l.By, l), "%s: rate limit by %s is not valid: use consumer, api_key, client_ip, route or header:NAME", label, v.show(b, *b))
			}
		}
		v.enum(&l.Scope, "RateLimit.Scope", label+": rate limit scope", l.Scope)
		v.enum(&l.Mode, "RateLimit.Mode", label+": rate limit mode", l.Mode)
	}
}

// consumers checks consumers, groups and plans: unique names, references,
// API key hashes (each key belongs to one consumer).
func (v *validator) consumers(g *Gateway) {
	plans := map[string]bool{}
	for i := range g.Plans {
		p := &g.Plans[i]
		label := fmt.Sprintf("plan %q", p.Name)
		if p.Name == "" {
			v.required(&p.Name, p, "plan", "name")
		} else if plans[p.Name] {
			v.errorf(v.at(&p.Name, p), "duplicate plan name %s", v.show(&p.Name, p.Name))
		}
		plans[p.Name] = true
		v.rateLimits(p.RateLimits, label)
		if q := p.Quota; q != nil {
			if q.Limit <= 0 {
				v.errorf(v.at(&q.Limit, q, p), "%s: quota.limit must be a positive count", label)
			}
			v.enum(&q.Per, "Quota.Per", label+": quota.per", q.Per)
		}
	}
	groups := map[string]bool{}
	for i := range g.ConsumerGroups {
		cg := &g.ConsumerGroups[i]
		if cg.Name == "" {
			v.required(&cg.Name, cg, "consumer group", "name")
		} else if groups[cg.Name] {
			v.errorf(v.at(&cg.Name, cg), "duplicate consumer group name %s", v.show(&cg.Name, cg.Name))
		}
		groups[cg.Name] = true
		v.rateLimits(cg.RateLimits, fmt.Sprintf("consumer group %q", cg.Name))
	}
	names := map[string]bool{}
	keys := map[string]string{}
	for i := range g.Consumers {
		c := &g.Consumers[i]
		label := fmt.Sprintf("consumer %q", c.Name)
		if c.Name == "" {
			v.required(&c.Name, c, "consumer", "name")
		} else if names[c.Name] {
			v.errorf(v.at(&c.Name, c), "duplicate consumer name %s", v.show(&c.Name, c.Name))
		}
		names[c.Name] = true
		if c.Plan != "" && !plans[c.Plan] {
			v.errorf(v.at(&c.Plan, c), "%s: plan %s is not defined", label, v.show(&c.Plan, c.Plan))
		}
		if c.Group != "" && !groups[c.Group] {
			v.errorf(v.at(&c.Group, c), "%s: group %s is not defined", label, v.show(&c.Group, c.Group))
		}
		v.rateLimits(c.RateLimits, label)
		for j := range c.APIKeys {
			k := &c.APIKeys[j]
			if !isKeyHash(*k) {
				v.errorf(v.at(k, &c.APIKeys, c), "%s: api_keys entry must be \"sha256:\" and 64 hex digits, the hash of a key (make one with `portico apikey`); keys themselves are never stored", label)
				continue
			}
			h := strings.ToLower(*k)
			if other, dup := keys[h]; dup {
				v.errorf(v.at(k, &c.APIKeys, c), "%s: this API key already belongs to consumer %q", label, other)
			}
			keys[h] = c.Name
		}
	}
}

// isKeyHash reports whether s is "sha256:" and 64 hex digits.
func isKeyHash(s string) bool {
	h, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// routeCache checks a route's cache policy: cacheable methods and
// statuses, header names, scope.
func (v *validator) routeCache(c *RouteCache, label string) {
	for i := range c.Methods {
		m := &c.Methods[i]
		if *m != "GET" && *m != "HEAD" {
			v.errorf(v.at(m, &c.Methods, c), "%s: cache.methods entry %s is not cacheable here: use GET and/or HEAD", label, v.show(m, *m))
		}
	}
	for i := range c.Statuses {
		st := &c.Statuses[i]
		switch {
		case *st < 200 || *st > 599:
			v.errorf(v.at(st, &c.Statuses, c), "%s: cache.statuses entry %d is not a final HTTP status (200-599)", label, *st)
		case *st == http.StatusPartialContent || *st == http.StatusNotModified:
			v.errorf(v.at(st, &c.Statuses, c), "%s: cache.statuses entry %d can't be stored: 206 (part of a range) and 304 (a revalidation) answer one request, not the resource", label, *st)
		}
	}
	for _, list := range []struct {
		name  string
		items []string
	}{{"vary", c.Vary}, {"key.headers", c.Key.Headers}, {"key.cookies", c.Key.Cookies}, {"tag_headers", c.TagHeaders}} {
		for i := range list.items {
			h := &list.items[i]
			if !isToken(*h) {
				v.errorf(v.at(h, c), "%s: cache.%s entry %s is not a valid header or cookie name", label, list.name, v.show(h, *h))
			}
		}
	}
	v.enum(&c.Scope, "RouteCache.Scope", label+": cache.scope", c.Scope)
}

// knownUpstreams completes a "not defined" message with a suggestion or
// the list of upstreams.
func (v *validator) knownUpstreams(r *Route, defined []*Upstream) string {
	if len(defined) == 0 {
		return " (no upstreams are defined)"
	}
	shown := make([]string, len(defined))
	var plain []string // names that may be suggested: none came from a variable
	for i, u := range defined {
		shown[i] = v.show(&u.Name, u.Name)
		if !v.origins[&u.Name].subst {
			plain = append(plain, u.Name)
		}
	}
	if !v.origins[&r.Upstream].subst {
		if s := suggest(r.Upstream, plain); s != "" {
			return fmt.Sprintf(" (did you mean %q?)", s)
		}
	}
	return " (defined: " + strings.Join(shown, ", ") + ")"
}

func (v *validator) match(m *Match, label string) {
	for i := range m.Hosts {
		h := &m.Hosts[i]
		if err := checkHost(*h); err != nil {
			v.errorf(v.at(h, &m.Hosts), "%s: match.hosts entry %s %s", label, v.show(h, *h), v.explain(h, err))
		}
	}
	for i := range m.Paths {
		p := &m.Paths[i]
		if _, err := parsePattern(*p); err != nil {
			v.errorf(v.at(p, &m.Paths), "%s: match.paths entry %s %s", label, v.show(p, *p), v.explain(p, err))
		}
	}
	for i := range m.Methods {
		meth := &m.Methods[i]
		switch up := strings.ToUpper(*meth); {
		case !isToken(*meth):
			v.errorf(v.at(meth, &m.Methods), "%s: match.methods entry %s is not an HTTP method", label, v.show(meth, *meth))
		case up != *meth:
			err := valueError{fmt.Sprintf("must be upper case (%q)", up), "must be upper case"}
			v.errorf(v.at(meth, &m.Methods), "%s: match.methods entry %s %s", label, v.show(meth, *meth), v.explain(meth, err))
		}
	}
	v.headers(m, label)
	for _, k := range v.sortedKeys(&m.Query, m.Query) {
		if k == "" {
			v.errorf(v.at(entryKey{&m.Query, k}, &m.Query), "%s: match.query has an empty parameter name", label)
		}
	}
}

// headers checks header names: tokens, and unique once case is ignored.
func (v *validator) headers(m *Match, label string) {
	seen := make(map[string]string, len(m.Headers))
	for _, k := range v.sortedKeys(&m.Headers, m.Headers) {
		at := v.at(entryKey{&m.Headers, k}, &m.Headers)
		if !isToken(k) {
			hint := ""
			if strings.Contains(k, "${") {
				hint = " (variables are substituted in values, not in keys)"
			}
			v.errorf(at, "%s: match.headers name %q is not a valid header name%s", label, k, hint)
			continue
		}
		canon := http.CanonicalHeaderKey(k)
		if first, ok := seen[canon]; ok {
			v.errorf(at, "%s: match.headers names %q and %q are the same header (names ignore case)", label, first, k)
			continue
		}
		seen[canon] = k
	}
}

// sortedKeys returns the keys of map m (whose field address is addr) in
// document order, so that messages about pairs of keys are stable.
func (v *validator) sortedKeys(addr any, m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		oa, ob := v.origins[entryKey{addr, a}], v.origins[entryKey{addr, b}]
		return cmp.Or(cmp.Compare(oa.line, ob.line), cmp.Compare(oa.col, ob.col), strings.Compare(a, b))
	})
	return keys
}

// rewrite checks a route's rewrite template against its paths: it may use
// only parameters that every path defines.
func (v *validator) rewrite(r *Route, label string) {
	at := v.at(&r.Rewrite, r)
	if r.StripPrefix != "" {
		v.errorf(at, "%s: strip_prefix and rewrite can't be combined: rewrite sets the whole upstream path (use the route's {params} in it)", label)
	}
	params, err := templateParams(r.Rewrite)
	if err != nil {
		v.errorf(at, "%s: rewrite %s %s", label, v.show(&r.Rewrite, r.Rewrite), v.explain(&r.Rewrite, err))
		return
	}
	for _, name := range params {
		for i := range r.Match.Paths {
			p := &r.Match.Paths[i]
			pat, err := parsePattern(*p)
			if err == nil && !slices.Contains(pat.params, name) {
				err := valueError{fmt.Sprintf("uses {%s}, but path %s doesn't define it", name, v.show(p, *p)),
					fmt.Sprintf("uses a parameter that path %s doesn't define", v.show(p, *p))}
				v.errorf(at, "%s: rewrite %s", label, v.explain(&r.Rewrite, err))
				break
			}
		}
	}
}

// upgrades checks a route's upgrades list: protocol tokens, never h2c,
// and "none" only alone.
func (v *validator) upgrades(r *Route, label string) {
	for j := range r.Upgrades {
		up := &r.Upgrades[j]
		switch {
		case strings.EqualFold(*up, "h2c"):
			v.errorf(v.at(up, &r.Upgrades, r), "%s: upgrades cannot list h2c: an h2c upgrade would give the client an HTTP/2 connection to the target outside the routes (use protocol: h2c on the upstream to speak HTTP/2 to it)", label)
		case *up == "none" && len(r.Upgrades) > 1:
			v.errorf(v.at(up, &r.Upgrades, r), `%s: upgrades lists "none" with other protocols: write [none] for none, or list the protocols`, label)
		case !isToken(*up):
			v.errorf(v.at(up, &r.Upgrades, r), "%s: upgrades entry %s is not a protocol name such as websocket", label, v.show(up, *up))
		}
	}
}
