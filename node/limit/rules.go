package limit

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/portico-gw/portico/limiter"
	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/node/exchange"
)

// byKind is one part of a limit's key (config RateLimit.By).
type byKind uint8

const (
	byConsumer byKind = iota + 1
	byAPIKey
	byClientIP
	byRoute
	byHeader
)

// rule is one configured limit compiled for requests: the limiter
// Request without its key, and how to build the key.
type rule struct {
	req limiter.Request
	// prefix names where the rule comes from ("route r #1", "plan gold
	// #2", ...), so that two limits never share a key.
	prefix string
	by     []byPart
}

type byPart struct {
	kind   byKind
	header string // canonical name, for byHeader
}

// compileRules turns config limits into rules whose keys start with
// source (e.g. "route\x00api").
func compileRules(source string, ls []config.RateLimit) []rule {
	out := make([]rule, 0, len(ls))
	for i, l := range ls {
		ru := rule{
			req: limiter.Request{Limit: limiter.Limit{Name: l.Name, Rate: l.Rate.Count, Period: l.Rate.Period,
				Burst: int64(l.Burst), Scope: l.Scope, Mode: l.Mode}},
			prefix: source + "\x00#" + strconv.Itoa(i+1),
		}
		for _, b := range l.By {
			switch {
			case b == "consumer":
				ru.by = append(ru.by, byPart{kind: byConsumer})
			case b == "api_key":
				ru.by = append(ru.by, byPart{kind: byAPIKey})
			case b == "client_ip":
				ru.by = append(ru.by, byPart{kind: byClientIP})
			case b == "route":
				ru.by = append(ru.by, byPart{kind: byRoute})
			default: // header:NAME, validated
				ru.by = append(ru.by, byPart{kind: byHeader, header: http.CanonicalHeaderKey(b[len("header:"):])})
			}
		}
		out = append(out, ru)
	}
	return out
}

// QuotaRequest is a plan's quota for a consumer: counted by consumer name
// under the policy "PLAN/PER", so a consumer who changes plans starts a
// new count. Usage and Reset use the same key.
func QuotaRequest(plan string, q *config.Quota, consumer string) limiter.Request {
	return limiter.Request{Key: "consumer\x00" + consumer,
		Quota: limiter.Quota{Name: plan + "/" + q.Per, Count: q.Limit, Period: q.Per}}
}

// class orders the limits of one request, cheapest first (Allow stops at
// the first denial): local, global async, global strict, quota.
func class(r *limiter.Request) int {
	switch {
	case r.Quota.Count != 0:
		return 3
	case r.Limit.Scope == limiter.ScopeLocal:
		return 0
	case r.Limit.Mode == limiter.ModeStrict:
		return 2
	}
	return 1
}

// input is what keys are built from, gathered once per request.
type input struct {
	r        *http.Request
	route    string
	who      *exchange.Identity
	clientIP string // limiter.AddrKey: IPv6 clients by /64
}

// key builds ru's key for in. Parts are length-prefixed, so no value can
// forge another key's parts.
func (ru *rule) key(in *input) string {
	b := make([]byte, 0, len(ru.prefix)+48)
	b = append(b, ru.prefix...)
	for _, p := range ru.by {
		var v string
		switch p.kind {
		case byConsumer:
			v = "c:" + in.who.Consumer
			if in.who.Anonymous() {
				v = "ip:" + in.clientIP // anonymous: counted by address
			}
		case byAPIKey:
			v = "k:" + in.who.KeyID
			if in.who.KeyID == "" {
				v = "ip:" + in.clientIP
			}
		case byClientIP:
			v = in.clientIP
		case byRoute:
			v = in.route
		case byHeader:
			v = in.r.Header.Get(p.header)
			if len(v) > 64 {
				// Long values would make long keys: count them by hash.
				sum := sha256.Sum256([]byte(v))
				v = "h:" + hex.EncodeToString(sum[:12])
			}
		}
		b = append(b, '\x00')
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ':')
		b = append(b, v...)
	}
	return string(b)
}

// appendRequests appends the limiter requests of rules for in.
func appendRequests(dst []limiter.Request, rules []rule, in *input) []limiter.Request {
	for i := range rules {
		req := rules[i].req
		req.Key = rules[i].key(in)
		dst = append(dst, req)
	}
	return dst
}

// sortRequests orders reqs by class, stably (insertion sort: a request
// has a handful).
func sortRequests(reqs []limiter.Request) {
	for i := 1; i < len(reqs); i++ {
		for j := i; j > 0 && class(&reqs[j]) < class(&reqs[j-1]); j-- {
			reqs[j], reqs[j-1] = reqs[j-1], reqs[j]
		}
	}
}
