package observe

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Entry is one access-log line. node fills it when a request ends. It
// deliberately has no field for headers other than User-Agent: the
// Authorization, Cookie, API-key and other secret-bearing headers must
// never reach the log, and keeping them out of the type makes that hold.
type Entry struct {
	// Time is when the request arrived. If zero, the log's clock at Log.
	Time time.Time
	// RequestID is the X-Request-Id the node assigned or accepted.
	RequestID string
	// Route is the matched route's name; empty when none matched.
	Route string
	// Method, Host and Path are the client's, as received (Host without
	// normalization, Path not yet stripped or rewritten).
	Method string
	Host   string
	Path   string
	// Query is the raw query string, logged verbatim: secrets belong in
	// headers, never in URLs, which proxies and browsers record anyway.
	Query string
	// Proto is the client's protocol, e.g. "HTTP/1.1", "HTTP/2.0".
	Proto string
	// Status is the status sent to the client.
	Status int
	// BytesIn counts the request body bytes read from the client (a
	// body nobody read counts 0; a chunked one counts what arrived), and
	// BytesOut the response body bytes written to it.
	BytesIn  int64
	BytesOut int64
	// Duration is from arrival to the end of the response.
	Duration time.Duration
	// Upstream names the pool that served the request and Target the URL
	// of the target the last attempt went to; empty if none was tried.
	Upstream string
	Target   string
	// UpstreamDuration is the time spent in upstream attempts.
	UpstreamDuration time.Duration
	// Retries counts attempts after the first.
	Retries int
	// ClientIP is the client address after trusted-proxy resolution.
	ClientIP  string
	UserAgent string
	// Consumer is the authenticated consumer's name; empty when anonymous.
	Consumer string
	// Error is a short, stable code such as the problem slug
	// ("upstream-timeout", "no-route"); never a Go error string, which may
	// carry addresses or internals. Empty on success.
	Error string
}

// appendEntry appends e, stamped t, as one JSON object and a newline.
// Every field is always present, in a fixed order, so log pipelines can
// rely on a schema. Durations are milliseconds with microsecond precision;
// time is RFC 3339 in UTC with up to nanoseconds.
func appendEntry(b []byte, e *Entry, t time.Time) []byte {
	b = append(b, `{"time":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = appendStringField(b, `","request_id":`, e.RequestID)
	b = appendStringField(b, `,"route":`, e.Route)
	b = appendStringField(b, `,"method":`, e.Method)
	b = appendStringField(b, `,"host":`, e.Host)
	b = appendStringField(b, `,"path":`, e.Path)
	b = appendStringField(b, `,"query":`, e.Query)
	b = appendStringField(b, `,"proto":`, e.Proto)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, e.BytesIn, 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, e.BytesOut, 10)
	b = append(b, `,"duration_ms":`...)
	b = appendMillis(b, e.Duration)
	b = appendStringField(b, `,"upstream":`, e.Upstream)
	b = appendStringField(b, `,"target":`, e.Target)
	b = append(b, `,"upstream_ms":`...)
	b = appendMillis(b, e.UpstreamDuration)
	b = append(b, `,"retries":`...)
	b = strconv.AppendInt(b, int64(e.Retries), 10)
	b = appendStringField(b, `,"client_ip":`, e.ClientIP)
	b = appendStringField(b, `,"consumer":`, e.Consumer)
	b = appendStringField(b, `,"user_agent":`, e.UserAgent)
	b = appendStringField(b, `,"error":`, e.Error)
	return append(b, "}\n"...)
}

func appendStringField(b []byte, key, s string) []byte {
	return appendString(append(b, key...), s)
}

// appendMillis writes d in milliseconds with three decimals ("12.345").
// Integer arithmetic, not floats, so the digits are exact.
func appendMillis(b []byte, d time.Duration) []byte {
	us := d.Microseconds()
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

// appendString appends s as a JSON string. It escapes what JSON requires
// (quote, backslash, control characters), replaces each byte of invalid
// UTF-8 with U+FFFD, and escapes U+2028 and U+2029 so a line is also valid
// JavaScript. The output equals encoding/json's with HTML escaping off
// (the tests check this).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0 // s[start:i] is pending, copied verbatim
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
