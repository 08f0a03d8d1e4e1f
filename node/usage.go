package node

import (
	"context"
	"net/http"
	"time"

	"github.com/portico-gw/portico/limiter"
)

// usageTimeout bounds a usage read or reset, which may ask the quota's
// owner node (and its replica).
const usageTimeout = 5 * time.Second

// consumerUsage is the answer of GET /consumers/{name}/usage.
type consumerUsage struct {
	Consumer string `json:"consumer"`
	Plan     string `json:"plan,omitempty"`
	// Quotas holds the plan's quota counts in their current periods;
	// empty when the plan has no quota.
	Quotas []quotaUsage `json:"quotas"`
}

type quotaUsage struct {
	Policy    string    `json:"policy"`
	Period    string    `json:"period"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Used      int64     `json:"used"`
	Limit     int64     `json:"limit"`
	Remaining int64     `json:"remaining"`
}

var (
	probNoConsumer   = problem{http.StatusNotFound, "unknown-consumer", "Unknown consumer", "No consumer of the served config has this name."}
	probUsageFailed  = problem{http.StatusBadGateway, "usage-unavailable", "Usage unavailable", "The node that holds this consumer's quota counter did not answer; retry, or see the node log."}
	probUsageTimeout = problem{http.StatusGatewayTimeout, "usage-unavailable", "Usage unavailable", "The node that holds this consumer's quota counter did not answer in time."}
)

// handleUsage answers GET /consumers/{name}/usage: the consumer's quota
// counts, from the counters' owner node.
func (n *Node) handleUsage(w http.ResponseWriter, r *http.Request) {
	n.serveUsage(w, r, false)
}

// handleUsageReset answers POST /consumers/{name}/usage/reset: the
// consumer's quota counts set to zero (on the owner and its replica),
// then the usage after the reset.
func (n *Node) handleUsageReset(w http.ResponseWriter, r *http.Request) {
	n.serveUsage(w, r, true)
}

func (n *Node) serveUsage(w http.ResponseWriter, r *http.Request, reset bool) {
	name := r.PathValue("name")
	c := n.pipe.Load().consumers.byName[name]
	if c == nil {
		writeProblem(w, probNoConsumer, "")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), usageTimeout)
	defer cancel()
	out := consumerUsage{Consumer: c.name, Plan: c.plan, Quotas: []quotaUsage{}}
	if q := c.quota; q != nil {
		u, err := n.quotaUsage(ctx, q, reset)
		if err != nil {
			n.logger.Warn("consumer usage", "consumer", c.name, "reset", reset, "err", err)
			if ctx.Err() != nil {
				writeProblem(w, probUsageTimeout, "")
			} else {
				writeProblem(w, probUsageFailed, "")
			}
			return
		}
		out.Quotas = append(out.Quotas, u)
	}
	writeJSON(w, http.StatusOK, out)
}

// quotaUsage reads (after resetting, if reset) one quota counter.
func (n *Node) quotaUsage(ctx context.Context, q *limiter.Request, reset bool) (quotaUsage, error) {
	if reset {
		if err := n.limits.Reset(ctx, q.Key, q.Quota); err != nil {
			return quotaUsage{}, err
		}
	}
	u, err := n.limits.Usage(ctx, q.Key, q.Quota)
	if err != nil {
		return quotaUsage{}, err
	}
	return quotaUsage{Policy: u.Policy, Period: u.Period, Start: u.Start, End: u.End,
		Used: u.Used, Limit: u.Limit, Remaining: u.Remaining}, nil
}
