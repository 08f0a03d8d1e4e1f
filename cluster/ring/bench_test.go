package ring

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchRing returns a ring of n members and keys to look up on it.
func benchRing(n int, weighted bool) (*Ring, []string) {
	rng := rand.New(rand.NewPCG(21, uint64(n)))
	members := randomMembers(rng, n)
	if weighted {
		for i := range members {
			members[i].Weight = 1 + float64(i%4)
		}
	}
	return New(members), randomKeys(rng, 1024)
}

func BenchmarkOwner(b *testing.B) {
	for _, n := range []int{3, 10, 100} {
		for _, weighted := range []bool{false, true} {
			b.Run(fmt.Sprintf("members=%d/weighted=%v", n, weighted), func(b *testing.B) {
				r, keys := benchRing(n, weighted)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					r.Owner(keys[i%len(keys)])
					i++
				}
			})
		}
	}
}

func BenchmarkOwners(b *testing.B) {
	for _, n := range []int{3, 10, 100} {
		b.Run(fmt.Sprintf("members=%d/n=3", n), func(b *testing.B) {
			r, keys := benchRing(n, false)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r.Owners(keys[i%len(keys)], 3)
				i++
			}
		})
	}
}

func BenchmarkNew(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			members := randomMembers(rand.New(rand.NewPCG(23, 24)), n)
			b.ReportAllocs()
			for b.Loop() {
				New(members)
			}
		})
	}
}
