package limiter

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Limiter decides rate limits and quotas for one node. It is safe for
// concurrent use. Create it with New, mount PeerHandler on the peer
// listener, and Close it to stop its goroutines and persist quotas.
type Limiter struct {
	cfg     Config
	store   *store
	quotas  *quotaTable
	metrics *metrics
	hits    *hitQueue
	client  *peerClient

	batchMu  sync.Mutex
	batchers map[string]*batcher

	downMu sync.Mutex
	down   map[string]int64 // peer → Unix ns until which it is not asked

	ctx    context.Context // cancelled by Close: stops peer requests
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
}

// New returns a Limiter for cfg, with its quota counters loaded from
// cfg.DataDir, and starts its background sync and flush goroutines.
func New(cfg Config) (*Limiter, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("limiter config: %w", err)
	}
	l := &Limiter{cfg: cfg, batchers: make(map[string]*batcher), down: make(map[string]int64)}
	l.quotas = newQuotaTable(cfg.DataDir)
	var evictions func()
	l.metrics = newMetrics(func() float64 { return float64(l.store.len()) }, func() float64 { return float64(l.quotas.len()) })
	evictions = l.metrics.evictions.Inc
	l.store = newStore(cfg.MaxKeys, evictions)
	l.hits = newHitQueue()
	if err := l.quotas.load(cfg.Now().UnixNano()); err != nil {
		return nil, fmt.Errorf("load quotas: %w", err)
	}
	if cfg.Registerer != nil {
		if err := l.metrics.register(cfg.Registerer); err != nil {
			return nil, fmt.Errorf("register limiter metrics: %w", err)
		}
	}
	if cfg.Transport != nil {
		l.client = &peerClient{rt: cfg.Transport, m: l.metrics}
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	if cfg.SyncInterval > 0 && cfg.Owners != nil {
		l.wg.Add(1)
		go l.every(cfg.SyncInterval, l.sync)
	}
	if cfg.FlushInterval > 0 {
		l.wg.Add(1)
		go l.every(cfg.FlushInterval, l.flushQuotas)
	}
	return l, nil
}

// every runs f every d until Close.
func (l *Limiter) every(d time.Duration, f func(context.Context)) {
	defer l.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
			f(l.ctx)
		}
	}
}

