package limiter

import (
	"context"
	"errors"
	"testing"
	"time"
)

func mustLimit(t *testing.T, l Limit) policy {
	t.Helper()
	p, err := compileLimit(l)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGCRA_BurstThenRate(t *testing.T) {
	p := mustLimit(t, Limit{Name: "api", Rate: 10, Period: time.Second, Burst: 5})
	now := int64(1e18)
	var s slot
	for i := range 5 {
		var d Decision
		s, d = apply(s, p, 1, now)
		if !d.Allowed || d.Remaining != int64(4-i) {
			t.Fatalf("burst request %d: allowed=%v remaining=%d, want true %d", i, d.Allowed, d.Remaining, 4-i)
		}
	}
	s2, d := apply(s, p, 1, now)
	if d.Allowed || s2 != s {
		t.Fatalf("6th at once allowed=%v (state changed %v)", d.Allowed, s2 != s)
	}
	if d.RetryAfter != 100*time.Millisecond {
		t.Errorf("RetryAfter = %v, want 100ms", d.RetryAfter)
	}
	// Exactly at RetryAfter it is admitted, a nanosecond before it is not.
	if _, d := apply(s, p, 1, now+int64(100*time.Millisecond)-1); d.Allowed {
		t.Error("admitted before RetryAfter")
	}
	if _, d := apply(s, p, 1, now+int64(100*time.Millisecond)); !d.Allowed {
		t.Error("denied at RetryAfter")
	}
	// Sustained: one per 100ms.
	at := now
	admitted := 0
	for range 100 {
		at += int64(10 * time.Millisecond)
		var d Decision
		if s, d = apply(s, p, 1, at); d.Allowed {
			admitted++
		}
	}
	if admitted != 10 {
		t.Errorf("over 1s at 100/s offered: admitted %d, want 10", admitted)
	}
}

func TestGCRA_ResetAndRefill(t *testing.T) {
	p := mustLimit(t, Limit{Name: "api", Rate: 4, Period: time.Second, Burst: 4})
	now := int64(1e18)
	s, d := apply(slot{}, p, 3, now)
	if !d.Allowed || d.Remaining != 1 || d.Reset != 750*time.Millisecond {
		t.Fatalf("cost 3: %+v, want allowed, remaining 1, reset 750ms", d)
	}
	if _, d := apply(s, p, 2, now); d.Allowed || d.RetryAfter != 250*time.Millisecond {
		t.Fatalf("cost 2 with 1 left: %+v, want denied, retry 250ms", d)
	}
	if expires(s, p) != now+int64(750*time.Millisecond) {
		t.Errorf("expires = %d, want now+750ms", expires(s, p)-now)
	}
	// After Reset the state is as fresh: a full burst again.
	if _, d := apply(s, p, 4, now+int64(750*time.Millisecond)); !d.Allowed || d.Remaining != 0 {
		t.Errorf("after reset cost 4: %+v, want allowed", d)
	}
	if _, d := apply(slot{}, p, 5, now); d.Allowed {
		t.Error("cost above burst admitted")
	}
}

func TestGCRA_LimitChange(t *testing.T) {
	now := int64(1e18)
	hi := mustLimit(t, Limit{Name: "api", Rate: 100, Burst: 100})
	lo := mustLimit(t, Limit{Name: "api", Rate: 10, Burst: 10})
	s, _ := apply(slot{}, hi, 50, now) // TAT now+500ms: 5 of lo's 10
	if _, d := apply(s, lo, 1, now); !d.Allowed || d.Remaining != 4 {
		t.Errorf("lowered limit: %+v, want allowed with 4 remaining", d)
	}
	s, _ = apply(slot{}, hi, 100, now) // TAT now+1s: all of lo's burst
	if _, d := apply(s, lo, 1, now); d.Allowed || d.RetryAfter != 100*time.Millisecond {
		t.Errorf("lowered below use: %+v, want denied for 100ms", d)
	}
}

func TestQuotaCalendar(t *testing.T) {
	wed := time.Date(2025, 3, 12, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		name       string
		cal        calendar
		start, end time.Time
	}{
		{"day", calDay, time.Date(2025, 3, 12, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 13, 0, 0, 0, 0, time.UTC)},
		{"week", calWeek, time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 17, 0, 0, 0, 0, time.UTC)},
		{"month", calMonth, time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.cal.start(wed.UnixNano())
			if got := time.Unix(0, st).UTC(); !got.Equal(tt.start) {
				t.Errorf("start = %v, want %v", got, tt.start)
			}
			if got := time.Unix(0, tt.cal.end(st)).UTC(); !got.Equal(tt.end) {
				t.Errorf("end = %v, want %v", got, tt.end)
			}
		})
	}
	// A Sunday belongs to the week that started the Monday before.
	sun := time.Date(2025, 3, 16, 23, 59, 0, 0, time.UTC)
	if got := time.Unix(0, calWeek.start(sun.UnixNano())).UTC(); got.Day() != 10 {
		t.Errorf("week of Sunday 16th starts %v, want Monday 10th", got)
	}
}

