package ring

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomMembers returns n members with random IDs spread over three regions.
func randomMembers(rng *rand.Rand, n int) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = Member{ID: fmt.Sprintf("node-%x", rng.Uint32()), Region: fmt.Sprint("r", i%3)}
	}
	return ms
}

// randomKeys returns n random cache-key-like strings.
func randomKeys(rng *rand.Rand, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("GET api.example.com/v1/items/%d?page=%d", rng.Uint64(), rng.IntN(100))
	}
	return keys
}

// owners returns each key's owner ID on r.
func owners(r *Ring, keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		m, _ := r.Owner(k)
		out[i] = m.ID
	}
	return out
}

// movementBound is the most keys a change may move on a ring that has n
// members with the changed one: 1.25 times its fair share plus slack.
func movementBound(keys, n int) int {
	return keys*5/(4*n) + 50
}

// TestMovement checks the consistent-hashing promise: adding or removing
// one member moves only the keys it gains or loses, about 1/N of them.
func TestMovement(t *testing.T) {
	const numKeys = 20000
	for _, n := range []int{3, 5, 10, 20} {
		t.Run(fmt.Sprint("N=", n), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(n), 42))
			keys := randomKeys(rng, numKeys)
			members := randomMembers(rng, n)
			before := owners(New(members), keys)

			added := Member{ID: fmt.Sprintf("added-%x", rng.Uint32())}
			afterAdd := owners(New(append(slices.Clone(members), added)), keys)
			checkMoves(t, "add", keys, before, afterAdd, added.ID, movementBound(numKeys, n+1))

			gone := members[rng.IntN(n)]
			rest := slices.DeleteFunc(slices.Clone(members), func(m Member) bool { return m.ID == gone.ID })
			afterRemove := owners(New(rest), keys)
			checkMoves(t, "remove", keys, afterRemove, before, gone.ID, movementBound(numKeys, n))
		})
	}
}

// checkMoves checks that keys whose owner differs between small (the ring
// without member changed) and big (with it) are exactly those that changed
// owns in big, and that there are at most bound of them.
func checkMoves(t *testing.T, op string, keys, small, big []string, changed string, bound int) {
	t.Helper()
	moved := 0
	for i := range keys {
		if small[i] == big[i] {
			if small[i] == changed {
				t.Fatalf("%s: key %q owned by %q on both rings", op, keys[i], changed)
			}
			continue
		}
		moved++
		if big[i] != changed {
			t.Fatalf("%s %q: key %q moved between %q and %q, want only keys of the changed member to move",
				op, changed, keys[i], small[i], big[i])
		}
	}
	if moved > bound {
		t.Errorf("%s %q: moved %d of %d keys, want at most %d", op, changed, moved, len(keys), bound)
	}
	if moved == 0 {
		t.Errorf("%s %q: moved no keys, want the changed member to own some", op, changed)
	}
}

// TestOwners_StableOnRemove checks that removing a member only drops it from
// each key's preference list: replicas do not reshuffle.
func TestOwners_StableOnRemove(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	members := randomMembers(rng, 10)
	members[2].Weight = 2
	full := New(members)
	gone := members[4].ID
	rest := New(slices.DeleteFunc(slices.Clone(members), func(m Member) bool { return m.ID == gone }))
	for _, k := range randomKeys(rng, 2000) {
		want := slices.DeleteFunc(full.Owners(k, 4), func(m Member) bool { return m.ID == gone })
		got := rest.Owners(k, len(want))
		if !slices.Equal(got, want) {
			t.Fatalf("after removing %q, Owners(%q) = %q, want %q", gone, k, ids(got), ids(want))
		}
	}
}

// TestShares checks that each member owns about its weight's share of keys.
// Bounds are loose (±15% of the share); the seed is fixed.
func TestShares(t *testing.T) {
	const numKeys = 20000
	tests := []struct {
		name    string
		weights []float64
	}{
		{name: "uniform 5", weights: []float64{1, 1, 1, 1, 1}},
		{name: "uniform 10 as zero", weights: make([]float64, 10)},
		{name: "1 2 3 4", weights: []float64{1, 2, 3, 4}},
		{name: "fractions", weights: []float64{0.5, 0.25, 0.25, 1}},
		{name: "one heavy", weights: []float64{8, 1, 1, 1, 1, 1, 1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(17, uint64(len(tt.weights))))
			members := randomMembers(rng, len(tt.weights))
			var total float64
			for i, w := range tt.weights {
				members[i].Weight = w
				total += effectiveWeight(w)
			}
			count := map[string]int{}
			for _, id := range owners(New(members), randomKeys(rng, numKeys)) {
				count[id]++
			}
			for _, m := range members {
				want := numKeys * effectiveWeight(m.Weight) / total
				if got := float64(count[m.ID]); got < 0.85*want || got > 1.15*want {
					t.Errorf("member %q (weight %v) owns %v keys, want %.0f ± 15%%", m.ID, m.Weight, got, want)
				}
			}
		})
	}
}
