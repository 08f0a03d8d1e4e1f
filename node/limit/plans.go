package limit

import (
	"github.com/portico-gw/portico/limiter"
	"github.com/portico-gw/portico/node/config"
)

// Plans is every consumer's limits of a snapshot: the consumer's own, its
// group's and its plan's, and the plan's quota keyed for the consumer.
// Built once per config, read-only after.
type Plans struct {
	byName map[string]*consumerLimits
}

type consumerLimits struct {
	plan  string
	rules []rule
	quota *limiter.Request // nil without one
}

// NewPlans compiles g's consumer limits.
func NewPlans(g *config.Gateway) *Plans {
	groups := map[string]*config.ConsumerGroup{}
	for i := range g.ConsumerGroups {
		groups[g.ConsumerGroups[i].Name] = &g.ConsumerGroups[i]
	}
	plans := map[string]*config.Plan{}
	for i := range g.Plans {
		plans[g.Plans[i].Name] = &g.Plans[i]
	}
	p := &Plans{byName: make(map[string]*consumerLimits, len(g.Consumers))}
	for _, cc := range g.Consumers {
		c := &consumerLimits{plan: cc.Plan, rules: compileRules("consumer\x00"+cc.Name, cc.RateLimits)}
		if cg := groups[cc.Group]; cg != nil {
			c.rules = append(c.rules, compileRules("group\x00"+cg.Name, cg.RateLimits)...)
		}
		if pl := plans[cc.Plan]; pl != nil {
			c.rules = append(c.rules, compileRules("plan\x00"+pl.Name, pl.RateLimits)...)
			if pl.Quota != nil {
				q := QuotaRequest(pl.Name, pl.Quota, cc.Name)
				c.quota = &q
			}
		}
		if len(c.rules) == 0 && c.quota == nil {
			continue // nothing to ask the limiter about
		}
		p.byName[cc.Name] = c
	}
	return p
}

// any reports whether some consumer has limits or a quota.
func (p *Plans) any() bool { return len(p.byName) > 0 }

// Quota returns the quota request of consumer's plan, if it has one.
func (p *Plans) Quota(consumer string) (*limiter.Request, bool) {
	if c := p.byName[consumer]; c != nil && c.quota != nil {
		return c.quota, true
	}
	return nil, false
}
