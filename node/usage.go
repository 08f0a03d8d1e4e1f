package node

import (
	"context"
	"fmt"

	"github.com/portico-gw/portico/limiter"
	"github.com/portico-gw/portico/node/admin"
)

// Usage returns a consumer's quota counts (after resetting them, if
// reset), from the counters' owner node: the admin API's usage endpoints.
func (a adminAPI) Usage(ctx context.Context, consumer string, reset bool) (admin.Usage, error) {
	p := a.n.pipe.Load()
	id, ok := p.keys.Identity(consumer)
	if !ok {
		return admin.Usage{}, fmt.Errorf("%w %q", admin.ErrUnknownConsumer, consumer)
	}
	out := admin.Usage{Consumer: id.Consumer, Plan: id.Plan, Quotas: []admin.Quota{}}
	if q, ok := p.plans.Quota(consumer); ok {
		u, err := a.n.quotaUsage(ctx, q, reset)
		if err != nil {
			return admin.Usage{}, fmt.Errorf("quota usage: %w", err)
		}
		out.Quotas = append(out.Quotas, u)
	}
	return out, nil
}

// quotaUsage reads (after resetting, if reset) one quota counter.
func (n *Node) quotaUsage(ctx context.Context, q *limiter.Request, reset bool) (admin.Quota, error) {
	if reset {
		if err := n.limits.Reset(ctx, q.Key, q.Quota); err != nil {
			return admin.Quota{}, err
		}
	}
	u, err := n.limits.Usage(ctx, q.Key, q.Quota)
	if err != nil {
		return admin.Quota{}, err
	}
	return admin.Quota{Policy: u.Policy, Period: u.Period, Start: u.Start, End: u.End,
		Used: u.Used, Limit: u.Limit, Remaining: u.Remaining}, nil
}
