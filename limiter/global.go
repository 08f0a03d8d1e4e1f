package limiter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Global limits (gubernator's GLOBAL behaviour, and its batching).
//
// Async: a node that does not own a key decides from its view (a state
// it keeps under tagView), queues the admitted units per owner, and
// every SyncInterval sends each owner one batch (POST /limiter/v1/hits).
// The owner adds them to its state unconditionally (they were admitted)
// and answers with its state, which becomes the view again, plus what
// was queued since the batch left.
//
// Strict: every decision is sent to the owner, which applies the
// algorithm; decisions for the same owner that arrive while earlier ones
// are on their way gather into one POST /limiter/v1/decide (batcher.run).

// pendingHit is the units queued for one key.
type pendingHit struct {
	p    policy
	cost int64
}

// hitQueue holds async hits (and refunds) per owner until the next sync.
type hitQueue struct {
	mu    sync.Mutex
	peers map[string]map[skey]*pendingHit
}

func newHitQueue() *hitQueue { return &hitQueue{peers: make(map[string]map[skey]*pendingHit)} }

func (q *hitQueue) add(peer string, k skey, p policy, cost int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := q.peers[peer]
	if m == nil {
		m = make(map[skey]*pendingHit)
		q.peers[peer] = m
	}
	if h := m[k]; h != nil {
		h.cost += cost
		h.p = p
		return
	}
	m[k] = &pendingHit{p: p, cost: cost}
}

// take removes and returns everything queued.
func (q *hitQueue) take() map[string]map[skey]*pendingHit {
	q.mu.Lock()
	defer q.mu.Unlock()
	all := q.peers
	q.peers = make(map[string]map[skey]*pendingHit, len(all))
	return all
}

// pending returns the units queued for k since the last take.
func (q *hitQueue) pending(peer string, k skey) int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if h := q.peers[peer][k]; h != nil {
		return h.cost
	}
	return 0
}

// sync sends every owner its queued hits (async hits, refunds, and the
// charges of fallback admissions), one request per owner in parallel,
// and refreshes the views from the answers. Each key goes to its owner
// now, not to the one it was queued for: after a ring change the new
// owner gets them, and a key this node now owns takes them itself
// (absorb). A failed owner's hits are queued again, so what was
// admitted reaches an owner once one answers; a failure counts towards
// leaving the owner alone (peerFailed).
func (l *Limiter) sync(ctx context.Context) {
	all := l.regroup(l.hits.take())
	var wg sync.WaitGroup
	for peer, hits := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.syncPeer(ctx, peer, hits)
		}()
	}
	wg.Wait()
	l.store.sweep(l.cfg.Now().UnixNano())
}

func (l *Limiter) syncPeer(ctx context.Context, peer string, hits map[skey]*pendingHit) {
	keys := make([]skey, 0, len(hits))
	items := make([]wireItem, 0, len(hits))
	for k, h := range hits {
		if h.cost == 0 {
			continue
		}
		var base *slot
		if s, ok := l.store.get(k); ok {
			b := force(s, h.p, -h.cost, l.cfg.Now().UnixNano())
			base = &b
		}
		keys = append(keys, k)
		items = append(items, newWireItem(k.key, h.p, h.cost, base))
	}
	if len(items) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, max(l.cfg.DecisionTimeout, time.Second))
	defer cancel()
	answers, err := l.client.call(ctx, peer, hitsPath, "hits", items)
	if err != nil {
		if !l.isDown(peer, l.cfg.Now().UnixNano()) {
			l.cfg.Logger.Warn("send rate limit hits to owner", "peer", peer, "items", len(items), "err", err)
		}
		l.peerFailed(ctx, peer, err)
		for i, k := range keys {
			l.hits.add(peer, k, hits[k].p, items[i].Cost)
		}
		return
	}
	l.peerAnswered(peer)
	now := l.cfg.Now().UnixNano()
	for i, k := range keys {
		p, owner := hits[k].p, answers[i].Slot
		queued := l.hits.pending(peer, k)
		l.store.update(k, p, now, func(slot, bool) slot { return force(owner, p, queued, now) })
	}
}

// regroup files queued hits under each key's current owner, and absorbs
// those of keys this node owns now.
func (l *Limiter) regroup(all map[string]map[skey]*pendingHit) map[string]map[skey]*pendingHit {
	out := make(map[string]map[skey]*pendingHit, len(all))
	now := l.cfg.Now().UnixNano()
	for _, hits := range all {
		for k, h := range hits {
			peer, self := l.cfg.Owners.Owner(ownerKey(k.name, k.key))
			if self || peer == "" {
				l.absorb(k, h, now)
				continue
			}
			m := out[peer]
			if m == nil {
				m = make(map[skey]*pendingHit, len(hits))
				out[peer] = m
			}
			if prev := m[k]; prev != nil {
				prev.cost += h.cost
				prev.p = h.p
				continue
			}
			m[k] = h
		}
	}
	return out
}

// absorb takes the queued units of a key this node has come to own (k
// is the view's key). A rate's view already holds them: it becomes the
// owned state if it is later (adopt). A quota's units go onto the owned
// counter, which adopts the view's count as it would from an asker.
func (l *Limiter) absorb(k skey, h *pendingHit, now int64) {
	view, ok := l.store.get(k)
	if h.p.kind == kindQuota {
		var base *slot
		if ok {
			b := force(view, h.p, -h.cost, now)
			base = &b
		}
		l.ownerForceBase(k.key, h.p, h.cost, now, base)
		return
	}
	if ok {
		l.store.update(skey{k.name, k.key, tagLocal}, h.p, now, func(s slot, found bool) slot { return adopt(s, found, &view) })
	}
}

