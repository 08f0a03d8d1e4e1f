package ring

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestScore_PositiveFiniteAtExtremes checks Score at the hashes where u is
// closest to 0 and to 1: with 53 bits instead of 52 the top hash would
// round to u = 1 and score -Inf.
func TestScore_PositiveFiniteAtExtremes(t *testing.T) {
	for _, h := range []uint64{0, 1<<12 - 1, 1 << 12, 1 << 63, math.MaxUint64 - 1<<12, math.MaxUint64} {
		for _, w := range []float64{1, 0.001, 3, 1e6} {
			s := Score(h, w)
			if !(s > 0) || math.IsInf(s, 0) {
				t.Errorf("Score(%#x, %g) = %g, want positive and finite", h, w, s)
			}
		}
	}
	if lo, hi := Score(0, 1), Score(math.MaxUint64, 1); !(lo < hi) {
		t.Errorf("Score(0) = %g, Score(max) = %g, want increasing", lo, hi)
	}
}

// TestScore_InvalidWeightCountsAsOne checks that Score treats weights as
// New treats Member.Weight.
func TestScore_InvalidWeightCountsAsOne(t *testing.T) {
	const h = 0x34fae1e58d75bf2e
	for _, w := range []float64{0, -1, math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got, want := Score(h, w), Score(h, 1); got != want {
			t.Errorf("Score(h, %g) = %g, want Score(h, 1) = %g", w, got, want)
		}
	}
	if Score(h, 2) != 2*Score(h, 1) {
		t.Errorf("Score is not proportional to the weight")
	}
}

// TestPicker_AgreesWithOwners checks that a Picker offered a ring's members
// with the default hash picks each key's Owners(key, 1), for uniform and
// weighted rings (Owners ranks without a Picker).
func TestPicker_AgreesWithOwners(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, weighted := range []bool{false, true} {
		ms := randomMembers(rng, 12)
		if weighted {
			for i := range ms {
				ms[i].Weight = float64(1 + i%4)
			}
		}
		r := New(ms)
		sorted := r.Members()
		for _, key := range randomKeys(rng, 2000) {
			p := NewPicker(!weighted)
			for i, m := range sorted {
				p.Offer(i, defaultHash([]byte(key+keySeparator+m.ID)), m.Weight)
			}
			best, ok := p.Best()
			if want := r.Owners(key, 1)[0].ID; !ok || sorted[best].ID != want {
				t.Fatalf("weighted=%v: Picker chose %q for %q, Owners %q", weighted, sorted[best].ID, key, want)
			}
		}
	}
}

func TestPicker_EmptyTiesAndUniform(t *testing.T) {
	var p Picker
	if _, ok := p.Best(); ok {
		t.Fatal("an empty Picker has a winner")
	}
	for _, uniform := range []bool{false, true} {
		p := NewPicker(uniform)
		p.Offer(7, 1<<40, 1)
		p.Offer(3, 1<<40, 1) // equal score: the first keeps it
		p.Offer(9, 1<<39, 1)
		if best, ok := p.Best(); !ok || best != 7 {
			t.Errorf("uniform=%v: Best = %d, %v, want 7 (first of the tied)", uniform, best, ok)
		}
	}
	// A uniform Picker ignores weights; a weighted one does not.
	for _, tt := range []struct {
		uniform bool
		want    int
	}{{true, 1}, {false, 0}} {
		p := NewPicker(tt.uniform)
		p.Offer(0, 1<<62, 1000)
		p.Offer(1, 1<<63, 1)
		if best, _ := p.Best(); best != tt.want {
			t.Errorf("uniform=%v: Best = %d, want %d", tt.uniform, best, tt.want)
		}
	}
}

// TestPicker_Shares checks that with random hashes a candidate wins with
// probability w/Σw.
func TestPicker_Shares(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	weights := []float64{1, 2, 3, 4}
	const keys = 40000
	wins := make([]int, len(weights))
	for range keys {
		p := NewPicker(false)
		for i, w := range weights {
			p.Offer(i, rng.Uint64(), w)
		}
		best, _ := p.Best()
		wins[best]++
	}
	for i, w := range weights {
		want := w / 10
		if got := float64(wins[i]) / keys; math.Abs(got-want) > 0.02 {
			t.Errorf("candidate of weight %g won %.3f of keys, want %.3f±0.02", w, got, want)
		}
	}
}

func TestPicker_DoesNotAllocate(t *testing.T) {
	for _, uniform := range []bool{false, true} {
		allocs := testing.AllocsPerRun(100, func() {
			p := NewPicker(uniform)
			for i := range 8 {
				p.Offer(i, uint64(i)*0x9e3779b97f4a7c15, float64(1+i%2))
			}
			if _, ok := p.Best(); !ok {
				t.Fatal("no winner")
			}
		})
		if allocs != 0 {
			t.Errorf("uniform=%v: %v allocations per pick, want 0", uniform, allocs)
		}
	}
}

func BenchmarkPicker(b *testing.B) {
	for _, uniform := range []bool{true, false} {
		b.Run(map[bool]string{true: "uniform", false: "weighted"}[uniform], func(b *testing.B) {
			b.ReportAllocs()
			h := uint64(1)
			for b.Loop() {
				p := NewPicker(uniform)
				for i := range 8 {
					h = h*6364136223846793005 + 1442695040888963407
					p.Offer(i, h, float64(1+i%3))
				}
				p.Best()
			}
		})
	}
}
