package ring

// ownersStack is how many scores Owners keeps on the stack; a larger n needs
// a scratch slice besides the result.
const ownersStack = 64

// Owner returns the member that owns key, and false if the ring is empty.
// It does not allocate with the default hash.
func (r *Ring) Owner(key string) (Member, bool) {
	if r.Len() == 0 {
		return Member{}, false
	}
	kh := r.hasherFor(key)
	// Members are offered in ID order: on a tie the smaller ID keeps the key.
	p := NewPicker(r.uniform)
	for i := range r.members {
		p.Offer(i, kh.sum(r.members[i].ID), r.weights[i])
	}
	best, _ := p.Best()
	return r.members[best], true
}

// Owners returns up to n distinct members for key in preference order: the
// owner first, then the member that would own key if the owner left, and so
// on. Owners(key, 1) is [Owner(key)], and removing a member from the ring
// only removes it from the list. It returns nil if n <= 0 or the ring is
// empty, and all members if n >= Len. Cost is O(Len·n); it allocates the
// result and, for n > 64, a scratch slice of scores.
func (r *Ring) Owners(key string, n int) []Member {
	n = min(n, r.Len())
	if n <= 0 {
		return nil
	}
	var stack [ownersStack]float64
	scores := stack[:0]
	if n > len(stack) {
		scores = make([]float64, 0, n)
	}
	out := make([]Member, 0, n)
	kh := r.hasherFor(key)
	for i := range r.members {
		s := r.score(kh.sum(r.members[i].ID), r.weights[i])
		// Insertion into a list sorted by descending score. Members come in
		// ID order, so stopping at an equal score ranks smaller IDs first,
		// the same tie-break as Owner.
		j := len(scores)
		for j > 0 && s > scores[j-1] {
			j--
		}
		if j == n {
			continue
		}
		if len(scores) < n {
			scores = append(scores, 0)
			out = append(out, Member{})
		}
		copy(scores[j+1:], scores[j:])
		copy(out[j+1:], out[j:])
		scores[j], out[j] = s, r.members[i]
	}
	return out
}
