package limiter

import "time"

// calendar is a quota's counting period: a UTC calendar day, week
// (starting Monday 00:00 UTC) or month.
type calendar uint8

const (
	calDay calendar = iota + 1
	calWeek
	calMonth
)

func parseCalendar(s string) (calendar, bool) {
	switch s {
	case "day":
		return calDay, true
	case "week":
		return calWeek, true
	case "month":
		return calMonth, true
	}
	return 0, false
}

func (c calendar) String() string {
	switch c {
	case calDay:
		return "day"
	case calWeek:
		return "week"
	case calMonth:
		return "month"
	}
	return "unknown"
}

// start returns the start of the period holding now, in Unix ns.
func (c calendar) start(now int64) int64 {
	t := time.Unix(0, now).UTC()
	y, m, d := t.Date()
	switch c {
	case calWeek:
		// Monday is day 0 of an ISO week; Go's Sunday is 0.
		back := (int(t.Weekday()) + 6) % 7
		return time.Date(y, m, d-back, 0, 0, 0, 0, time.UTC).UnixNano()
	case calMonth:
		return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).UnixNano()
}

// end returns the start of the period after the one that starts at
// start, in Unix ns.
func (c calendar) end(start int64) int64 {
	t := time.Unix(0, start).UTC()
	switch c {
	case calWeek:
		return t.AddDate(0, 0, 7).UnixNano()
	case calMonth:
		return t.AddDate(0, 1, 0).UnixNano()
	}
	return t.AddDate(0, 0, 1).UnixNano()
}

// length is the nominal length of a period, for the RateLimit-Policy
// window: a day, 7 days, 30 days.
func (c calendar) length() time.Duration {
	switch c {
	case calWeek:
		return 7 * 24 * time.Hour
	case calMonth:
		return 30 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// currentPeriod returns s moved to the period holding now: a state of
// an earlier period counts nothing in this one.
func currentPeriod(s slot, p policy, now int64) slot {
	if st := p.window.start(now); s.A != st {
		if s.A > st { // a state from the future (clock skew between nodes): keep it
			return s
		}
		return slot{A: st}
	}
	return s
}

// applyQuota counts cost units in the calendar period holding now,
// exactly: admitted while used+cost <= Count.
func applyQuota(s slot, p policy, cost int64, now int64) (slot, Decision) {
	s = currentPeriod(s, p, now)
	end := p.window.end(s.A)
	d := Decision{Limit: p.count, Window: p.window.length(), Policy: p.name, Reset: time.Duration(end - now)}
	if s.B+cost > p.count {
		d.Remaining = max(0, p.count-s.B)
		d.RetryAfter = d.Reset
		return s, d
	}
	s.B += cost
	d.Allowed = true
	d.Remaining = p.count - s.B
	return s, d
}
