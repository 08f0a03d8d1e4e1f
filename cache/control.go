package cache

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxDelta caps delta-seconds, as RFC 9111 §1.2.2 allows (2^31 s).
const maxDelta = time.Duration(1<<31) * time.Second

// directives are the Cache-Control directives a shared cache acts on
// (RFC 9111 §5.2, RFC 5861). A directive given twice counts once, with
// its first value.
type directives struct {
	maxAge, sMaxAge   time.Duration
	hasMaxAge, hasSMA bool
	swr, sie          time.Duration // stale-while-revalidate, stale-if-error

	noStore, noCache, private, public bool
	mustRevalidate, proxyRevalidate   bool
	onlyIfCached                      bool
}

// Targeted cache-control fields (RFC 9213), most specific first:
// Portico-Cache-Control speaks to Portico alone, CDN-Cache-Control to
// every CDN. The first one present and valid replaces Cache-Control and
// Expires for the cache's decisions (as Fastly's Surrogate-Control and
// Cloudflare's CDN-Cache-Control do); the request's Cache-Control still
// counts. Portico-Cache-Control is removed from stored and client
// responses; CDN-Cache-Control goes on, to caches in front.
const (
	porticoCacheControl = "Portico-Cache-Control"
	cdnCacheControl     = "Cdn-Cache-Control"
)

var targetedFields = []string{porticoCacheControl, cdnCacheControl}

// responseDirectives are the directives a response gives this cache: its
// first valid targeted field's (targeted true), else its Cache-Control's.
func responseDirectives(h http.Header) (d directives, targeted bool) {
	for _, f := range targetedFields {
		if lines := h[f]; len(lines) > 0 && validTargeted(lines) {
			return parseDirectives(lines), true
		}
	}
	return parseDirectives(h["Cache-Control"]), false
}

// validTargeted reports whether a targeted field's lines parse as a
// Structured Fields Dictionary (RFC 8941 §3.2) of the shapes directives
// take: key, key=integer, key=token or key="string", with parameters.
// RFC 9213 §2.1 has an invalid targeted field ignored, and an empty one
// is not a directive at all.
func validTargeted(lines []string) bool {
	n := 0
	for _, line := range lines {
		for member := range strings.SplitSeq(line, ",") {
			item, _, _ := strings.Cut(strings.TrimSpace(member), ";")
			key, val, hasVal := strings.Cut(item, "=")
			if !sfKey(key) || hasVal && !sfBareItem(val) {
				return false
			}
			n++
		}
	}
	return n > 0
}

func sfKey(k string) bool {
	if k == "" || !(k[0] == '*' || 'a' <= k[0] && k[0] <= 'z') {
		return false
	}
	for i := 1; i < len(k); i++ {
		if c := k[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			return false
		}
	}
	return true
}

// sfBareItem accepts an integer, a token, a quoted string or a boolean.
func sfBareItem(v string) bool {
	switch {
	case v == "":
		return false
	case v == "?0" || v == "?1":
		return true
	case v[0] == '"':
		return len(v) >= 2 && v[len(v)-1] == '"' && !strings.ContainsAny(v[1:len(v)-1], "\\\"")
	case v[0] == '-' || '0' <= v[0] && v[0] <= '9':
		return len(v) <= 16 && allDigits(strings.TrimPrefix(v, "-")) && v != "-"
	case isAlpha(v[0]) || v[0] == '*':
		for i := 1; i < len(v); i++ {
			if !isTokenByte(v[i]) && v[i] != ':' && v[i] != '/' {
				return false
			}
		}
		return true
	}
	return false
}

// parseCacheControl parses every Cache-Control line of h.
func parseCacheControl(h http.Header) directives { return parseDirectives(h["Cache-Control"]) }

// parseDirectives parses the lines of a cache-control field. Names are
// case-insensitive; qualified no-cache="..." and private="..." count as
// unqualified (a shared cache may do so); an invalid delta-seconds makes
// max-age and s-maxage zero (stale), and stale windows absent.
func parseDirectives(lines []string) directives {
	var d directives
	var seen uint16
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			d.apply(strings.TrimSpace(name), unquote(strings.TrimSpace(val)), &seen)
		}
	}
	return d
}

func (d *directives) apply(name, val string, seen *uint16) {
	once := func(bit uint16) bool {
		first := *seen&bit == 0
		*seen |= bit
		return first
	}
	switch {
	case strings.EqualFold(name, "max-age"):
		if once(1) {
			d.maxAge, d.hasMaxAge = delta(val), true
		}
	case strings.EqualFold(name, "s-maxage"):
		if once(2) {
			d.sMaxAge, d.hasSMA = delta(val), true
		}
	case strings.EqualFold(name, "stale-while-revalidate"):
		if once(4) {
			d.swr = delta(val)
		}
	case strings.EqualFold(name, "stale-if-error"):
		if once(8) {
			d.sie = delta(val)
		}
	case strings.EqualFold(name, "no-store"):
		d.noStore = true
	case strings.EqualFold(name, "no-cache"):
		d.noCache = true
	case strings.EqualFold(name, "private"):
		d.private = true
	case strings.EqualFold(name, "public"):
		d.public = true
	case strings.EqualFold(name, "must-revalidate"):
		d.mustRevalidate = true
	case strings.EqualFold(name, "proxy-revalidate"):
		d.proxyRevalidate = true
	case strings.EqualFold(name, "only-if-cached"):
		d.onlyIfCached = true
	}
}

