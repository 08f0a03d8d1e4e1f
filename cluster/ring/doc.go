// Package ring owns consistent hashing for the cluster: which member owns a
// key (Ring.Owner), the members next in line for it (Ring.Owners), and the
// same questions within one region (Ring.Scope). It also owns the
// rendezvous ranking itself for callers with their own candidates: Score
// and Picker rank hashes and weights exactly as a Ring ranks members
// (node/proxy's hash balancer picks targets with them).
//
// A Ring is immutable. Build one with New from the live members whenever
// membership changes and swap it in with an atomic.Pointer, so lookups never
// take a lock and an in-flight request keeps the ring it started with. All
// methods are safe for concurrent use, and a nil *Ring is an empty ring.
//
// It does not own membership (gossip in cluster builds the member list), peer
// addresses or transport: a Member is only an ID, a region and a weight. It
// imports only the standard library and nothing of this module.
//
// # Algorithm: weighted rendezvous hashing
//
// Every member scores each key and the highest score owns it (rendezvous or
// highest-random-weight hashing). With h = Hash(key ++ 0x00 ++ member.ID),
// u = h's top 52 bits mapped into (0, 1) and w the member's weight, the score
// is -w/ln(u): -ln(u)/w is exponentially distributed with rate w, so a member
// wins with probability w/Σw (the "logarithmic method"). When all weights are
// equal the score is h's top 52 bits, which ranks members the same way
// without a logarithm (52 bits, so that u+0.5 is exact: see Score). Equal
// scores go to the smaller ID.
//
// We chose it over a ring of virtual nodes (groupcache's consistenthash)
// because membership is small (tens of nodes) and lookups happen per request:
//   - Moving keys is optimal: adding a member moves only the keys it now wins,
//     removing one moves only its own keys, each about 1/N of them, with no
//     vnode variance; and Owners' preference lists stay stable the same way.
//   - Weights are exact, not rounded to a count of vnodes.
//   - No memory beyond the member list, and New is O(N log N).
//
// The price is O(N) work per lookup instead of O(log V): one hash and
// compare per member, fine for tens of members (see BenchmarkOwner).
//
// # The default hash must never change
//
// Every node must pick the same owner, so the default hash is fixed and
// identical across processes, machines and versions: 64-bit FNV-1a followed
// by MurmurHash3's fmix64 finalizer. FNV state after the key is computed once
// per lookup and each member only adds its ID's bytes, so Owner does not
// allocate. Changing it reshuffles every key during a rolling upgrade;
// TestDefaultHash_Golden pins it. WithHash replaces it (for tests with
// hand-checkable hashes); an injected hash costs one buffer per lookup.
package ring
