package cache

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// entryOverhead is the memory counted per entry besides its key, headers,
// body and tags: the entry struct, ristretto's item and policy counters,
// and the entry's records in the purge index. It is an estimate that
// errs high.
const entryOverhead = 512

// Tag limits bound the purge index: tags beyond the first maxTags of an
// entry, and tags longer than maxTagLen, are ignored.
const (
	maxTags   = 64
	maxTagLen = 256
)

// entry is one stored response, or a vary marker. An entry never changes
// once made: refreshing makes a new one. Header value slices are clipped
// (cap == len) so that appending to a served copy never writes into them.
type entry struct {
	key     string   // storage key: primary, or secondary for a variant
	primary string   // the cache key (KeyOf); purge by key matches it
	marker  bool     // a vary marker: vary lists the secondary key's headers
	vary    []string // lower-case; nil when the response does not vary

	status int
	header http.Header
	body   []byte
	tags   []string

	storedAt   time.Time     // when it was received here (local clock)
	initialAge time.Duration // its age when received (RFC 9111 §4.2.3)
	freshness
	until time.Time // if not zero, never served past it (near copies)

	node      string   // the node that stored it first, for Cache-Status
	hitStatus []string // the Cache-Status line of a hit, made once
	cost      int64
}

// state is where an entry's age puts it.
type state int

const (
	expired      state = iota // past every window: revalidate or refetch
	fresh                     // serve it
	staleServing              // within stale-while-revalidate: serve it and refresh
)

// age is e's current age: never below the age it had when received,
// whatever the clock does.
func (e *entry) age(now time.Time) time.Duration {
	return e.initialAge + max(0, now.Sub(e.storedAt))
}

func (e *entry) state(now time.Time) state {
	if !e.until.IsZero() && !now.Before(e.until) {
		return expired
	}
	switch age := e.age(now); {
	case age < e.lifetime:
		return fresh
	case age < e.lifetime+e.swr:
		return staleServing
	}
	return expired
}

// usableOnError reports whether e may stand in for an upstream error.
func (e *entry) usableOnError(now time.Time) bool {
	return e.age(now) < e.lifetime+e.sie && (e.until.IsZero() || now.Before(e.until))
}

// keep is how long the tier should keep e in memory (real time): its
// remaining freshness and stale windows, plus, when it has validators,
// time to revalidate it with a conditional request. At least a second.
func (e *entry) keep(now time.Time) time.Duration {
	d := e.lifetime - e.age(now) + max(e.swr, e.sie)
	if hasValidator(e.header) {
		d = max(d, 0) + min(max(e.lifetime, time.Minute), time.Hour)
	}
	if !e.until.IsZero() {
		d = min(d, e.until.Sub(now))
	}
	return max(d, time.Second)
}

// newEntry makes the entry for a storable response.
// r is the request that fetched it: its headers pick the variant.
func (c *Cache) newEntry(p *policy, r *http.Request, key string, vary []string, status int, h http.Header, body []byte,
	reqTime, respTime time.Time, f freshness) *entry {
	e := &entry{
		primary: key, key: key, vary: vary,
		status: status, body: body,
		storedAt: respTime, freshness: f,
		node: c.cfg.Name,
	}
	e.header = storedHeader(h, p.tagHeaders)
	if _, ok := e.header["Date"]; !ok {
		e.header["Date"] = []string{respTime.UTC().Format(http.TimeFormat)}
	}
	if _, ok := e.header["Content-Length"]; !ok && r.Method == http.MethodGet && bodyAllowed(status) {
		e.header["Content-Length"] = []string{strconv.Itoa(len(body))} // it streamed chunked
	}
	e.initialAge = initialAge(h, responseDate(h, respTime), reqTime, respTime)
	e.tags = tagsOf(h, p.tagHeaders)
	if len(vary) > 0 {
		e.key = variantKey(key, vary, r)
	}
	c.finishEntry(e)
	return e
}

// finishEntry sets what follows from an entry's other fields: its
// Cache-Status line and cost.
func (c *Cache) finishEntry(e *entry) {
	e.hitStatus = []string{statusLine("hit", e.node)}
	if e.node != c.cfg.Name {
		e.hitStatus[0] += "; detail=near"
	}
	e.cost = entryCost(e)
}

// entryCost is the memory an entry is charged in its tier.
func entryCost(e *entry) int64 {
	n := int64(entryOverhead + len(e.key) + len(e.primary) + len(e.body))
	for k, vs := range e.header {
		n += int64(len(k)) + 16
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	for _, t := range e.tags {
		n += 2*int64(len(t)) + 48
	}
	for _, v := range e.vary {
		n += int64(len(v)) + 16
	}
	return n
}

// markerFor makes the vary marker stored at e's primary key.
func markerFor(e *entry) *entry {
	m := &entry{key: e.primary, primary: e.primary, marker: true, vary: e.vary,
		storedAt: e.storedAt, initialAge: e.initialAge, freshness: e.freshness, until: e.until, node: e.node}
	m.cost = entryCost(m)
	return m
}

// refreshed is e updated by a 304 to a conditional request (RFC 9111
// §4.3.4): the 304's header fields replace e's, and freshness is computed
// anew.
func (c *Cache) refreshed(p *policy, e *entry, r *http.Request, h304 http.Header, reqTime, respTime time.Time) (*entry, bool) {
	h := e.header.Clone()
	for k, vs := range h304 {
		switch k {
		case "Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Transfer-Encoding":
			continue
		}
		h[k] = vs
	}
	h.Del("Age")
	if len(h304["Date"]) == 0 {
		h.Del("Date")
	}
	f, reason := p.storable(r, e.status, h, responseDate(h, respTime))
	if reason != "" {
		return nil, false
	}
	n := c.newEntry(p, r, e.primary, p.responseVary(h), e.status, h, e.body, reqTime, respTime, f)
	return n, true
}

// hopHeaders are removed from stored responses (RFC 9110 §7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// storedHeader copies h without hop-by-hop fields, Age, Set-Cookie,
// Set-Cookie2, Portico-Cache-Control (Portico's alone) and the tag
// headers. Clone clips every value slice.
func storedHeader(h http.Header, tagHeaders []string) http.Header {
	s := h.Clone()
	if s == nil {
		s = make(http.Header)
	}
	for _, c := range h["Connection"] {
		for f := range strings.SplitSeq(c, ",") {
			s.Del(strings.TrimSpace(f))
		}
	}
	for _, k := range hopHeaders {
		delete(s, k)
	}
	delete(s, "Age")
	delete(s, "Set-Cookie")
	delete(s, "Set-Cookie2")
	delete(s, porticoCacheControl)
	for _, k := range tagHeaders {
		delete(s, k)
	}
	return s
}

// tagsOf lists the purge tags in h's tag headers, split on spaces and
// commas, deduplicated, bounded by maxTags and maxTagLen.
func tagsOf(h http.Header, tagHeaders []string) []string {
	var tags []string
	for _, k := range tagHeaders {
		for _, v := range h[k] {
			for t := range strings.FieldsFuncSeq(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
				if len(t) <= maxTagLen && len(tags) < maxTags && !containsTag(tags, t) {
					tags = append(tags, t)
				}
			}
		}
	}
	return tags
}

func containsTag(tags []string, t string) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// contentLength is the Content-Length of h, or -1.
func contentLength(h http.Header) int64 {
	v := h["Content-Length"]
	if len(v) != 1 {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v[0]), 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}
