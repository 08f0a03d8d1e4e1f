package ring_test

import (
	"fmt"
	"hash/fnv"

	"github.com/portico-gw/portico/cluster/ring"
)

// A caller with its own candidates hashes the key to each one its own way
// and lets a Picker rank them; here a candidate that is down is skipped.
func ExamplePicker() {
	backends := []struct {
		name   string
		weight float64
		up     bool
	}{{"a", 1, true}, {"b", 2, false}, {"c", 1, true}}
	hash := func(key, name string) uint64 {
		h := fnv.New64a()
		h.Write([]byte(key + "\x00" + name))
		return h.Sum64()
	}
	p := ring.NewPicker(false) // weights differ
	for i, b := range backends {
		if b.up {
			p.Offer(i, hash("user-42", b.name), b.weight)
		}
	}
	if i, ok := p.Best(); ok {
		fmt.Println(backends[i].name)
	}
	// Output: c
}
