package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// Base prefixes every problem type URI. The URIs are stable.
const Base = "https://github.com/portico-gw/portico/blob/main/docs/problems.md#"

// Type is one kind of answer the gateway makes itself.
type Type uint8

// The gateway's problem types. The table below gives each its status,
// slug, title and default detail.
const (
	_ Type = iota

	// The request pipeline.
	BadPath
	NoRoute
	MethodNotAllowed
	BodyTooLarge
	BadRequestBody
	RequestTimeout
	TraceNotSupported
	CredentialsMissing
	CredentialsInvalid
	RateLimited
	QuotaExceeded
	IPRateLimited
	UpstreamError
	NoHealthyUpstream
	UpstreamTimeout
	ClientClosedRequest

	// The edge.
	TooEarly

	// The cache.
	NotCached

	// The admin API.
	AdminUnauthorized
	AdminHostRefused
	AdminCrossOrigin
	BadIfMatch
	BadForce
	ConfigRemovesAllRoutes
	InvalidConfig
	VersionConflict
	QuorumLost
	ApplyFailed
	Internal
	NotClustered
	BadPurge
	UnknownConsumer
	UsageUnavailable
	UsageTimeout

	numTypes
)

type entry struct {
	status              int
	slug, title, detail string
}

// table is every type's status, slug, title and default detail. It is
// never written after initialization.
var table = [numTypes]entry{
	BadPath:             {http.StatusBadRequest, "bad-path", "Bad request path", "The request path is malformed (bad percent-encoding, control characters or backslashes)."},
	NoRoute:             {http.StatusNotFound, "no-route", "No route", "No route matches this request."},
	MethodNotAllowed:    {http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed", "The route exists but does not accept this method; see the Allow header."},
	BodyTooLarge:        {http.StatusRequestEntityTooLarge, "body-too-large", "Request body too large", "The request body exceeds this route's limit."},
	BadRequestBody:      {http.StatusBadRequest, "bad-request-body", "Bad request body", "The request body could not be read."},
	RequestTimeout:      {http.StatusRequestTimeout, "request-timeout", "Request body too slow", "The request body arrived slower than the minimum rate."},
	TraceNotSupported:   {http.StatusNotImplemented, "trace-not-supported", "TRACE not supported", "The gateway does not serve TRACE: it would echo the request, credentials included, back to the client."},
	CredentialsMissing:  {http.StatusUnauthorized, "credentials-missing", "Unauthorized", "This route needs an API key."},
	CredentialsInvalid:  {http.StatusUnauthorized, "credentials-invalid", "Unauthorized", "The API key is not known."},
	RateLimited:         {http.StatusTooManyRequests, "rate-limited", "Too many requests", "A rate limit of this route or consumer is exceeded; retry after the Retry-After delay. The RateLimit headers say which and when."},
	QuotaExceeded:       {http.StatusTooManyRequests, "quota-exceeded", "Quota exceeded", "The consumer's plan quota for this period is used up; Retry-After says when the next period starts."},
	IPRateLimited:       {http.StatusTooManyRequests, "ip-rate-limited", "Too many requests", "This client address sends more requests than the gateway admits per address; retry after the Retry-After delay."},
	UpstreamError:       {http.StatusBadGateway, "upstream-error", "Bad gateway", "The upstream failed to give a valid response."},
	NoHealthyUpstream:   {http.StatusServiceUnavailable, "no-healthy-upstream", "No healthy upstream", "Every target of this route's upstream is down or ejected; retry later."},
	UpstreamTimeout:     {http.StatusGatewayTimeout, "upstream-timeout", "Gateway timeout", "The upstream did not answer in time."},
	ClientClosedRequest: {499, "client-closed-request", "Client closed request", "The client went away before the response was ready."},

	TooEarly: {http.StatusTooEarly, "too-early", "Too Early", "This request method is not accepted in TLS early data (0-RTT); retry it once the handshake is complete."},

	NotCached: {http.StatusGatewayTimeout, "not-cached", "Not cached", "The request says only-if-cached and no node of the cluster holds a fresh answer for it."},

	AdminUnauthorized:      {http.StatusUnauthorized, "admin-unauthorized", "Unauthorized", "The admin API needs the header Authorization: Bearer <node.admin.token>."},
	AdminHostRefused:       {http.StatusForbidden, "admin-host-refused", "Host refused", "Without node.admin.token the admin API answers only loopback Host names (localhost, 127.0.0.1, [::1]); use one of them, or set a token."},
	AdminCrossOrigin:       {http.StatusForbidden, "admin-cross-origin", "Cross-origin request refused", "The admin API does not answer requests a browser sends on behalf of another site."},
	BadIfMatch:             {http.StatusBadRequest, "bad-if-match", "Bad If-Match", `If-Match must be a config version such as "3".`},
	BadForce:               {http.StatusBadRequest, "bad-force", "Bad force parameter", "force must be true or false."},
	ConfigRemovesAllRoutes: {http.StatusBadRequest, "config-removes-all-routes", "Config removes every route", "The document has no routes, so every request would get 404; the served config is unchanged. Send it with ?force=true (portico config apply --force) if that is intended."},
	InvalidConfig:          {http.StatusBadRequest, "invalid-config", "Invalid config", "The config was refused; the served config is unchanged. See errors."},
	VersionConflict:        {http.StatusConflict, "version-conflict", "Version conflict", "The config changed since the version in If-Match; fetch it again and retry."},
	QuorumLost:             {http.StatusServiceUnavailable, "quorum-lost", "Quorum lost", "Config writes need a majority of the cluster's voters, and they can't be reached now (quorum lost); traffic is still served with the last config. A write that a leader had already logged may still be applied once a majority answers: read the version before retrying, or retry with If-Match."},
	ApplyFailed:            {http.StatusInternalServerError, "apply-failed", "Config not applied", "The config is valid but could not be applied; the node log says why."},
	Internal:               {http.StatusInternalServerError, "internal", "Internal error", "The gateway failed to produce this answer; the node log says why."},
	NotClustered:           {http.StatusNotFound, "not-clustered", "Not clustered", "This node runs alone: its config has no node.cluster section."},
	BadPurge:               {http.StatusBadRequest, "bad-purge", "Bad purge request", `The body must be one of {"key": KEY}, {"prefix": "https://host/path"} or {"tag": TAG}.`},
	UnknownConsumer:        {http.StatusNotFound, "unknown-consumer", "Unknown consumer", "No consumer of the served config has this name."},
	UsageUnavailable:       {http.StatusBadGateway, "usage-unavailable", "Usage unavailable", "The node that holds this consumer's quota counter did not answer; retry, or see the node log."},
	UsageTimeout:           {http.StatusGatewayTimeout, "usage-unavailable", "Usage unavailable", "The node that holds this consumer's quota counter did not answer in time."},
}

// Types returns every problem type, in table order.
func Types() []Type {
	out := make([]Type, 0, numTypes-1)
	for t := Type(1); t < numTypes; t++ {
		out = append(out, t)
	}
	return out
}

// Status is t's HTTP status.
func (t Type) Status() int { return t.entry().status }

// Slug is t's anchor in docs/problems.md.
func (t Type) Slug() string { return t.entry().slug }

// Title is t's short human title.
func (t Type) Title() string { return t.entry().title }

// Detail is t's default detail.
func (t Type) Detail() string { return t.entry().detail }

// URI is t's "type" member: Base + slug.
func (t Type) URI() string { return Base + t.entry().slug }

func (t Type) entry() *entry {
	if t == 0 || t >= numTypes {
		return &table[Internal]
	}
	return &table[t]
}

// Write answers with t and its default detail. requestID (validated by
// the caller to [A-Za-z0-9._:-]) is echoed so a user can quote it to the
// operator; "" leaves it out.
func Write(w http.ResponseWriter, t Type, requestID string) {
	e := t.entry()
	write(w, e, e.detail, requestID)
}

// WriteDetail answers with t and a more precise detail, for humans (no
// upstream addresses or Go error strings). It is escaped for JSON where
// it needs to be.
func WriteDetail(w http.ResponseWriter, t Type, detail, requestID string) {
	write(w, t.entry(), detail, requestID)
}

func write(w http.ResponseWriter, e *entry, detail, requestID string) {
	b := make([]byte, 0, len(Base)+len(e.slug)+len(e.title)+len(detail)+len(requestID)+80)
	b = append(b, `{"type":"`...)
	b = append(b, Base...)
	b = append(b, e.slug...)
	b = append(b, `","title":"`...)
	b = appendString(b, e.title)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"detail":"`...)
	b = appendString(b, detail)
	b = append(b, '"')
	if requestID != "" {
		b = append(b, `,"request_id":"`...)
		b = appendString(b, requestID)
		b = append(b, '"')
	}
	b = append(b, "}\n"...)
	header(w)
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

// appendString appends s as the inside of a JSON string: as is when it
// needs no escaping (every default title and most details), else escaped
// by encoding/json (quotes, backslashes, control characters, invalid
// UTF-8).
func appendString(b []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c == '"' || c == '\\':
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q[1:len(q)-1]...)
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if !ascii && !utf8.ValidString(s) {
		q, _ := json.Marshal(s)
		return append(b, q[1:len(q)-1]...)
	}
	return append(b, s...)
}

// WriteExt answers with t and extension members (RFC 9457 §3.2), such as
// the list of config errors; ext may not override the standard members.
func WriteExt(w http.ResponseWriter, t Type, requestID string, ext map[string]any) {
	e := t.entry()
	body := make(map[string]any, len(ext)+5)
	for k, v := range ext {
		body[k] = v
	}
	body["type"], body["title"], body["status"], body["detail"] = Base+e.slug, e.title, e.status, e.detail
	if requestID != "" {
		body["request_id"] = requestID
	}
	header(w)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(body)
}

// header sets the headers of every problem answer. Each answer gets its
// own values: a later stage may change them in place.
func header(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = []string{"application/problem+json"}
	h["Cache-Control"] = []string{"no-store"}
	delete(h, "Content-Length")
}
