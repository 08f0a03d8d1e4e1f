package limiter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Usage is a consumer's count for one quota in the current period.
type Usage struct {
	Policy    string
	Period    string    // day, week or month
	Start     time.Time // the period's start, UTC
	End       time.Time // the next period's start, UTC
	Used      int64
	Limit     int64
	Remaining int64
}

type usageRequest struct {
	Key   string `json:"key"`
	Quota Quota  `json:"quota"`
}

// Usage returns key's count for q in the current period, from the
// key's owner.
func (l *Limiter) Usage(ctx context.Context, key string, q Quota) (Usage, error) {
	p, err := compileQuota(q)
	if err != nil {
		return Usage{}, err
	}
	now := l.cfg.Now().UnixNano()
	var s slot
	if peer, self := l.owner(p, key); self {
		s, _ = l.quotas.get(skey{p.name, key, tagLocal})
	} else {
		var w wireQuota
		if err := l.client.post(ctx, peer, usagePath, usageRequest{Key: key, Quota: q}, &w); err != nil {
			return Usage{}, fmt.Errorf("ask owner for usage: %w", err)
		}
		s = slot{A: w.Start, B: w.Used}
	}
	s = currentPeriod(s, p, now)
	return Usage{Policy: p.name, Period: p.window.String(), Start: time.Unix(0, s.A).UTC(),
		End: time.Unix(0, p.window.end(s.A)).UTC(), Used: s.B, Limit: p.count, Remaining: max(0, p.count-s.B)}, nil
}

// Reset sets key's count for q to zero on its owner and the owner's
// replica, and drops this node's view of it. Other nodes' views catch up
// at their next sync.
func (l *Limiter) Reset(ctx context.Context, key string, q Quota) error {
	p, err := compileQuota(q)
	if err != nil {
		return err
	}
	l.store.update(skey{p.name, key, tagView}, p, 0, func(slot, bool) slot { return slot{} })
	peer, self := l.owner(p, key)
	if !self {
		if err := l.client.post(ctx, peer, resetPath, usageRequest{Key: key, Quota: q}, nil); err != nil {
			return fmt.Errorf("reset quota on owner: %w", err)
		}
		return nil
	}
	return l.resetOwned(ctx, key, p)
}

// resetOwned zeroes a counter this node owns and pushes the zero to the
// replica at once.
func (l *Limiter) resetOwned(ctx context.Context, key string, p policy) error {
	now := l.cfg.Now().UnixNano()
	k := skey{p.name, key, tagLocal}
	s := slot{A: p.window.start(now)}
	l.quotas.set(k, p, s, false)
	rp, ok := l.replica(p, key)
	if !ok {
		return nil
	}
	w := toWire(k, &quotaEntry{p: p, s: s})
	if err := l.client.post(ctx, rp, replicatePath, replicaBatch{Quotas: []wireQuota{w}}, nil); err != nil {
		return fmt.Errorf("reset quota on replica: %w", err)
	}
	return nil
}

// owner returns the owner of a global key; self when there is no ring.
func (l *Limiter) owner(p policy, key string) (string, bool) {
	if l.cfg.Owners == nil {
		return "", true
	}
	peer, self := l.cfg.Owners.Owner(ownerKey(p.name, key))
	return peer, self || peer == ""
}

func (l *Limiter) replica(p policy, key string) (string, bool) {
	rp, ok := l.cfg.Owners.(ReplicaPicker)
	if !ok || l.client == nil {
		return "", false
	}
	return rp.Replica(ownerKey(p.name, key))
}

type replicaBatch struct {
	Quotas []wireQuota `json:"quotas"`
}

func (l *Limiter) flushQuotas(ctx context.Context) {
	if err := l.flushQuotasErr(ctx); err != nil {
		l.cfg.Logger.Warn("flush quota counters", "err", err)
	}
}

// flushQuotasErr pushes changed counters this node owns to their
// replicas, writes the file and sweeps expired rate states.
func (l *Limiter) flushQuotasErr(ctx context.Context) error {
	now := l.cfg.Now().UnixNano()
	err := l.pushReplicas(ctx)
	l.store.sweep(now)
	return errors.Join(err, l.quotas.save(now))
}

func (l *Limiter) pushReplicas(ctx context.Context) error {
	changed := l.quotas.takeReplicas()
	if len(changed) == 0 || l.cfg.Owners == nil {
		return nil
	}
	byPeer := make(map[string][]wireQuota)
	for _, w := range changed {
		p, err := compileQuota(w.Quota)
		if err != nil {
			continue
		}
		if _, self := l.owner(p, w.Key); !self {
			continue // held as a replica, or no longer owned
		}
		if rp, ok := l.replica(p, w.Key); ok {
			byPeer[rp] = append(byPeer[rp], w)
		}
	}
	var errs []error
	for peer, ws := range byPeer {
		start := time.Now()
		l.metrics.batchSize.WithLabelValues("replicate").Observe(float64(len(ws)))
		err := l.client.post(ctx, peer, replicatePath, replicaBatch{Quotas: ws}, nil)
		l.metrics.peerTime.WithLabelValues("replicate").Observe(time.Since(start).Seconds())
		if err != nil {
			l.metrics.peerErrs.WithLabelValues("replicate").Inc()
			l.quotas.markReplicas(ws)
			errs = append(errs, fmt.Errorf("replicate quotas: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (l *Limiter) serveReplicate(w http.ResponseWriter, body io.Reader) error {
	var b replicaBatch
	if err := json.NewDecoder(body).Decode(&b); err != nil {
		return fmt.Errorf("decode replicas: %w", err)
	}
	for i, q := range b.Quotas {
		p, err := compileQuota(q.Quota)
		if err != nil {
			return fmt.Errorf("replica %d: %w", i, err)
		}
		l.quotas.set(skey{p.name, q.Key, tagLocal}, p, slot{A: q.Start, B: max(0, q.Used)}, false)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (l *Limiter) serveUsage(w http.ResponseWriter, body io.Reader) error {
	var u usageRequest
	if err := json.NewDecoder(body).Decode(&u); err != nil {
		return fmt.Errorf("decode usage request: %w", err)
	}
	p, err := compileQuota(u.Quota)
	if err != nil {
		return err
	}
	k := skey{p.name, u.Key, tagLocal}
	s, _ := l.quotas.get(k)
	return writeJSON(w, toWire(k, &quotaEntry{p: p, s: s}))
}

func (l *Limiter) serveReset(ctx context.Context, w http.ResponseWriter, body io.Reader) error {
	var u usageRequest
	if err := json.NewDecoder(body).Decode(&u); err != nil {
		return fmt.Errorf("decode reset request: %w", err)
	}
	p, err := compileQuota(u.Quota)
	if err != nil {
		return err
	}
	if err := l.resetOwned(ctx, u.Key, p); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
