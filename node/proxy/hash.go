package proxy

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/portico-gw/portico/cluster/ring"
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
// every eligible target scores the key, the best score wins. Taking a
// target out moves only the keys it won (each to its runner-up), and a
// retry that excludes the first choice lands on the runner-up.
//
// The proxy only hashes: a target's hash for the key is mix64(key ^ seed),
// kept as it was so that keys stay on their targets across versions. The
// ranking is cluster/ring's (ring.Picker, the one Ring.Owner uses): with
// equal weights by hash alone, otherwise by ring.Score, w / -ln(u), which
// gives each target a share of keys proportional to its weight; on a tie
// the earlier target wins. This package's own copy used to map the hash's
// top 53 bits into (0, 1), which does not fit a float64 once 0.5 is added:
// a hash whose top 53 bits were all ones gave u = 1 and a score of -Inf,
// so that target could never win the key, and when it was the only one
// eligible no target was picked (a spurious ErrNoHealthyTarget). Ring's
// 52 bits are exact; the two rankings differ only where that rounding
// decides, about one key-target pair in 2^52 (TestHash_GoldenPicks pins
// the picks).
func pickRendezvous(ts []*target, ps *pickState, key uint64, equalWeights bool) *target {
	p := ring.NewPicker(equalWeights)
	for i, t := range ts {
		if ps.ok(t) {
			p.Offer(i, mix64(key^t.seed), float64(t.weight))
		}
	}
	if i, ok := p.Best(); ok {
		return ts[i]
	}
	return nil
}
