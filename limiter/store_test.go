package limiter

import (
	"context"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestStore_MillionKeys sends 1e6 distinct keys through a store capped
// at 4096: it never holds more, and evicts the rest.
func TestStore_MillionKeys(t *testing.T) {
	clk := newClock()
	reg := prometheus.NewRegistry()
	l, err := New(Config{Now: clk.Now, MaxKeys: 4096, SyncInterval: -1, FlushInterval: -1, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	lim := Limit{Name: "ip", Rate: 10, Period: time.Minute}
	reqs := make([]Request, 1)
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	for i := range n {
		reqs[0] = Request{Key: strconv.Itoa(i), Limit: lim}
		if d, err := l.Allow(context.Background(), reqs); err != nil || !d.Allowed {
			t.Fatalf("key %d: %+v %v", i, d, err)
		}
	}
	capacity := numShards * ((4096 + numShards - 1) / numShards)
	if got := l.store.len(); got > capacity || got < capacity/2 {
		t.Errorf("store holds %d keys, want at most %d (and most of them)", got, capacity)
	}
	if got := counterValue(t, reg, "portico_limiter_evictions_total"); got < float64(n-capacity) {
		t.Errorf("evictions = %v, want at least %d", got, n-capacity)
	}
	// Idle keys expire: a minute later every state is fresh, and swept.
	clk.Advance(time.Minute)
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := l.store.len(); got != 0 {
		t.Errorf("after a minute idle the store holds %d keys, want 0", got)
	}
}

// TestStore_HotKeySurvivesFlood: a key in use keeps its state while a
// flood of one-off keys passes through a small store.
func TestStore_HotKeySurvivesFlood(t *testing.T) {
	clk := newClock()
	l, err := New(Config{Now: clk.Now, MaxKeys: 1024, SyncInterval: -1, FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	hot := []Request{{Key: "hot", Limit: Limit{Name: "ip", Rate: 1, Period: time.Hour, Burst: 1}}}
	if d, _ := l.Allow(context.Background(), hot); !d.Allowed {
		t.Fatal("first hot request denied")
	}
	for i := range 10_000 {
		l.Allow(context.Background(), []Request{{Key: strconv.Itoa(i), Limit: hot[0].Limit}})
		if i%50 == 0 {
			if d, _ := l.Allow(context.Background(), hot); d.Allowed {
				t.Fatalf("hot key forgotten after %d others: admitted again", i)
			}
		}
	}
}

func TestAllow_ZeroAllocs(t *testing.T) {
	clk := newClock()
	l, err := New(Config{Now: clk.Now, SyncInterval: -1, FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	reqs := []Request{{Key: "203.0.113.7", Limit: Limit{Name: "ip", Rate: 1e9}}}
	ctx := context.Background()
	l.Allow(ctx, reqs)
	if n := testing.AllocsPerRun(1000, func() { l.Allow(ctx, reqs) }); n != 0 {
		t.Errorf("Allow on an existing key: %v allocs, want 0", n)
	}
}

func TestIPGuard(t *testing.T) {
	g := NewIPGuard(10, 3, 1024)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("198.51.100.1")
	for i := range 3 {
		if ok, _ := g.Allow(a, now); !ok {
			t.Fatalf("burst request %d denied", i)
		}
	}
	ok, ra := g.Allow(a, now)
	if ok || ra != 100*time.Millisecond {
		t.Fatalf("4th: ok=%v retry=%v, want denied for 100ms", ok, ra)
	}
	if ok, _ := g.Allow(netip.MustParseAddr("198.51.100.2"), now); !ok {
		t.Error("another address denied")
	}
	if ok, _ := g.Allow(a, now.Add(ra)); !ok {
		t.Error("denied after retryAfter")
	}
	// IPv6 by /64.
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	for range 3 {
		g.Allow(v6a, now)
	}
	if ok, _ := g.Allow(v6b, now); ok {
		t.Error("same /64 admitted past the burst")
	}
	// A flood of distinct addresses keeps the table fixed and allocates nothing.
	var b [4]byte
	if n := testing.AllocsPerRun(10_000, func() {
		b[3]++
		if b[3] == 0 {
			b[2]++
		}
		g.Allow(netip.AddrFrom4(b), now)
	}); n != 0 {
		t.Errorf("Allow: %v allocs, want 0", n)
	}
	if len(g.cells) != 1024 {
		t.Errorf("table has %d cells, want 1024", len(g.cells))
	}
}

// TestAddrKey: limits by client address count IPv6 by /64, like the
// guard; IPv4 and IPv4-mapped addresses one by one.
func TestAddrKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":               "192.0.2.7",
		"::ffff:192.0.2.7":        "192.0.2.7",
		"2001:db8:1:2::1":         "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:1:2:3": "2001:db8:1:2::/64",
		"fe80::1%eth0":            "fe80::/64",
	} {
		if got := AddrKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("AddrKey(%s) = %q, want %q", in, got, want)
		}
	}
	if got := AddrKey(netip.Addr{}); got != "invalid IP" {
		t.Errorf("AddrKey(invalid) = %q", got)
	}
}
