package ring

import "math"

// Score is the rendezvous score of a candidate whose 64-bit hash for a key
// is h and whose weight is w, exactly as a Ring scores its members: the
// candidate with the highest score wins the key, and when the hashes are
// uniform and independent across candidates one wins with probability
// w/Σw. w counts as New counts Member.Weight: not a positive finite number
// means 1. The score is positive, and finite for any w below about 1e292
// (-ln(u) is at least about 2^-53).
//
// It uses h's top 52 bits x and u = (x+0.5)/2^52. That is exact in a
// float64 (x+0.5 needs 53 bits of mantissa) and strictly inside (0, 1),
// so ln(u) is negative and finite. Taking 53 bits instead, as node/proxy
// once did, needs 54: x+0.5 rounds, and for x = 2^53-1 it rounds to u = 1,
// ln(u) = 0 and a score of -Inf (or, written w/-ln(u), a candidate that can
// never win). Score costs one logarithm; see Picker for the shortcut when
// all weights are equal.
func Score(h uint64, w float64) float64 {
	return weightedScore(h, effectiveWeight(w))
}

// weightedScore is Score for an effective weight w.
func weightedScore(h uint64, w float64) float64 {
	u := (float64(h>>12) + 0.5) / (1 << 52)
	return -w / math.Log(u)
}

// rank is the score a Ring or Picker ranks by. With uniform set (every
// candidate has the same weight) it is h's top 52 bits, exact in a float64,
// which orders candidates exactly as weightedScore does (-w/ln(u) grows
// with u) without the logarithm.
func rank(h uint64, w float64, uniform bool) float64 {
	if uniform {
		return float64(h >> 12)
	}
	return weightedScore(h, w)
}

// Picker finds the rendezvous winner of one key among candidates offered
// to it one at a time, ranked exactly as Ring.Owner ranks members. It is
// for callers that keep their own candidates and hash a key to each of
// them their own way (node/proxy's hash balancer skips unavailable targets
// and salts the key with each target's seed). It is a small value: keep it
// on the stack, one per key; it never allocates.
//
// The zero Picker ranks by Score; NewPicker(true) ranks by hash alone.
type Picker struct {
	uniform bool
	ok      bool // a candidate was offered
	best    int
	score   float64
}

// NewPicker returns a Picker for one key. With uniform set the caller
// promises that every candidate it offers has the same weight: weights are
// then ignored and candidates rank by their hash's top 52 bits, the order
// Score would give them, without its logarithm. If the weights differ,
// pass false.
func NewPicker(uniform bool) Picker {
	return Picker{uniform: uniform}
}

// Offer scores candidate i, whose hash for the key is h and whose weight
// is w (as for Score). On equal scores the candidate offered first keeps
// the lead, so offer candidates in a fixed order (a Ring offers its
// members sorted by ID).
func (p *Picker) Offer(i int, h uint64, w float64) {
	if !p.uniform {
		w = effectiveWeight(w)
	}
	if s := rank(h, w, p.uniform); !p.ok || s > p.score {
		p.ok, p.best, p.score = true, i, s
	}
}

// Best returns the winning candidate's index as given to Offer, and false
// if no candidate was offered.
func (p *Picker) Best() (int, bool) {
	return p.best, p.ok
}
