package cache

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Policy defaults, applied to zero fields of a Policy. Never modified.
var (
	// defaultMethods are cached when Policy.Methods is empty.
	defaultMethods = []string{http.MethodGet, http.MethodHead}
	// defaultStatuses are cached when Policy.Statuses is empty: the
	// heuristically cacheable statuses of RFC 9110 §15.1 except 206.
	defaultStatuses = []int{200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}
	// defaultTagHeaders list an entry's purge tags when Policy.TagHeaders
	// is empty.
	defaultTagHeaders = []string{"Surrogate-Key", "Cache-Tag"}
)

// DefaultMaxObjectSize caps a stored response when Policy.MaxObjectSize is 0.
const DefaultMaxObjectSize = 8 << 20

// Policy is one route's caching policy. The zero value caches GET and HEAD
// responses that carry their own freshness (max-age, s-maxage, Expires),
// owned in the node's region. A Policy is read, never modified, by the
// Cache.
type Policy struct {
	// Route names the route: for metrics, and in a Fill, by which the
	// key's owner finds the route in its published Routes. Unique within
	// a Routes. (Optional)
	Route string
	// TTL is the freshness of responses whose upstream gives none. Zero:
	// such responses are not stored (no heuristic freshness).
	TTL time.Duration
	// Override makes TTL the freshness of every storable response, whatever
	// max-age, s-maxage, Expires or no-cache say. It never overrides
	// no-store, private, Vary: *, or the Authorization and Set-Cookie rules.
	Override bool
	// Key adds request parts to the cache key or drops query parameters.
	Key KeySpec
	// Vary lists request headers that always split entries, besides those
	// the upstream's Vary names. Unlike Key.Headers they make secondary
	// keys: purging the primary key purges every variant.
	Vary []string
	// Methods are cached. (Optional) Defaults to GET and HEAD; only safe
	// methods are accepted (GET, HEAD).
	Methods []string
	// Statuses may be stored with TTL when the upstream gives no
	// freshness (Portico's only heuristic). A response with explicit
	// freshness (max-age, s-maxage, Expires, in a targeted field or
	// Cache-Control) is storable whatever its final status, but 206 and
	// 304. (Optional) Defaults to 200, 203, 204, 300, 301, 308, 404, 405,
	// 410, 414, 501 (RFC 9110 §15.1 without 206).
	Statuses []int
	// MaxObjectSize caps a stored response, headers and body, in bytes.
	// Bigger ones stream through uncached. (Optional) Defaults to 8 MiB.
	MaxObjectSize int64
	// StaleWhileRevalidate serves an entry this long past its freshness
	// while one background request refreshes it (RFC 5861); the upstream's
	// own stale-while-revalidate wins when longer.
	StaleWhileRevalidate time.Duration
	// StaleIfError serves an entry this long past its freshness when the
	// upstream fails, times out or answers 5xx; the upstream's own
	// stale-if-error wins when longer.
	StaleIfError time.Duration
	// Scope is where an entry lives: "region" (default: one owner among the
	// nodes of this region), "cluster" (one owner cluster-wide) or "node"
	// (every node its own copy; no peer is asked).
	Scope string
	// AllowAuthorization stores responses to requests with Authorization
	// even when the response doesn't say public, s-maxage or
	// must-revalidate (RFC 9111 §3.5). Key the credential's identity
	// (Key.Headers or Key.Consumer) unless the responses are the same for
	// everyone.
	AllowAuthorization bool
	// AllowSetCookie stores responses that set cookies. The Set-Cookie
	// lines themselves are never stored: only the request that fetched the
	// response gets them.
	AllowSetCookie bool
	// TagHeaders are response headers that list an entry's purge tags,
	// separated by spaces or commas. They are removed from responses sent
	// to clients. (Optional) Defaults to Surrogate-Key (space-separated)
	// and Cache-Tag (comma-separated).
	TagHeaders []string
}

// KeySpec adjusts a route's cache key (see KeyOf for the format).
type KeySpec struct {
	// Headers are request headers added to the key (by value; absent and
	// empty are the same).
	Headers []string
	// Cookies are request cookies added to the key, by name.
	Cookies []string
	// IgnoreQuery lists query parameters left out of the key (and still
	// sent upstream), e.g. utm_source; "*" leaves out the whole query.
	IgnoreQuery []string
	// Consumer, if not nil, returns the authenticated consumer's id, added
	// to the key. It must be safe for concurrent use.
	Consumer func(*http.Request) string
}

// Scopes a Policy may name.
const (
	ScopeRegion  = "region"
	ScopeCluster = "cluster"
	ScopeNode    = "node"
)

// Validate reports what is wrong with p, after its defaults.
func (p Policy) Validate() error {
	_, err := compile(p)
	return err
}