func TestQuotaApply(t *testing.T) {
	p, err := compileQuota(Quota{Name: "gold", Count: 10, Period: "day"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 3, 12, 23, 0, 0, 0, time.UTC).UnixNano()
	s, d := applyQuota(slot{}, p, 7, now)
	if !d.Allowed || d.Remaining != 3 || d.Reset != time.Hour {
		t.Fatalf("7 of 10: %+v", d)
	}
	if _, d := applyQuota(s, p, 4, now); d.Allowed || d.RetryAfter != time.Hour {
		t.Fatalf("4 more: %+v, want denied until midnight", d)
	}
	if _, d := applyQuota(s, p, 10, now+int64(time.Hour)); !d.Allowed {
		t.Error("next day: denied")
	}
}

func TestAllow_SeveralLimitsRefund(t *testing.T) {
	clk := newClock()
	l, err := New(Config{Now: clk.Now, SyncInterval: -1, FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	wide := Request{Key: "k", Limit: Limit{Name: "wide", Rate: 100, Burst: 100}}
	narrow := Request{Key: "k", Limit: Limit{Name: "narrow", Rate: 2, Burst: 2}}
	quota := Request{Key: "k", Quota: Quota{Name: "q", Count: 1000, Period: "month"}}
	reqs := []Request{wide, quota, narrow}
	for i := range 2 {
		if d, err := l.Allow(context.Background(), reqs); err != nil || !d.Allowed || d.Policy != "narrow" {
			t.Fatalf("request %d: %+v %v, want allowed by narrow (fewest remaining)", i, d, err)
		}
	}
	for range 5 {
		d, err := l.Allow(context.Background(), reqs)
		if err != nil || d.Allowed || d.Policy != "narrow" {
			t.Fatalf("over narrow: %+v %v, want denied by narrow", d, err)
		}
	}
	// The denied requests gave back what wide and q had taken.
	d, _ := l.Allow(context.Background(), []Request{wide})
	if d.Remaining != 97 {
		t.Errorf("wide remaining = %d, want 97 (2 admitted + this one)", d.Remaining)
	}
	u, err := l.Usage(context.Background(), "k", quota.Quota)
	if err != nil || u.Used != 2 {
		t.Errorf("quota used = %d (%v), want 2", u.Used, err)
	}
	if _, err := l.Allow(context.Background(), []Request{{Key: "k", Limit: Limit{Name: "x"}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("rate 0: err = %v, want ErrInvalid", err)
	}
}

func TestHeaders(t *testing.T) {
	d := Decision{Policy: `gold "x"`, Limit: 100, Remaining: 42, Window: time.Second, Reset: 1500 * time.Millisecond,
		RetryAfter: 2100 * time.Millisecond}
	if got, want := d.PolicyHeader(), `"gold \"x\"";q=100;w=1`; got != want {
		t.Errorf("PolicyHeader = %s, want %s", got, want)
	}
	if got, want := d.RateLimitHeader(), `"gold \"x\"";r=42;t=2`; got != want {
		t.Errorf("RateLimitHeader = %s, want %s", got, want)
	}
	if got := d.RetryAfterHeader(); got != "3" {
		t.Errorf("RetryAfterHeader = %s, want 3", got)
	}
	if got := (Decision{Policy: "é"}).RetryAfterHeader(); got != "1" {
		t.Errorf("zero RetryAfter = %s, want 1", got)
	}
	if got := (Decision{Policy: "é"}).PolicyHeader(); got != `"??";q=0;w=1` {
		t.Errorf("non-ASCII name = %s", got)
	}
}