// Close sends the queued hits, persists and replicates quota counters,
// and stops every goroutine. It is idempotent; the Limiter answers
// ErrClosed afterwards.
func (l *Limiter) Close() error {
	if !l.closed.CompareAndSwap(false, true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if l.cfg.Owners != nil {
		l.sync(ctx)
	}
	err := l.flushQuotasErr(ctx)
	l.cancel()
	l.wg.Wait()
	return err
}

// Flush sends queued async hits to their owners now and updates the
// views from their answers, then persists and replicates quota
// counters and sweeps expired states — what the background loops do
// every SyncInterval and FlushInterval. Tests that disable those loops
// call it to step the cluster.
func (l *Limiter) Flush(ctx context.Context) error {
	if l.cfg.Owners != nil {
		l.sync(ctx)
	}
	return l.flushQuotasErr(ctx)
}

// applied records a limit a request used, to refund it if a later limit
// denies the request.
type applied struct {
	key  string
	p    policy
	cost int64
	via  tag    // where the state was changed
	peer string // the owner, for views and strict decisions
}

// Allow decides a gateway request against all its limits at once: it is
// admitted only if every limit admits it. Limits are applied in order;
// at the first denial the ones already applied are refunded (their
// units given back, so a denied request costs no budget, except to
// concurrent requests that saw the reduced budget in between) and the
// rest are not asked. Put cheap local limits first.
//
// The Decision is the binding one: the denial, or among admissions the
// one with the fewest units remaining. An error (ErrInvalid, ErrClosed)
// means no decision; owner failures are not errors but fallbacks
// (Decision.Fallback). Allow waits at most DecisionTimeout per strict
// limit, less if ctx ends first.
func (l *Limiter) Allow(ctx context.Context, reqs []Request) (Decision, error) {
	if l.closed.Load() {
		return Decision{}, ErrClosed
	}
	now := l.cfg.Now().UnixNano()
	var buf [4]applied
	done := buf[:0]
	var out Decision
	for i, r := range reqs {
		p, cost, err := compile(r)
		if err != nil {
			l.refund(done, now)
			return Decision{}, err
		}
		d, a := l.decide(ctx, r.Key, p, cost, now)
		l.metrics.decided(p.name, d.Allowed)
		if i == 0 {
			out = d
		} else {
			out = binding(out, d)
		}
		if !d.Allowed {
			l.refund(done, now)
			return out, nil
		}
		done = append(done, a)
	}
	return out, nil
}

// decide applies one limit where its state lives.
func (l *Limiter) decide(ctx context.Context, key string, p policy, cost, now int64) (Decision, applied) {
	a := applied{key: key, p: p, cost: cost, via: tagLocal}
	if !p.global || l.cfg.Owners == nil {
		return l.ownerApply(key, p, cost, now, nil), a
	}
	peer, self := l.cfg.Owners.Owner(ownerKey(p.name, key))
	if self || peer == "" {
		return l.ownerApply(key, p, cost, now, nil), a
	}
	a.peer = peer
	if l.isDown(peer, now) {
		return l.fallback(key, p, cost, now, &a), a
	}
	// A quota's first decision on this node asks the owner: a fresh view
	// would admit a whole period's count before the first sync.
	if p.strict || (p.kind == kindQuota && !l.hasView(p, key)) {
		d, err := l.strictDecide(ctx, peer, key, p, cost, now)
		if err != nil {
			l.cfg.Logger.Debug("strict rate limit decision fell back", "peer", peer, "policy", p.name, "err", err)
			return l.fallback(key, p, cost, now, &a), a
		}
		a.via = tagView // refunds go through the hit queue
		return d, a
	}
	a.via = tagView
	d := l.store.apply(skey{p.name, key, tagView}, p, cost, now)
	if d.Allowed {
		l.hits.add(peer, skey{p.name, key, tagView}, p, cost)
	}
	return d, a
}

// ownerApply decides a key this node holds: a local limit, or a global
// one it owns. base, when not nil, is an asking node's view, adopted if
// this node has no state for the key (an owner change).
func (l *Limiter) ownerApply(key string, p policy, cost, now int64, base *slot) Decision {
	if p.kind == kindQuota {
		return l.quotas.apply(skey{p.name, key, tagLocal}, p, cost, now, base)
	}
	k := skey{p.name, key, tagLocal}
	if base == nil {
		return l.store.apply(k, p, cost, now)
	}
	var d Decision
	l.store.update(k, p, now, func(s slot, found bool) slot {
		if !found {
			s = *base
		}
		s, d = apply(s, p, cost, now)
		return s
	})
	return d
}

// fallback decides with the limit divided among live nodes, on a state
// of its own. Quotas fall back to this node's view of the owner's count
// (see doc.go).
func (l *Limiter) fallback(key string, p policy, cost, now int64, a *applied) Decision {
	l.metrics.fallback.Inc()
	var d Decision
	if p.kind == kindQuota {
		a.via = tagView
		d = l.store.apply(skey{p.name, key, tagView}, p, cost, now)
		if d.Allowed {
			l.hits.add(a.peer, skey{p.name, key, tagView}, p, cost)
		}
	} else {
		a.via = tagFallback
		d = l.store.apply(skey{p.name, key, tagFallback}, p.fallback(l.cfg.Owners.Nodes()), cost, now)
	}
	d.Fallback = true
	return d
}

// refund gives back the units of limits a denied request had used.
func (l *Limiter) refund(done []applied, now int64) {
	for _, a := range done {
		switch a.via {
		case tagLocal:
			l.ownerForce(a.key, a.p, -a.cost, now)
		case tagFallback:
			p := a.p.fallback(l.cfg.Owners.Nodes())
			l.store.update(skey{a.p.name, a.key, tagFallback}, p, now, func(s slot, _ bool) slot { return force(s, p, -a.cost, now) })
		case tagView:
			k := skey{a.p.name, a.key, tagView}
			l.store.update(k, a.p, now, func(s slot, _ bool) slot { return force(s, a.p, -a.cost, now) })
			l.hits.add(a.peer, k, a.p, -a.cost)
		}
	}
}

// ownerForce adds cost units (negative: a refund) to a key this node
// holds.
func (l *Limiter) ownerForce(key string, p policy, cost, now int64) slot {
	if p.kind == kindQuota {
		return l.quotas.force(skey{p.name, key, tagLocal}, p, cost, now, nil)
	}
	return l.store.update(skey{p.name, key, tagLocal}, p, now, func(s slot, _ bool) slot { return force(s, p, cost, now) })
}

func (l *Limiter) hasView(p policy, key string) bool {
	_, ok := l.store.get(skey{p.name, key, tagView})
	return ok
}

// ownerKey is the key the ring places: the policy and the limited key.
func ownerKey(policy, key string) string { return policy + "/" + key }

func (l *Limiter) isDown(peer string, now int64) bool {
	l.downMu.Lock()
	defer l.downMu.Unlock()
	until, ok := l.down[peer]
	if ok && now >= until {
		delete(l.down, peer)
		return false
	}
	return ok
}

// markDown leaves peer alone for PeerRetry.
func (l *Limiter) markDown(peer string) {
	l.downMu.Lock()
	defer l.downMu.Unlock()
	l.down[peer] = l.cfg.Now().UnixNano() + int64(l.cfg.PeerRetry)
}
