package limiter

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func benchLimiter(b *testing.B) *Limiter {
	l, err := New(Config{SyncInterval: -1, FlushInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close(context.Background()) })
	return l
}

// BenchmarkAllowOneKey: decisions/s for one hot key, one goroutine.
func BenchmarkAllowOneKey(b *testing.B) {
	l := benchLimiter(b)
	reqs := []Request{{Key: "203.0.113.7", Limit: Limit{Name: "ip", Rate: 1e9}}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(ctx, reqs)
	}
}

// BenchmarkAllowManyKeys: 1e5 existing keys, one goroutine.
func BenchmarkAllowManyKeys(b *testing.B) {
	l := benchLimiter(b)
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	reqs := []Request{{Limit: Limit{Name: "ip", Rate: 1e9}}}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		reqs[0].Key = keys[i%len(keys)]
		i++
		l.Allow(ctx, reqs)
	}
}

// BenchmarkAllowParallel: 1e5 keys from every core.
func BenchmarkAllowParallel(b *testing.B) {
	l := benchLimiter(b)
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	var seq atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		reqs := []Request{{Limit: Limit{Name: "ip", Rate: 1e9}}}
		i := int(seq.Add(1)) * 7919
		for pb.Next() {
			reqs[0].Key = keys[i%len(keys)]
			i++
			l.Allow(context.Background(), reqs)
		}
	})
}

func BenchmarkIPGuard(b *testing.B) {
	g := NewIPGuard(1e9, 1000, 1<<16)
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var a [4]byte
		for pb.Next() {
			a[3]++
			g.Allow(netip.AddrFrom4(a), now)
		}
	})
}

// BenchmarkStrictRoundTrip: one strict decision from a node to the
// owner over loopback HTTP, sequential (each pays BatchWindow) and
// parallel (batches fill).
func BenchmarkStrictRoundTrip(b *testing.B) {
	cl := newCluster(b, 2, func(c *Config) { c.Now = nil; c.DataDir = "" })
	lim := Limit{Name: "api", Rate: 1e9, Scope: ScopeGlobal, Mode: ModeStrict}
	key := ""
	for i := 0; key == ""; i++ {
		if o, _ := cl.ring.owners(ownerKey("api", fmt.Sprint(i))); o == 0 {
			key = fmt.Sprint(i)
		}
	}
	reqs := []Request{{Key: key, Limit: lim}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if d, err := cl.nodes[1].lim.Allow(context.Background(), reqs); err != nil || d.Fallback {
				b.Errorf("%+v %v", d, err)
				return
			}
		}
	})
}