// policy is a Policy with its defaults applied and its lists in the forms
// the hot path wants. Immutable once compiled.
type policy struct {
	Policy
	get, head   bool         // methods
	statuses    map[int]bool // cacheable statuses
	keyHeaders  []string     // canonical, sorted
	keyCookies  []string     // sorted
	ignoreAll   bool         // IgnoreQuery has "*"
	ignore      map[string]bool
	vary        []string // lower-case, sorted, deduplicated
	keyed       map[string]bool
	tagHeaders  []string // canonical
	maxObject   int64
	scope       string
	bypassLocal bool // scope "node"
}

// compile applies p's defaults and validates it.
func compile(p Policy) (*policy, error) {
	if len(p.Methods) == 0 {
		p.Methods = defaultMethods
	}
	if len(p.Statuses) == 0 {
		p.Statuses = defaultStatuses
	}
	if len(p.TagHeaders) == 0 {
		p.TagHeaders = defaultTagHeaders
	}
	if p.MaxObjectSize == 0 {
		p.MaxObjectSize = DefaultMaxObjectSize
	}
	if p.Scope == "" {
		p.Scope = ScopeRegion
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	c := &policy{Policy: p, statuses: make(map[int]bool, len(p.Statuses)), maxObject: p.MaxObjectSize, scope: p.Scope}
	for _, m := range p.Methods {
		c.get = c.get || m == http.MethodGet
		c.head = c.head || m == http.MethodHead
	}
	for _, s := range p.Statuses {
		c.statuses[s] = true
	}
	c.keyHeaders = sortedCanonical(p.Key.Headers)
	c.keyCookies = slices.Sorted(slices.Values(p.Key.Cookies))
	c.keyCookies = slices.Compact(c.keyCookies)
	for _, q := range p.Key.IgnoreQuery {
		if q == "*" {
			c.ignoreAll = true
			continue
		}
		if c.ignore == nil {
			c.ignore = make(map[string]bool)
		}
		c.ignore[q] = true
	}
	for _, v := range p.Vary {
		c.vary = append(c.vary, strings.ToLower(v))
	}
	slices.Sort(c.vary)
	c.vary = slices.Compact(c.vary)
	c.keyed = make(map[string]bool)
	for _, h := range c.keyHeaders {
		c.keyed[h] = true
	}
	for _, h := range p.Vary {
		c.keyed[http.CanonicalHeaderKey(h)] = true
	}
	c.tagHeaders = sortedCanonical(p.TagHeaders)
	c.bypassLocal = p.Scope == ScopeNode
	return c, nil
}

// check validates a Policy whose defaults are applied.
func (p *Policy) check() error {
	switch {
	case p.TTL < 0:
		return errors.New("ttl must not be negative")
	case p.Override && p.TTL == 0:
		return errors.New("override needs a ttl")
	case p.MaxObjectSize < 0:
		return errors.New("max object size must not be negative")
	case p.StaleWhileRevalidate < 0 || p.StaleIfError < 0:
		return errors.New("stale windows must not be negative")
	case p.Scope != ScopeRegion && p.Scope != ScopeCluster && p.Scope != ScopeNode:
		return fmt.Errorf("scope %q is not one of region, cluster, node", p.Scope)
	}
	for _, m := range p.Methods {
		if m != http.MethodGet && m != http.MethodHead {
			return fmt.Errorf("method %q is not cacheable: use GET and/or HEAD", m)
		}
	}
	for _, s := range p.Statuses {
		if s < 200 || s > 599 || s == http.StatusPartialContent || s == http.StatusNotModified {
			return fmt.Errorf("status %d is not a storable final status", s)
		}
	}
	for _, list := range [][]string{p.Key.Headers, p.Key.Cookies, p.Vary, p.TagHeaders} {
		for _, h := range list {
			if !validToken(h) {
				return fmt.Errorf("%q is not a valid header or cookie name", h)
			}
		}
	}
	return nil
}

func sortedCanonical(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, http.CanonicalHeaderKey(n))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// cacheableRequest reports whether r may be answered from or stored in the
// cache: a cached method, no body, no upgrade, no preconditions the cache
// does not evaluate (If-Match, If-Unmodified-Since, If-Range).
func (p *policy) cacheableRequest(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet:
		if !p.get {
			return false
		}
	case http.MethodHead:
		if !p.head {
			return false
		}
	default:
		return false
	}
	// A GET body has no defined meaning (RFC 9110 §9.3.1): one that is
	// announced sends the request around the cache, and a fill never
	// forwards one (HTTP/3 requests have ContentLength -1 without a body).
	if r.ContentLength > 0 || len(r.TransferEncoding) > 0 {
		return false
	}
	h := r.Header
	return len(h["Upgrade"]) == 0 && len(h["If-Match"]) == 0 &&
		len(h["If-Unmodified-Since"]) == 0 && len(h["If-Range"]) == 0
}
