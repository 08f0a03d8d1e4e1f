package limiter

import (
	"context"
	"errors"
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

	healthMu sync.Mutex
	health   map[string]*peerHealth // owners that failed lately

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
	l := &Limiter{cfg: cfg, batchers: make(map[string]*batcher), health: make(map[string]*peerHealth)}
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
// and stops every goroutine. ctx bounds the sends to other nodes (a hit
// or counter that could not be sent in time is lost; the local quota
// store is still written); the goroutines are stopped either way. It is
// idempotent; the Limiter answers ErrClosed afterwards.
func (l *Limiter) Close(ctx context.Context) error {
	if !l.closed.CompareAndSwap(false, true) {
		return nil
	}
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
// one it owns. base, when not nil, is an asking node's view of a global
// key, merged into this node's state (adopt); a global rate this node
// holds no state for starts from its own view, if it has one (it has
// just become the owner).
func (l *Limiter) ownerApply(key string, p policy, cost, now int64, base *slot) Decision {
	if p.kind == kindQuota {
		return l.quotas.apply(skey{p.name, key, tagLocal}, p, cost, now, base)
	}
	k := skey{p.name, key, tagLocal}
	if base == nil && p.global {
		if _, ok := l.store.get(k); !ok {
			if v, ok := l.store.get(skey{p.name, key, tagView}); ok {
				base = &v
			}
		}
	}
	if base == nil {
		return l.store.apply(k, p, cost, now)
	}
	var d Decision
	l.store.update(k, p, now, func(s slot, found bool) slot {
		s, d = apply(adopt(s, found, base), p, cost, now)
		return s // denied: the adopted view, kept
	})
	return d
}

// adopt merges a view of a global rate into the owner's state: the later
// TAT wins. A view is an earlier answer of an owner plus what its node
// admitted since, so in steady state the owner's own state is the later
// one and nothing changes; after an owner change the highest view is the
// closest to what the old owner held.
func adopt(s slot, found bool, base *slot) slot {
	if base != nil && (!found || base.A > s.A) {
		return *base
	}
	return s
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
		if d.Allowed {
			l.charge(a.peer, key, p, cost, now)
		}
	}
	d.Fallback = true
	return d
}

// charge queues cost units of a global rate admitted without its owner
// (a fallback) for the owner, and adds them to this node's view: the
// next sync that reaches the owner (or whoever owns the key by then)
// adds them to its state, so its budget accounts for them.
func (l *Limiter) charge(peer, key string, p policy, cost, now int64) {
	k := skey{p.name, key, tagView}
	l.store.update(k, p, now, func(s slot, _ bool) slot { return force(s, p, cost, now) })
	l.hits.add(peer, k, p, cost)
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
			l.charge(a.peer, a.key, a.p, -a.cost, now)
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

// peerHealth is what a Limiter remembers of an owner that failed.
type peerHealth struct {
	until    int64 // Unix ns (Now clock) until which it is not asked; 0: it is
	timeouts int   // peer requests in a row that missed their deadline
}

// downAfterTimeouts is how many peer requests in a row must miss their
// deadline before their owner is left alone: one slow answer on a busy
// machine is not a failure.
const downAfterTimeouts = 3

func (l *Limiter) isDown(peer string, now int64) bool {
	l.healthMu.Lock()
	defer l.healthMu.Unlock()
	h := l.health[peer]
	if h == nil || h.until == 0 {
		return false
	}
	if now >= h.until {
		h.until = 0
		return false
	}
	return true
}

// peerFailed records a failed request to peer, sent with ctx. A
// connection refused or reset, an error status, a bad answer: peer is
// left alone for PeerRetry at once. A missed deadline only counts:
// downAfterTimeouts in a row leave it alone. Nothing counts while the
// Limiter closes.
func (l *Limiter) peerFailed(ctx context.Context, peer string, err error) {
	if l.ctx.Err() != nil {
		return
	}
	l.healthMu.Lock()
	defer l.healthMu.Unlock()
	h := l.health[peer]
	if h == nil {
		h = &peerHealth{}
		l.health[peer] = h
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if h.timeouts++; h.timeouts < downAfterTimeouts {
			return
		}
	}
	h.timeouts = 0
	h.until = l.cfg.Now().UnixNano() + int64(l.cfg.PeerRetry)
}

// peerAnswered forgets peer's failures: it answered.
func (l *Limiter) peerAnswered(peer string) {
	l.healthMu.Lock()
	defer l.healthMu.Unlock()
	delete(l.health, peer)
}
