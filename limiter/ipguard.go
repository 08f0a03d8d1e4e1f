package limiter

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// IPGuard is a cheap per-client-IP rate limit for use before routing:
// local, GCRA, in a fixed-size table allocated once. It allocates
// nothing per call and is safe for concurrent use.
//
// The table is direct-mapped in 256 locked shards: an address hashes to
// one cell, which holds one address. A new address takes its cell when
// the cell's state has expired or, when the table is under pressure,
// after the resident has lost its claim (a second chance, as in CLOCK),
// so a flood of distinct addresses cannot grow memory and a busy
// resident is not evicted by one stray address. IPv6 addresses are
// limited per /64 (one host usually holds a whole /64).
type IPGuard struct {
	seed     maphash.Seed
	interval int64 // ns between admissions
	ahead    int64 // burst * interval
	mask     uint64
	shards   [256]ipShard
	cells    []ipCell
}

type ipShard struct {
	mu sync.Mutex
	_  [56]byte
}

type ipCell struct {
	addr [16]byte
	tat  int64
	ref  bool
}

// NewIPGuard returns a guard admitting rate requests per second per
// address with bursts of burst (at least 1), in a table of maxKeys
// cells (rounded up to a power of two, at least 256; 40 bytes each).
func NewIPGuard(rate float64, burst int, maxKeys int) *IPGuard {
	if rate <= 0 {
		rate = 1
	}
	burst = max(1, burst)
	n := 256
	for n < maxKeys {
		n <<= 1
	}
	iv := max(1, int64(float64(time.Second)/rate))
	return &IPGuard{seed: maphash.MakeSeed(), interval: iv, ahead: iv * int64(burst),
		mask: uint64(n - 1), cells: make([]ipCell, n)}
}

// Allow admits one request from addr at now, or says how long to wait.
func (g *IPGuard) Allow(addr netip.Addr, now time.Time) (ok bool, retryAfter time.Duration) {
	a := ipKey(addr)
	h := maphash.Bytes(g.seed, a[:])
	i := h & g.mask
	sh := &g.shards[i%uint64(len(g.shards))]
	n := now.UnixNano()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := &g.cells[i]
	if c.addr != a {
		if c.tat > n && c.ref {
			// A live resident: give it a second chance, and admit the
			// newcomer untracked this time (a flood of fresh addresses
			// must not push out a limited one).
			c.ref = false
			return true, 0
		}
		*c = ipCell{addr: a}
	}
	tat := max(c.tat, n)
	next := tat + g.interval
	if next-n > g.ahead {
		c.ref = true
		return false, time.Duration(next - n - g.ahead)
	}
	c.tat, c.ref = next, true
	return true, 0
}

// AddrKey is the text a limit by client address counts addr under, the
// unit IPGuard counts too: an IPv4 address (or an IPv4-mapped IPv6 one)
// as itself, an IPv6 address by its /64 ("2001:db8:1:2::/64"). A host
// or a subscriber line usually gets a whole /64, so counting IPv6
// addresses one by one would give one client 2^64 budgets. An invalid
// addr gives "invalid IP".
func AddrKey(addr netip.Addr) string {
	addr = addr.Unmap()
	if !addr.Is6() {
		return addr.String()
	}
	p, _ := addr.WithZone("").Prefix(64)
	return p.String()
}

// ipKey is the address an IPGuard counts: IPv4 as is, IPv6 by /64.
func ipKey(addr netip.Addr) [16]byte {
	addr = addr.Unmap()
	b := addr.As16()
	if addr.Is6() {
		clear(b[8:])
		b[8] = 6 // keep a /64 apart from the v4-mapped form of an IPv4
	}
	return b
}
