package limiter

import (
	"strconv"
	"time"
)

// Decision is the answer for one gateway request: whether it may go on,
// and what the node puts in its RateLimit headers or 429. When several
// limits apply, it describes the binding one (see Allow).
type Decision struct {
	// Allowed says the request may go on.
	Allowed bool
	// Limit is the policy's quota for Window: the Rate of a Limit, the
	// Count of a Quota.
	Limit int64
	// Remaining is how many more units would be admitted now.
	Remaining int64
	// Window is the policy's time window: a Limit's Period, a quota's
	// nominal period (a day, 7 days, 30 days).
	Window time.Duration
	// Reset is the time until the key is back to its full allowance (a
	// rate), or until the quota period ends.
	Reset time.Duration
	// RetryAfter, when not Allowed, is the exact time after which the
	// same request would be admitted (if nothing else arrives).
	RetryAfter time.Duration
	// Policy is the Limit's or Quota's name.
	Policy string
	// Fallback says the key's owner could not be asked in time and the
	// decision was made here with the limit divided among live nodes.
	Fallback bool
}

// binding returns which of a and b a combined Decision should show: a
// denial over an admission, the longer wait among denials, the fewer
// remaining among admissions.
func binding(a, b Decision) Decision {
	switch {
	case a.Allowed != b.Allowed:
		if !a.Allowed {
			return a
		}
		return b
	case !a.Allowed:
		if b.RetryAfter > a.RetryAfter {
			return b
		}
		return a
	case b.Remaining < a.Remaining:
		return b
	}
	return a
}

// Header names of draft-ietf-httpapi-ratelimit-headers-10 and RFC 9110.
const (
	HeaderPolicy     = "RateLimit-Policy"
	HeaderRateLimit  = "RateLimit"
	HeaderRetryAfter = "Retry-After"
)

// PolicyHeader formats d as a RateLimit-Policy field value of
// draft-ietf-httpapi-ratelimit-headers-10 §4 (an RFC 9651 structured
// List item): `"name";q=100;w=1` — q the quota, w the window in whole
// seconds (at least 1). The name is an sf-string: characters outside
// printable ASCII become '?'.
func (d Decision) PolicyHeader() string {
	b := make([]byte, 0, 32+len(d.Policy))
	b = appendSFString(b, d.Policy)
	b = append(b, ";q="...)
	b = strconv.AppendInt(b, max(0, d.Limit), 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, ceilSeconds(d.Window, 1), 10)
	return string(b)
}

// RateLimitHeader formats d as a RateLimit field value of
// draft-ietf-httpapi-ratelimit-headers-10 §3: `"name";r=42;t=1` — r the
// remaining units, t the seconds until reset, rounded up.
func (d Decision) RateLimitHeader() string {
	b := make([]byte, 0, 32+len(d.Policy))
	b = appendSFString(b, d.Policy)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, max(0, d.Remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, ceilSeconds(d.Reset, 0), 10)
	return string(b)
}

// RetryAfterHeader formats d.RetryAfter as a Retry-After delay-seconds
// value (RFC 9110 §10.2.3), rounded up so that a client that waits that
// long is admitted; at least 1 for a denial.
func (d Decision) RetryAfterHeader() string {
	return strconv.FormatInt(ceilSeconds(d.RetryAfter, 1), 10)
}

// ceilSeconds rounds d up to whole seconds, at least floor.
func ceilSeconds(d time.Duration, floor int64) int64 {
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return max(s, floor)
}

// appendSFString appends s as an RFC 9651 §3.3.3 String.
func appendSFString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c > 0x7e:
			b = append(b, '?')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