// batcher gathers strict decisions for one owner. Its loop goroutine,
// started on first use, runs until Close.
type batcher struct {
	l    *Limiter
	peer string
	in   chan *strictCall
}

type strictCall struct {
	item wireItem
	done chan struct{} // closed when ans or err is set
	ans  wireAnswer
	err  error
}

var errNoAnswer = errors.New("owner sent no answer for the item")

// strictDecide asks peer, the key's owner, for a decision, waiting at
// most DecisionTimeout. The view it sends as base, and keeps from the
// answer, leaves out and puts back what is still queued for the owner
// (charges of fallbacks, refunds), which the next sync delivers.
func (l *Limiter) strictDecide(ctx context.Context, peer, key string, p policy, cost, now int64) (Decision, error) {
	k := skey{p.name, key, tagView}
	var base *slot
	if s, ok := l.store.get(k); ok {
		if q := l.hits.pending(peer, k); q != 0 {
			s = force(s, p, -q, now)
		}
		base = &s
	}
	c := &strictCall{item: newWireItem(key, p, cost, base), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.DecisionTimeout)
	defer cancel()
	b := l.batcher(peer)
	select {
	case b.in <- c:
	case <-ctx.Done():
		return Decision{}, fmt.Errorf("queue decision for %s: %w", peer, ctx.Err())
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return Decision{}, fmt.Errorf("wait for %s: %w", peer, ctx.Err())
	}
	if c.err != nil {
		return Decision{}, c.err
	}
	view := c.ans.Slot
	if q := l.hits.pending(peer, k); q != 0 {
		view = force(view, p, q, now)
	}
	l.store.update(k, p, now, func(slot, bool) slot { return view })
	return c.ans.Decision, nil
}

func (l *Limiter) batcher(peer string) *batcher {
	l.batchMu.Lock()
	defer l.batchMu.Unlock()
	b := l.batchers[peer]
	if b == nil {
		b = &batcher{l: l, peer: peer, in: make(chan *strictCall, l.cfg.BatchMax)}
		l.batchers[peer] = b
		l.wg.Add(1)
		go b.run()
	}
	return b
}

// maxInflight is how many batches may be on their way to one owner at
// once; further decisions gather into the next batch meanwhile.
const maxInflight = 2

// run sends strict decisions as they come, batching by need rather than
// by clock (Nagle-style): a decision with no batch ahead of it leaves at
// once, with whatever is already queued; while maxInflight batches are
// out, new decisions gather (up to BatchMax, or BatchWindow at most) and
// leave when one returns. So a lone decision pays one round trip and no
// window, and a busy owner gets few, large batches.
func (b *batcher) run() {
	defer b.l.wg.Done()
	stop := b.l.ctx.Done()
	sent := make(chan struct{}, maxInflight+1) // a batch came back
	inflight := 0
	for {
		var batch []*strictCall
		select {
		case c := <-b.in:
			batch = append(batch, c)
		case <-sent:
			inflight--
			continue
		case <-stop:
			return
		}
		batch = b.drain(batch)
		if inflight >= maxInflight && len(batch) < b.l.cfg.BatchMax {
			batch, inflight = b.gather(batch, inflight, sent, stop)
		}
		inflight++
		b.l.wg.Add(1)
		go b.send(batch, sent)
	}
}

// drain adds the decisions already queued, up to BatchMax, without
// waiting.
func (b *batcher) drain(batch []*strictCall) []*strictCall {
	for len(batch) < b.l.cfg.BatchMax {
		select {
		case c := <-b.in:
			batch = append(batch, c)
		default:
			return batch
		}
	}
	return batch
}

// gather grows batch while the owner is busy: until a batch comes back,
// BatchMax are waiting, BatchWindow passes or the Limiter closes.
func (b *batcher) gather(batch []*strictCall, inflight int, sent <-chan struct{}, stop <-chan struct{}) ([]*strictCall, int) {
	t := time.NewTimer(b.l.cfg.BatchWindow)
	defer t.Stop()
	for len(batch) < b.l.cfg.BatchMax {
		select {
		case c := <-b.in:
			batch = append(batch, c)
		case <-sent:
			return b.drain(batch), inflight - 1
		case <-t.C:
			return batch, inflight
		case <-stop:
			return batch, inflight
		}
	}
	return batch, inflight
}

func (b *batcher) send(batch []*strictCall, sent chan<- struct{}) {
	defer b.l.wg.Done()
	defer func() { sent <- struct{}{} }()
	items := make([]wireItem, len(batch))
	for i, c := range batch {
		items[i] = c.item
	}
	ctx, cancel := context.WithTimeout(b.l.ctx, b.l.cfg.DecisionTimeout)
	defer cancel()
	answers, err := b.l.client.call(ctx, b.peer, decidePath, "strict", items)
	if err != nil {
		b.l.peerFailed(ctx, b.peer, err)
	} else {
		b.l.peerAnswered(b.peer)
	}
	for i, c := range batch {
		switch {
		case err != nil:
			c.err = err
		case i >= len(answers):
			c.err = errNoAnswer
		default:
			c.ans = answers[i]
		}
		close(c.done)
	}
}