// delta parses delta-seconds; anything else is 0.
func delta(s string) time.Duration {
	if s == "" || !allDigits(s) {
		return 0
	}
	if len(s) > 10 {
		return maxDelta
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	if n >= 1<<31 {
		return maxDelta
	}
	return time.Duration(n) * time.Second
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// freshness is what a response's headers and the policy say about storing
// and reusing it.
type freshness struct {
	lifetime       time.Duration // freshness lifetime (§4.2.1)
	swr, sie       time.Duration // stale windows (policy's or upstream's, the longer)
	mustRevalidate bool          // never served stale
}

// storable decides whether the response (status, h) to r may be stored
// under p (RFC 9111 §3, §3.5), and how fresh it is. reason is "" when it
// may, else a token for Cache-Status' detail. Explicit freshness
// (s-maxage, max-age, Expires) makes any final status storable but 206
// and 304; the policy's Statuses limit only what its TTL may store (with
// Override, every response's freshness is the TTL: Statuses then limit
// all).
func (p *policy) storable(r *http.Request, status int, h http.Header, date time.Time) (f freshness, reason string) {
	d, targeted := responseDirectives(h)
	// Under Override the policy's TTL is the freshness whatever the
	// upstream says, so only the listed statuses may be stored.
	explicit := !p.Override && (d.hasSMA || d.hasMaxAge || !targeted && len(h["Expires"]) > 0)
	if !p.statuses[status] && (!explicit || status == http.StatusPartialContent || status == http.StatusNotModified) {
		return f, "status"
	}
	switch {
	case d.noStore:
		return f, "no-store"
	case d.private:
		return f, "private"
	case (len(h["Set-Cookie"]) > 0 || len(h["Set-Cookie2"]) > 0) && !p.AllowSetCookie:
		return f, "set-cookie"
	case r.Header.Get("Authorization") != "" && !p.AllowAuthorization && !d.public && !d.hasSMA && !d.mustRevalidate:
		return f, "authorization"
	case varyStar(h):
		return f, "vary-star"
	}
	if rd := parseCacheControl(r.Header); rd.noStore {
		return f, "request-no-store"
	}
	f.lifetime, reason = p.lifetime(h, d, targeted, date)
	if reason != "" {
		return f, reason
	}
	f.swr = max(p.StaleWhileRevalidate, d.swr)
	f.sie = max(p.StaleIfError, d.sie)
	f.mustRevalidate = d.mustRevalidate || d.proxyRevalidate || d.hasSMA || (d.noCache && !p.Override)
	if f.mustRevalidate {
		f.swr, f.sie = 0, 0
	}
	if f.lifetime <= 0 && f.swr <= 0 && f.sie <= 0 && !hasValidator(h) {
		return f, "stale"
	}
	return f, ""
}

// lifetime is the freshness lifetime of a shared cache (§4.2.1): TTL when
// the policy overrides, else s-maxage, max-age, Expires - Date (not with
// a targeted field), else TTL; no-cache makes it 0. Without any of them
// (and no TTL) it is not stored: there is no heuristic freshness.
func (p *policy) lifetime(h http.Header, d directives, targeted bool, date time.Time) (time.Duration, string) {
	switch {
	case p.Override:
		return p.TTL, ""
	case d.noCache:
		return 0, ""
	case d.hasSMA:
		return d.sMaxAge, ""
	case d.hasMaxAge:
		return d.maxAge, ""
	}
	if ex := h["Expires"]; len(ex) > 0 && !targeted {
		t, ok := parseHTTPDate(ex[0], date)
		if !ok || t.Before(date) {
			return 0, "" // invalid Expires means already expired (§5.3)
		}
		return t.Sub(date), ""
	}
	if p.TTL > 0 {
		return p.TTL, ""
	}
	return 0, "no-ttl"
}

func varyStar(h http.Header) bool {
	for _, v := range h["Vary"] {
		for f := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(f) == "*" {
				return true
			}
		}
	}
	return false
}

func hasValidator(h http.Header) bool {
	return len(h["Etag"]) > 0 || len(h["Last-Modified"]) > 0
}

// initialAge is corrected_initial_age of RFC 9111 §4.2.3, from the Age and
// Date headers and the request and response times. Of an Age list
// ("7200, 0", or several lines) the first value counts, as §5.1 says; an
// Age that is not delta-seconds is ignored. It is never below the Age
// received: a cache does not make a response younger.
func initialAge(h http.Header, date, reqTime, respTime time.Time) time.Duration {
	apparent := max(0, respTime.Sub(date))
	var ageValue time.Duration
	if a := h["Age"]; len(a) > 0 {
		first, _, _ := strings.Cut(a[0], ",")
		ageValue = delta(strings.TrimSpace(first))
	}
	corrected := ageValue + max(0, respTime.Sub(reqTime))
	return max(apparent, corrected)
}

// responseDate is the Date header, or respTime when it is absent or
// invalid.
func responseDate(h http.Header, respTime time.Time) time.Time {
	if d := h["Date"]; len(d) > 0 {
		if t, ok := parseHTTPDate(d[0], respTime); ok {
			return t
		}
	}
	return respTime
}

// responseVary is the lower-case header names of h's Vary, sorted and
// merged with the policy's.
func (p *policy) responseVary(h http.Header) []string {
	vals := h["Vary"]
	if len(vals) == 0 {
		return p.vary
	}
	out := append([]string(nil), p.vary...)
	for _, v := range vals {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.ToLower(strings.TrimSpace(f)); f != "" && !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	slices.Sort(out)
	return out
}
