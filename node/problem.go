package node

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/portico-gw/portico/edge"
	"github.com/portico-gw/portico/node/proxy"
)

// problemBase prefixes every problem type. Each slug has a section in
// docs/problems.md; the URIs are stable: clients may branch on them.
const problemBase = "https://github.com/portico-gw/portico/blob/main/docs/problems.md#"

// problem is an RFC 9457 problem detail the gateway itself answers with.
// Detail is written for humans and never carries upstream addresses or Go
// error strings.
type problem struct {
	Status int
	Slug   string
	Title  string
	Detail string
}

var (
	probBadPath     = problem{http.StatusBadRequest, "bad-path", "Bad request path", "The request path is malformed (bad percent-encoding, control characters or backslashes)."}
	probNoRoute     = problem{http.StatusNotFound, "no-route", "No route", "No route matches this request."}
	probNoMethod    = problem{http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed", "The route exists but does not accept this method; see the Allow header."}
	probTooLarge    = problem{http.StatusRequestEntityTooLarge, "body-too-large", "Request body too large", "The request body exceeds this route's limit."}
	probBadGateway  = problem{http.StatusBadGateway, "upstream-error", "Bad gateway", "The upstream failed to give a valid response."}
	probNoTarget    = problem{http.StatusServiceUnavailable, "no-healthy-upstream", "No healthy upstream", "Every target of this route's upstream is down or ejected; retry later."}
	probTimeout     = problem{http.StatusGatewayTimeout, "upstream-timeout", "Gateway timeout", "The upstream did not answer in time."}
	probClientGone  = problem{499, "client-closed-request", "Client closed request", "The client went away before the response was ready."}
	probBodyAborted = problem{http.StatusBadRequest, "bad-request-body", "Bad request body", "The request body could not be read."}
	probNoTrace     = problem{http.StatusNotImplemented, "trace-not-supported", "TRACE not supported", "The gateway does not serve TRACE: it would echo the request, credentials included, back to the client."}
	probSlowBody    = problem{http.StatusRequestTimeout, "request-timeout", "Request body too slow", "The request body arrived slower than the minimum rate."}

	probNoCredentials  = problem{http.StatusUnauthorized, "credentials-missing", "Unauthorized", "This route needs an API key."}
	probBadCredentials = problem{http.StatusUnauthorized, "credentials-invalid", "Unauthorized", "The API key is not known."}
	probRateLimited    = problem{http.StatusTooManyRequests, "rate-limited", "Too many requests", "A rate limit of this route or consumer is exceeded; retry after the Retry-After delay. The RateLimit headers say which and when."}
	probQuotaExceeded  = problem{http.StatusTooManyRequests, "quota-exceeded", "Quota exceeded", "The consumer's plan quota for this period is used up; Retry-After says when the next period starts."}
	probIPRateLimited  = problem{http.StatusTooManyRequests, "ip-rate-limited", "Too many requests", "This client address sends more requests than the gateway admits per address; retry after the Retry-After delay."}
)

// statusOf decides the HTTP status (as a problem) of a pipeline error. It
// is the one place that does: 413 for body limits, 503 when no target is
// healthy, 408 for bodies slower than the minimum rate, 504 for timeouts, 499 when the client left, 502 otherwise.
func statusOf(ctx context.Context, err error) problem {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return probTooLarge
	case errors.Is(err, edge.ErrSlowBody) || edge.BodyTooSlow(ctx):
		return probSlowBody
	case errors.Is(err, proxy.ErrNoHealthyTarget):
		return probNoTarget
	case errors.Is(err, proxy.ErrTimeout):
		return probTimeout
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return probClientGone
	case errors.Is(err, errBodyRead), errors.Is(err, proxy.ErrRequestBody):
		return probBodyAborted
	}
	return probBadGateway
}

// errBodyRead marks a failure to read the client's request body.
var errBodyRead = errors.New("read request body")

// writeProblem answers with p as application/problem+json. requestID is
// echoed so a user can quote it to the operator.
func writeProblem(w http.ResponseWriter, p problem, requestID string) {
	var b strings.Builder
	b.Grow(320)
	b.WriteString(`{"type":"`)
	b.WriteString(problemBase)
	b.WriteString(p.Slug)
	b.WriteString(`","title":"`)
	b.WriteString(p.Title)
	b.WriteString(`","status":`)
	b.WriteString(strconv.Itoa(p.Status))
	b.WriteString(`,"detail":"`)
	b.WriteString(p.Detail)
	b.WriteByte('"')
	if requestID != "" {
		b.WriteString(`,"request_id":"`)
		b.WriteString(requestID) // validated: [A-Za-z0-9._:-] only
		b.WriteByte('"')
	}
	b.WriteString("}\n")
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	_, _ = w.Write([]byte(b.String()))
}
