package proxy

import (
	"math"
	"net/http"
	"net/netip"
	"strings"
)

// hashKey returns the hash of the request's balancing key, and false when
// the request has none (the caller then balances round robin).
func hashKey(r *http.Request, on hashOn, trusted []netip.Prefix) (uint64, bool) {
	switch on.kind {
	case hashHeader:
		if v := r.Header[on.name]; len(v) > 0 && v[0] != "" {
			return hashString(v[0]), true
		}
	case hashCookie:
		if v, ok := cookieValue(r.Header["Cookie"], on.name); ok {
			return hashString(v), true
		}
	case hashClientIP:
		if ip := ClientIP(r, trusted); ip.IsValid() {
			b := ip.As16()
			return hashString(string(b[:])), true
		}
	}
	return 0, false
}

// cookieValue finds a cookie by name in Cookie header lines without
// allocating (http.Request.Cookie parses every cookie).
func cookieValue(lines []string, name string) (string, bool) {
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name && v != "" {
				return strings.Trim(v, `"`), true
			}
		}
	}
	return "", false
}

// hashString is 64-bit FNV-1a, inline so that hashing a key allocates
// nothing.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is the splitmix64 finalizer: it spreads a key salted with a
// target's seed over all 64 bits.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// pickRendezvous is weighted rendezvous (highest random weight) hashing:
// every target scores the key, the best eligible score wins. Taking a
// target out moves only the keys it won (each to its runner-up), and a
// retry that excludes the first choice lands on the runner-up. With equal
// weights the raw scores compare directly; otherwise score = w / -ln(u)
// with u the score mapped into (0,1), which gives each target a share of
// keys proportional to its weight.
func pickRendezvous(ts []*target, ps *pickState, key uint64, equalWeights bool) *target {
	var best *target
	var bestRaw uint64
	bestScore := -1.0
	for _, t := range ts {
		if !ps.ok(t) {
			continue
		}
		raw := mix64(key ^ t.seed)
		if equalWeights {
			if best == nil || raw > bestRaw {
				best, bestRaw = t, raw
			}
			continue
		}
		u := (float64(raw>>11) + 0.5) / (1 << 53)
		if score := float64(t.weight) / -math.Log(u); score > bestScore {
			best, bestScore = t, score
		}
	}
	return best
}
