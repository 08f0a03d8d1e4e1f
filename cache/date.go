package cache

import (
	"strings"
	"time"
)

// HTTP-date forms (RFC 9110 §5.6.7), as shapes and layouts. In a shape,
// 'd' is a digit, 'a' a letter, '_' a space or a digit; other bytes stand
// for themselves. http.ParseTime is laxer than the grammar (time.Parse
// takes a one-digit hour, and more): a date is first checked against its
// shape, byte by byte, then parsed.
const (
	imfShape     = "aaa, dd aaa dddd dd:dd:dd GMT"
	imfLayout    = "Mon, 02 Jan 2006 15:04:05 GMT"
	rfc850Shape  = ", dd-aaa-dd dd:dd:dd GMT" // after the day name
	rfc850Layout = "Monday, 02-Jan-06 15:04:05 GMT"
	asctimeShape = "aaa aaa _d dd:dd:dd dddd"
	ascLayout    = "Mon Jan _2 15:04:05 2006"
)

var weekdays = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

// parseHTTPDate parses an HTTP-date in exactly one of its three forms:
// IMF-fixdate, obsolete RFC 850 (its two-digit year read as RFC 9110
// says: more than 50 years ahead is the century before) or asctime.
// Anything else is not a date: an invalid Expires means already expired,
// an invalid Date is replaced by the time the response came. now places
// a two-digit year.
func parseHTTPDate(s string, now time.Time) (time.Time, bool) {
	var t time.Time
	var err error
	switch {
	case fits(s, imfShape):
		t, err = time.Parse(imfLayout, s)
	case fits(s, asctimeShape) && (s[8] != ' ' || s[9] != '0'):
		t, err = time.Parse(ascLayout, s)
	default:
		day, rest, ok := strings.Cut(s, ",")
		if !ok || !fits(","+rest, rfc850Shape) || !isWeekday(day) {
			return time.Time{}, false
		}
		if t, err = time.Parse(rfc850Layout, s); err == nil {
			this := now.UTC().Year()
			year := this - this%100 + t.Year()%100
			if year > this+50 {
				year -= 100
			}
			t = t.AddDate(year-t.Year(), 0, 0)
		}
	}
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// fits reports whether s has the shape (see the constants above).
func fits(s, shape string) bool {
	if len(s) != len(shape) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch shape[i] {
		case 'd':
			if c < '0' || c > '9' {
				return false
			}
		case 'a':
			if !isAlpha(c) {
				return false
			}
		case '_':
			if c != ' ' && (c < '0' || c > '9') {
				return false
			}
		default:
			if c != shape[i] {
				return false
			}
		}
	}
	return true
}

func isWeekday(s string) bool {
	for _, d := range weekdays {
		if s == d {
			return true
		}
	}
	return false
}
