package ring

import (
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDefaultHash_IsFNV1aThenFmix64 checks the default hash against the
// standard library's FNV-1a, and the incremental per-member path against
// hashing the whole key ++ 0x00 ++ ID at once.
func TestDefaultHash_IsFNV1aThenFmix64(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	r := New(nil)
	for i := range 300 {
		key, id := randomBytes(rng, i%70), randomBytes(rng, i%25)
		whole := append(append([]byte(key), 0), id...)
		f := fnv.New64a()
		f.Write(whole)
		want := fmix64(f.Sum64())
		if got := defaultHash(whole); got != want {
			t.Fatalf("defaultHash(%q) = %#x, want %#x", whole, got, want)
		}
		kh := r.hasherFor(key)
		if got := kh.sum(id); got != want {
			t.Fatalf("incremental hash of %q, %q = %#x, want %#x", key, id, got, want)
		}
	}
}

func randomBytes(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return string(b)
}

// TestDefaultHash_Golden pins the default hash and the owners it picks (the
// values were cross-checked with an independent FNV-1a/fmix64 script).
// Every node of a cluster, of any version, must agree on owners: if this
// test fails, the change would reshuffle all keys during a rolling upgrade.
func TestDefaultHash_Golden(t *testing.T) {
	hashes := []struct {
		name string
		in   string
		want uint64
	}{
		{name: "empty", in: "", want: 0xefd01f60ba992926},
		{name: "separator only", in: "\x00", want: 0xb9034ad37056f5fb},
		{name: "key and id", in: "GET example.com/a\x00node-1", want: 0x34fae1e58d75bf2e},
		{name: "other id", in: "GET example.com/a\x00node-2", want: 0x262bca8614803232},
	}
	for _, tt := range hashes {
		t.Run(tt.name, func(t *testing.T) {
			if got := defaultHash([]byte(tt.in)); got != tt.want {
				t.Errorf("defaultHash(%q) = %#x, want %#x", tt.in, got, tt.want)
			}
		})
	}

	r := New([]Member{
		{ID: "node-1"}, {ID: "node-2"}, {ID: "node-3"}, {ID: "node-4", Weight: 2}, {ID: "node-5"},
	})
	owners := []struct {
		key  string
		want []string
	}{
		{key: "GET example.com/a", want: []string{"node-5", "node-4", "node-3"}},
		{key: "GET example.com/b", want: []string{"node-1", "node-2", "node-3"}},
		{key: "limit:tenant-42", want: []string{"node-3", "node-4", "node-2"}},
		{key: "", want: []string{"node-3", "node-4", "node-1"}},
	}
	for _, tt := range owners {
		t.Run(tt.key, func(t *testing.T) {
			if got := ids(r.Owners(tt.key, 3)); !slices.Equal(got, tt.want) {
				t.Errorf("Owners(%q, 3) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}
