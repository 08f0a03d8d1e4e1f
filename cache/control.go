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

// parseCacheControl parses every Cache-Control line of h. Names are
// case-insensitive; qualified no-cache="..." and private="..." count as
// unqualified (a shared cache may do so); an invalid delta-seconds makes
// max-age and s-maxage zero (stale), and stale windows absent.
func parseCacheControl(h http.Header) directives {
	var d directives
	var seen uint16
	for _, line := range h["Cache-Control"] {
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
// may, else a token for Cache-Status' detail.
func (p *policy) storable(r *http.Request, status int, h http.Header, date time.Time) (f freshness, reason string) {
	if !p.statuses[status] {
		return f, "status"
	}
	d := parseCacheControl(h)
	switch {
	case d.noStore:
		return f, "no-store"
	case d.private:
		return f, "private"
	case len(h["Set-Cookie"]) > 0 && !p.AllowSetCookie:
		return f, "set-cookie"
	case r.Header.Get("Authorization") != "" && !p.AllowAuthorization && !d.public && !d.hasSMA && !d.mustRevalidate:
		return f, "authorization"
	case varyStar(h):
		return f, "vary-star"
	}
	if rd := parseCacheControl(r.Header); rd.noStore {
		return f, "request-no-store"
	}
	f.lifetime, reason = p.lifetime(h, d, date)
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
// the policy overrides, else s-maxage, max-age, Expires - Date, else TTL;
// no-cache makes it 0. Without any of them (and no TTL) it is not stored:
// there is no heuristic freshness.
func (p *policy) lifetime(h http.Header, d directives, date time.Time) (time.Duration, string) {
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
	if ex := h["Expires"]; len(ex) > 0 {
		t, err := http.ParseTime(ex[0])
		if err != nil || t.Before(date) {
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
// Date headers and the request and response times.
func initialAge(h http.Header, date, reqTime, respTime time.Time) time.Duration {
	apparent := max(0, respTime.Sub(date))
	var ageValue time.Duration
	if a := h["Age"]; len(a) > 0 {
		ageValue = delta(strings.TrimSpace(a[0]))
	}
	corrected := ageValue + max(0, respTime.Sub(reqTime))
	return max(apparent, corrected)
}

// responseDate is the Date header, or respTime when it is absent or
// invalid.
func responseDate(h http.Header, respTime time.Time) time.Time {
	if d := h["Date"]; len(d) > 0 {
		if t, err := http.ParseTime(d[0]); err == nil {
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
