package ring_test

import (
	"fmt"
	"sync/atomic"

	"github.com/portico-gw/portico/cluster/ring"
)

// A node keeps the current ring in an atomic.Pointer: membership changes
// build a new ring and swap it in, lookups load whichever ring is current.
func Example() {
	var current atomic.Pointer[ring.Ring]
	current.Store(ring.New([]ring.Member{
		{ID: "node-1", Region: "eu"},
		{ID: "node-2", Region: "eu"},
		{ID: "node-3", Region: "us", Weight: 2},
	}))

	r := current.Load()
	owner, _ := r.Owner("GET example.com/a")
	local, _ := r.Scope("eu").Owner("GET example.com/a")
	fmt.Println("owner:", owner.ID)
	fmt.Println("owner in eu:", local.ID)
	fmt.Println("replicas:", len(r.Owners("GET example.com/a", 2)))

	// node-3 left: rebuild and swap.
	current.Store(ring.New(r.Scope("eu").Members()))
	owner, _ = current.Load().Owner("GET example.com/a")
	fmt.Println("owner after node-3 left:", owner.ID)
	// Output:
	// owner: node-3
	// owner in eu: node-1
	// replicas: 2
	// owner after node-3 left: node-1
}
