package ring

import "math"

// 64-bit FNV-1a parameters (the same as hash/fnv's New64a).
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// keySeparator sits between the key and the member ID in the hashed bytes.
const keySeparator = "\x00"

// fnv1a continues the 64-bit FNV-1a hash h over s. It is generic so the hot
// path hashes strings without converting them to []byte.
func fnv1a[T string | []byte](h uint64, s T) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// fmix64 is MurmurHash3's 64-bit finalizer. FNV-1a alone spreads a change in
// the last bytes poorly, and member IDs ("node-1", "node-2") often differ only
// there; after fmix64 every input bit flips each output bit with probability
// close to 1/2, so the scores of different members look independent.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// defaultHash is the hash a Ring uses unless WithHash replaces it. Lookups
// never call it: keyHasher computes the same value incrementally.
func defaultHash(b []byte) uint64 {
	return fmix64(fnv1a(fnvOffset64, b))
}

// keyHasher computes Hash(key ++ 0x00 ++ id) for one key and every member ID.
// With the default hash it keeps the FNV state after key and separator, so a
// member costs only its ID's bytes and nothing is allocated. An injected hash
// needs the bytes themselves: buf holds key and separator, and each member's
// ID is appended in place (one allocation per lookup).
type keyHasher struct {
	prefix  uint64              // default hash: FNV-1a state after key ++ 0x00
	hash    func([]byte) uint64 // injected hash, or nil for the default
	buf     []byte              // injected hash: key ++ 0x00, room for the longest ID
	prefixN int                 // len(key ++ 0x00)
}

// hasherFor returns the keyHasher for key on r.
func (r *Ring) hasherFor(key string) keyHasher {
	if r.hash == nil {
		return keyHasher{prefix: fnv1a(fnv1a(fnvOffset64, key), keySeparator)}
	}
	n := len(key) + len(keySeparator)
	buf := make([]byte, 0, n+r.maxIDLen)
	buf = append(append(buf, key...), keySeparator...)
	return keyHasher{hash: r.hash, buf: buf, prefixN: n}
}

// sum returns Hash(key ++ 0x00 ++ id).
func (k *keyHasher) sum(id string) uint64 {
	if k.hash == nil {
		return fmix64(fnv1a(k.prefix, id))
	}
	k.buf = append(k.buf[:k.prefixN], id...)
	return k.hash(k.buf)
}

// score ranks a member for a key from its hash h and effective weight w;
// the highest score wins. It is rank (pick.go), the one ranking Ring and
// Picker share.
func (r *Ring) score(h uint64, w float64) float64 {
	return rank(h, w, r.uniform)
}

// effectiveWeight is the weight New uses for a member: Weight when it is a
// positive finite number, otherwise 1 (zero means "default", and a negative,
// NaN or infinite weight would break the ranking).
func effectiveWeight(w float64) float64 {
	if w > 0 && !math.IsInf(w, 1) {
		return w
	}
	return 1
}
