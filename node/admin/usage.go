package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/portico-gw/portico/problem"
)

// defaultUsageTimeout is Options.UsageTimeout's default.
const defaultUsageTimeout = 5 * time.Second

// Usage is the answer of GET /consumers/{name}/usage.
type Usage struct {
	Consumer string `json:"consumer"`
	Plan     string `json:"plan,omitempty"`
	// Quotas holds the plan's quota counts in their current periods;
	// empty when the plan has no quota.
	Quotas []Quota `json:"quotas"`
}

// Quota is one quota counter in its current period.
type Quota struct {
	Policy    string    `json:"policy"`
	Period    string    `json:"period"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Used      int64     `json:"used"`
	Limit     int64     `json:"limit"`
	Remaining int64     `json:"remaining"`
}

// ErrUnknownConsumer is what a UsageReader returns (wrapped) for a name
// no consumer of the served config has.
var ErrUnknownConsumer = errors.New("unknown consumer")

// UsageReader reads a consumer's quota counts.
type UsageReader interface {
	// Usage returns the consumer's quota counts, after setting them to
	// zero (on the owner and its replica) if reset.
	Usage(ctx context.Context, consumer string, reset bool) (Usage, error)
}

// usage answers GET /consumers/{name}/usage: the consumer's quota counts,
// from the counters' owner node.
func (a *api) usage(w http.ResponseWriter, r *http.Request) { a.serveUsage(w, r, false) }

// usageReset answers POST /consumers/{name}/usage/reset: the consumer's
// quota counts set to zero, then the usage after the reset.
func (a *api) usageReset(w http.ResponseWriter, r *http.Request) { a.serveUsage(w, r, true) }

func (a *api) serveUsage(w http.ResponseWriter, r *http.Request, reset bool) {
	name := r.PathValue("name")
	ctx, cancel := context.WithTimeout(r.Context(), a.o.UsageTimeout)
	defer cancel()
	u, err := a.o.Usage.Usage(ctx, name, reset)
	switch {
	case errors.Is(err, ErrUnknownConsumer):
		problem.Write(w, problem.UnknownConsumer, "")
		return
	case err != nil:
		a.log.Warn("consumer usage", "consumer", name, "reset", reset, "err", err)
		if ctx.Err() != nil {
			problem.Write(w, problem.UsageTimeout, "")
		} else {
			problem.Write(w, problem.UsageUnavailable, "")
		}
		return
	}
	if u.Quotas == nil {
		u.Quotas = []Quota{}
	}
	writeJSON(w, http.StatusOK, u)
}
