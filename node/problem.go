package node

import (
	"context"
	"errors"
	"net/http"

	"github.com/portico-gw/portico/edge"
	"github.com/portico-gw/portico/node/proxy"
	"github.com/portico-gw/portico/problem"
)

// statusOf decides the problem (and so the HTTP status) of a pipeline
// error that reached the proxy's error handler. It is the one place that
// does: 413 for body limits, 408 for bodies slower than the minimum rate,
// 503 when no target is healthy, 504 for timeouts, 499 when the client
// left, 400 when the client's body broke, 502 otherwise. The problems
// themselves (status, slug, text) are package problem's one table.
func statusOf(ctx context.Context, err error) problem.Type {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return problem.BodyTooLarge
	case errors.Is(err, edge.ErrSlowBody) || edge.BodyTooSlow(ctx):
		return problem.RequestTimeout
	case errors.Is(err, proxy.ErrNoHealthyTarget):
		return problem.NoHealthyUpstream
	case errors.Is(err, proxy.ErrTimeout):
		return problem.UpstreamTimeout
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return problem.ClientClosedRequest
	case errors.Is(err, proxy.ErrRequestBody):
		return problem.BadRequestBody
	}
	return problem.UpstreamError
}
