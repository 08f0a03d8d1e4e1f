package ring

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// tableHash returns a hash that looks the hashed bytes up in scores, written
// "key/id" (0 when absent), so a test's expected owner can be checked by hand
// (groupcache's TestHashing style). Equal weights: the highest hash wins.
func tableHash(scores map[string]uint64) func([]byte) uint64 {
	return func(b []byte) uint64 {
		return scores[strings.Replace(string(b), keySeparator, "/", 1)]
	}
}

func ids(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestOwner_InjectedHash(t *testing.T) {
	a, b, c := Member{ID: "a"}, Member{ID: "b"}, Member{ID: "c"}
	tests := []struct {
		name    string
		members []Member
		hashes  map[string]uint64
		key     string
		want    string
		wantOK  bool
	}{
		{name: "empty ring", key: "k", wantOK: false},
		{name: "single member owns every key", members: []Member{a}, key: "k", want: "a", wantOK: true},
		{
			name:    "highest hash wins",
			members: []Member{a, b, c},
			hashes:  map[string]uint64{"k/a": 1 << 40, "k/b": 3 << 40, "k/c": 2 << 40},
			key:     "k", want: "b", wantOK: true,
		},
		{
			name:    "each key has its own ranking",
			members: []Member{a, b, c},
			hashes:  map[string]uint64{"k/b": 3 << 40, "x/a": 5 << 40, "x/b": 4 << 40},
			key:     "x", want: "a", wantOK: true,
		},
		{
			name:    "tie goes to the smaller ID whatever the order",
			members: []Member{c, b, a},
			hashes:  map[string]uint64{"k/b": 7 << 40, "k/c": 7 << 40},
			key:     "k", want: "b", wantOK: true,
		},
		{
			// a: u≈1/2, score -1/ln(1/2) ≈ 1.44; b: u≈1/4, score -3/ln(1/4) ≈ 2.16.
			name:    "weight beats a higher hash",
			members: []Member{{ID: "a", Weight: 1}, {ID: "b", Weight: 3}},
			hashes:  map[string]uint64{"k/a": 1 << 63, "k/b": 1 << 62},
			key:     "k", want: "b", wantOK: true,
		},
		{
			// b: -1.5/ln(1/4) ≈ 1.08 < 1.44.
			name:    "too little weight loses",
			members: []Member{{ID: "a", Weight: 1}, {ID: "b", Weight: 1.5}},
			hashes:  map[string]uint64{"k/a": 1 << 63, "k/b": 1 << 62},
			key:     "k", want: "a", wantOK: true,
		},
		{
			name:    "zero weight counts as 1",
			members: []Member{{ID: "a", Weight: 0}, {ID: "b", Weight: 1}},
			hashes:  map[string]uint64{"k/a": 1 << 63, "k/b": 1 << 62},
			key:     "k", want: "a", wantOK: true,
		},
		{
			name:    "negative weight counts as 1",
			members: []Member{{ID: "a", Weight: -5}, {ID: "b", Weight: 1.5}},
			hashes:  map[string]uint64{"k/a": 1 << 63, "k/b": 1 << 62},
			key:     "k", want: "a", wantOK: true,
		},
		{
			name:    "duplicate IDs count once",
			members: []Member{b, a, b, b},
			hashes:  map[string]uint64{"k/b": 1 << 40},
			key:     "k", want: "b", wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(tt.members, WithHash(tableHash(tt.hashes)))
			got, ok := r.Owner(tt.key)
			if ok != tt.wantOK || got.ID != tt.want {
				t.Errorf("Owner(%q) = %q, %v, want %q, %v", tt.key, got.ID, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestOwners_InjectedHash(t *testing.T) {
	members := []Member{{ID: "d"}, {ID: "c"}, {ID: "b"}, {ID: "a"}}
	hashes := map[string]uint64{"k/a": 2 << 40, "k/b": 4 << 40, "k/c": 1 << 40, "k/d": 3 << 40}
	r := New(members, WithHash(tableHash(hashes)))
	tests := []struct {
		name string
		n    int
		want []string
	}{
		{name: "negative n", n: -1, want: nil},
		{name: "zero n", n: 0, want: nil},
		{name: "owner only", n: 1, want: []string{"b"}},
		{name: "two in preference order", n: 2, want: []string{"b", "d"}},
		{name: "all", n: 4, want: []string{"b", "d", "a", "c"}},
		{name: "more than members", n: 9, want: []string{"b", "d", "a", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Owners("k", tt.n)
			if !slices.Equal(ids(got), tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("Owners(%q, %d) = %q, want %q", "k", tt.n, ids(got), tt.want)
			}
		})
	}
}

func TestOwners_TiesAndWeights(t *testing.T) {
	members := []Member{{ID: "c"}, {ID: "b", Weight: 3}, {ID: "a"}, {ID: "e"}, {ID: "d"}}
	// Scores: b ≈ 2.16 (weight 3, u≈1/4); a, c, e ≈ 1.44 (u≈1/2), tied, so
	// by ID; d ≈ 0.72 (u≈1/4).
	hashes := map[string]uint64{"k/a": 1 << 63, "k/b": 1 << 62, "k/c": 1 << 63, "k/d": 1 << 62, "k/e": 1 << 63}
	r := New(members, WithHash(tableHash(hashes)))
	want := []string{"b", "a", "c", "e", "d"}
	if got := ids(r.Owners("k", 5)); !slices.Equal(got, want) {
		t.Errorf("Owners(k, 5) = %q, want %q", got, want)
	}
	if got := ids(r.Owners("k", 3)); !slices.Equal(got, want[:3]) {
		t.Errorf("Owners(k, 3) = %q, want %q", got, want[:3])
	}
}

func TestWithHash_HashesKeySeparatorID(t *testing.T) {
	var got []string
	hash := func(b []byte) uint64 {
		got = append(got, string(b))
		return 0
	}
	r := New([]Member{{ID: "node-2"}, {ID: "n1"}}, WithHash(hash))
	r.Owner("some/key")
	want := []string{"some/key\x00n1", "some/key\x00node-2"}
	if !slices.Equal(got, want) {
		t.Errorf("hashed %q, want %q", got, want)
	}
}

func TestWithHash_NilMeansDefault(t *testing.T) {
	ms := randomMembers(rand.New(rand.NewPCG(1, 2)), 7)
	def, withNil := New(ms), New(ms, WithHash(nil))
	for i := range 500 {
		key := fmt.Sprint("key-", i)
		a, _ := def.Owner(key)
		b, _ := withNil.Owner(key)
		if a != b {
			t.Fatalf("Owner(%q) with WithHash(nil) = %q, want %q", key, b.ID, a.ID)
		}
	}
}

func TestEmptyAndNilRing(t *testing.T) {
	tests := []struct {
		name string
		r    *Ring
	}{
		{name: "nil", r: nil},
		{name: "no members", r: New(nil)},
		{name: "empty slice", r: New([]Member{})},
		{name: "unknown region", r: New([]Member{{ID: "a", Region: "eu"}}).Scope("us")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, ok := tt.r.Owner("k"); ok {
				t.Errorf("Owner = %+v, true, want false", m)
			}
			if got := tt.r.Owners("k", 3); got != nil {
				t.Errorf("Owners = %+v, want nil", got)
			}
			if got := tt.r.Len(); got != 0 {
				t.Errorf("Len = %d, want 0", got)
			}
			if got := tt.r.Members(); len(got) != 0 {
				t.Errorf("Members = %+v, want none", got)
			}
			if got := tt.r.Scope("eu").Len(); got != 0 {
				t.Errorf("Scope(eu).Len = %d, want 0", got)
			}
		})
	}
}

func TestMembers(t *testing.T) {
	in := []Member{
		{ID: "c", Region: "us"},
		{ID: "a", Region: "eu", Weight: 2},
		{ID: "b", Region: "eu"},
		{ID: "a", Region: "ap"}, // duplicate: (ap) sorts before (eu), so it is kept
	}
	want := []Member{{ID: "a", Region: "ap"}, {ID: "b", Region: "eu"}, {ID: "c", Region: "us"}}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10 {
		rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		r := New(in)
		got := r.Members()
		if !slices.Equal(got, want) {
			t.Fatalf("Members() of %+v = %+v, want %+v", in, got, want)
		}
		if r.Len() != len(want) {
			t.Errorf("Len() = %d, want %d", r.Len(), len(want))
		}
		got[0].ID = "mutated"
		if r.Members()[0].ID != "a" {
			t.Fatalf("Members() exposes the ring's slice")
		}
	}
}

func TestNew_CopiesInput(t *testing.T) {
	in := []Member{{ID: "a"}, {ID: "b"}}
	r := New(in)
	in[0].ID = "z"
	if got := ids(r.Members()); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("after changing the input, Members() = %q, want [a b]", got)
	}
}

// TestDeterminism checks that the same members in any order, duplicates
// included, give the same owners and preference lists.
func TestDeterminism(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	members := randomMembers(rng, 12)
	members[3].Weight, members[7].Weight = 2.5, 0.5
	members = append(members, Member{ID: members[0].ID, Region: "zz"}) // duplicate
	keys := randomKeys(rng, 2000)
	base := New(members)
	for trial := range 5 {
		shuffled := slices.Clone(members)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		r := New(shuffled)
		for _, k := range keys {
			want, _ := base.Owner(k)
			got, _ := r.Owner(k)
			if got != want {
				t.Fatalf("trial %d: Owner(%q) = %+v, want %+v", trial, k, got, want)
			}
			if g, w := r.Owners(k, 4), base.Owners(k, 4); !slices.Equal(g, w) {
				t.Fatalf("trial %d: Owners(%q, 4) = %q, want %q", trial, k, ids(g), ids(w))
			}
		}
	}
}

func TestOwners_AgreesWithOwner(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, weighted := range []bool{false, true} {
		members := randomMembers(rng, 80)
		if weighted {
			for i := range members {
				members[i].Weight = 0.5 + rng.Float64()*3
			}
		}
		r := New(members)
		for _, k := range randomKeys(rng, 300) {
			owner, _ := r.Owner(k)
			all := r.Owners(k, r.Len()) // n > 64: the scratch-slice path
			if all[0] != owner {
				t.Fatalf("weighted=%v: Owners(%q, all)[0] = %q, want Owner %q", weighted, k, all[0].ID, owner.ID)
			}
			for n := 1; n <= 5; n++ {
				if got := r.Owners(k, n); !slices.Equal(got, all[:n]) {
					t.Fatalf("weighted=%v: Owners(%q, %d) = %q, want prefix %q", weighted, k, n, ids(got), ids(all[:n]))
				}
			}
			sorted := slices.Clone(ids(all))
			slices.Sort(sorted)
			if !slices.Equal(sorted, ids(r.Members())) {
				t.Fatalf("weighted=%v: Owners(%q, all) is not every member once: %q", weighted, k, ids(all))
			}
		}
	}
}

func TestScope(t *testing.T) {
	members := []Member{
		{ID: "eu-1", Region: "eu"}, {ID: "us-1", Region: "us"}, {ID: "eu-2", Region: "eu"},
		{ID: "us-2", Region: "us", Weight: 2}, {ID: "eu-3", Region: "eu"}, {ID: "none"},
	}
	r := New(members)
	tests := []struct {
		name   string
		region string
		want   []string
	}{
		{name: "eu", region: "eu", want: []string{"eu-1", "eu-2", "eu-3"}},
		{name: "us", region: "us", want: []string{"us-1", "us-2"}},
		{name: "empty region name", region: "", want: []string{"none"}},
		{name: "unknown region", region: "ap", want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := r.Scope(tt.region)
			if got := ids(s.Members()); !slices.Equal(got, tt.want) {
				t.Fatalf("Scope(%q).Members() = %q, want %q", tt.region, got, tt.want)
			}
			if s != r.Scope(tt.region) {
				t.Errorf("Scope(%q) built a new ring, want the precomputed one", tt.region)
			}
			if again := s.Scope(tt.region); again != s && len(tt.want) > 0 {
				t.Errorf("Scope(%q).Scope(%q) is not the same ring", tt.region, tt.region)
			}
			if other := s.Scope("elsewhere"); other.Len() != 0 {
				t.Errorf("Scope(%q).Scope(elsewhere).Len() = %d, want 0", tt.region, other.Len())
			}
			// A scope owns keys exactly like a ring of its members.
			standalone := New(s.Members())
			for _, k := range randomKeys(rand.New(rand.NewPCG(9, 10)), 500) {
				got, gotOK := s.Owner(k)
				want, wantOK := standalone.Owner(k)
				if got != want || gotOK != wantOK {
					t.Fatalf("Scope(%q).Owner(%q) = %q, want %q", tt.region, k, got.ID, want.ID)
				}
				if gotOK && got.Region != tt.region {
					t.Fatalf("Scope(%q).Owner(%q) is in region %q", tt.region, k, got.Region)
				}
			}
		})
	}
}

func TestScope_KeepsInjectedHash(t *testing.T) {
	hashes := map[string]uint64{"k/a": 1 << 40, "k/b": 2 << 40, "k/c": 3 << 40}
	r := New([]Member{{ID: "a", Region: "x"}, {ID: "b", Region: "x"}, {ID: "c", Region: "y"}},
		WithHash(tableHash(hashes)))
	if got, _ := r.Scope("x").Owner("k"); got.ID != "b" {
		t.Errorf("Scope(x).Owner(k) = %q, want b", got.ID)
	}
	if got, _ := r.Owner("k"); got.ID != "c" {
		t.Errorf("Owner(k) = %q, want c", got.ID)
	}
}

func TestOwner_DoesNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	weighted := randomMembers(rng, 10)
	weighted[0].Weight = 3
	tests := []struct {
		name string
		r    *Ring
	}{
		{name: "uniform", r: New(randomMembers(rng, 10))},
		{name: "weighted", r: New(weighted)},
		{name: "scope", r: New(weighted).Scope(weighted[0].Region)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "GET example.com/some/longer/path/than/thirty/two/bytes?q=1"
			if got := testing.AllocsPerRun(100, func() { tt.r.Owner(key) }); got != 0 {
				t.Errorf("Owner allocates %v times per call, want 0", got)
			}
			if got := testing.AllocsPerRun(100, func() { tt.r.Owners(key, 3) }); got != 1 {
				t.Errorf("Owners(key, 3) allocates %v times per call, want 1 (the result)", got)
			}
		})
	}
}

// TestConcurrentLookups is for the race detector: lookups on shared rings
// while another goroutine swaps them through an atomic.Pointer, the way
// cluster uses a Ring.
func TestConcurrentLookups(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	rings := []*Ring{New(randomMembers(rng, 5)), New(randomMembers(rng, 6))}
	keys := randomKeys(rng, 200)
	var cur atomic.Pointer[Ring]
	cur.Store(rings[0])
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 20 {
			cur.Store(rings[i%2])
		}
	})
	for range 3 {
		wg.Go(func() {
			for _, k := range keys {
				r := cur.Load()
				if _, ok := r.Owner(k); !ok {
					t.Errorf("Owner(%q) found no owner", k)
				}
				r.Owners(k, 2)
				r.Scope("r1").Owner(k)
			}
		})
	}
	wg.Wait()
}
