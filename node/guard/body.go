package guard

import (
	"net/http"

	"github.com/portico-gw/portico/node/exchange"
	"github.com/portico-gw/portico/problem"
)

// BodyLimit refuses bodies larger than max bytes: at once (413) when the
// request declares a larger Content-Length, else while the body is read
// (the proxy's read fails with *http.MaxBytesError, which the node
// answers 413). It also counts the body's bytes into the exchange, for
// the access log and the size metrics. max must be positive.
func BodyLimit(next http.Handler, max int64) http.Handler {
	return &bodyLimit{next: next, max: max}
}

type bodyLimit struct {
	next http.Handler
	max  int64
}

func (b *bodyLimit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchange.Of(r)
	if r.ContentLength > b.max {
		ex.Fail(w, problem.BodyTooLarge)
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = ex.Body.Wrap(http.MaxBytesReader(w, r.Body, b.max))
	}
	b.next.ServeHTTP(w, r)
}
