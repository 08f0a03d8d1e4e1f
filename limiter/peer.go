package limiter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The peer protocol (groupcache's http.go shape), JSON over POST:
//
//	/limiter/v1/decide     {"items":[wireItem]} → {"answers":[wireAnswer]}  strict decisions
//	/limiter/v1/hits       {"items":[wireItem]} → {"answers":[wireAnswer]}  async hits
//	/limiter/v1/replicate  {"quotas":[wireQuota]} → 204                      owner → successor
//	/limiter/v1/usage      {"key","quota"} → wireQuota
//	/limiter/v1/reset      {"key","quota"} → 204
//
// The receiver acts as the owner of what it is sent and never forwards
// it, so nodes whose rings disagree for a moment cannot loop. Every
// body read is bounded.
const (
	peerPrefix    = "/limiter/v1/"
	decidePath    = peerPrefix + "decide"
	hitsPath      = peerPrefix + "hits"
	replicatePath = peerPrefix + "replicate"
	usagePath     = peerPrefix + "usage"
	resetPath     = peerPrefix + "reset"

	maxPeerBody  = 8 << 20
	maxPeerItems = 1 << 16
)

// wireItem is one limit of one key sent to its owner.
type wireItem struct {
	Key   string `json:"key"`
	Limit *Limit `json:"limit,omitempty"`
	Quota *Quota `json:"quota,omitempty"`
	Cost  int64  `json:"cost"`
	// Base is the asker's last view of the owner's state, adopted by an
	// owner that has none (it just became the owner).
	Base *slot `json:"base,omitempty"`
}

type wireAnswer struct {
	Slot     slot     `json:"slot"`
	Decision Decision `json:"decision"`
}

type wireBatch struct {
	Items   []wireItem   `json:"items,omitempty"`
	Answers []wireAnswer `json:"answers,omitempty"`
}

func newWireItem(key string, p policy, cost int64, base *slot) wireItem {
	it := wireItem{Key: key, Cost: cost, Base: base}
	mode := ModeAsync
	if p.strict {
		mode = ModeStrict
	}
	if p.kind == kindQuota {
		it.Quota = &Quota{Name: p.name, Count: p.count, Period: p.window.String(), Mode: mode}
	} else {
		it.Limit = &Limit{Name: p.name, Rate: p.rate, Period: p.period, Burst: p.burst, Scope: ScopeGlobal, Mode: mode}
	}
	return it
}

// policy compiles the item's limit; cost may be negative (a refund).
func (it wireItem) policy() (policy, error) {
	var r Request
	switch {
	case it.Quota != nil:
		r.Quota = *it.Quota
	case it.Limit != nil:
		r.Limit = *it.Limit
	default:
		return policy{}, fmt.Errorf("%w: item without limit or quota", ErrInvalid)
	}
	p, _, err := compile(r)
	if err == nil && (it.Cost < -maxCost || it.Cost > maxCost) {
		err = fmt.Errorf("%w: cost %d out of range", ErrInvalid, it.Cost)
	}
	return p, err
}

// PeerHandler serves this node's side of the peer protocol at
// /limiter/v1/ (full paths; mount it without stripping the prefix). It
// trusts its callers: mount it only on the authenticated peer listener.
func (l *Limiter) PeerHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		if l.closed.Load() {
			http.Error(w, "limiter closed", http.StatusServiceUnavailable)
			return
		}
		body := io.LimitReader(r.Body, maxPeerBody)
		var err error
		switch r.URL.Path {
		case decidePath:
			err = l.serveBatch(w, body, true)
		case hitsPath:
			err = l.serveBatch(w, body, false)
		case replicatePath:
			err = l.serveReplicate(w, body)
		case usagePath:
			err = l.serveUsage(w, body)
		case resetPath:
			err = l.serveReset(r.Context(), w, body)
		default:
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
}

// serveBatch applies a batch as owner: strict decisions (decide) or
// already-admitted hits (force).
func (l *Limiter) serveBatch(w http.ResponseWriter, body io.Reader, decide bool) error {
	var b wireBatch
	if err := json.NewDecoder(body).Decode(&b); err != nil {
		return fmt.Errorf("decode batch: %w", err)
	}
	if len(b.Items) > maxPeerItems {
		return fmt.Errorf("batch of %d items is over the %d limit", len(b.Items), maxPeerItems)
	}
	now := l.cfg.Now().UnixNano()
	out := wireBatch{Answers: make([]wireAnswer, len(b.Items))}
	for i, it := range b.Items {
		p, err := it.policy()
		if err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
		if decide {
			if it.Cost < 1 {
				return fmt.Errorf("item %d: decision cost %d must be positive", i, it.Cost)
			}
			out.Answers[i].Decision = l.ownerApply(it.Key, p, it.Cost, now, it.Base)
			out.Answers[i].Slot = l.ownerState(it.Key, p)
			l.metrics.decided(p.name, out.Answers[i].Decision.Allowed)
			continue
		}
		out.Answers[i].Slot = l.ownerForceBase(it.Key, p, it.Cost, now, it.Base)
	}
	return writeJSON(w, out)
}

// ownerState returns the state of a key this node holds.
func (l *Limiter) ownerState(key string, p policy) slot {
	if p.kind == kindQuota {
		s, _ := l.quotas.get(skey{p.name, key, tagLocal})
		return s
	}
	s, _ := l.store.get(skey{p.name, key, tagLocal})
	return s
}

// ownerForceBase adds cost units to a key this node owns, merging base
// into its state first (adopt; a quota adopts it only if it has no
// counter).
func (l *Limiter) ownerForceBase(key string, p policy, cost, now int64, base *slot) slot {
	if p.kind == kindQuota {
		return l.quotas.force(skey{p.name, key, tagLocal}, p, cost, now, base)
	}
	return l.store.update(skey{p.name, key, tagLocal}, p, now, func(s slot, found bool) slot {
		return force(adopt(s, found, base), p, cost, now)
	})
}

func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
	return nil
}

// peerClient is the asking side of the protocol.
type peerClient struct {
	rt http.RoundTripper
	m  *metrics
}

// call posts items to peer's path and returns one answer per item.
func (c *peerClient) call(ctx context.Context, peer, path, kind string, items []wireItem) ([]wireAnswer, error) {
	start := time.Now()
	c.m.batchSize.WithLabelValues(kind).Observe(float64(len(items)))
	var out wireBatch
	err := c.post(ctx, peer, path, wireBatch{Items: items}, &out)
	c.m.peerTime.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	if err == nil && len(out.Answers) != len(items) {
		err = fmt.Errorf("owner %s sent %d answers for %d items", peer, len(out.Answers), len(items))
	}
	if err != nil {
		c.m.peerErrs.WithLabelValues(kind).Inc()
		return nil, err
	}
	return out.Answers, nil
}

// post sends in as JSON and decodes the answer into out (if not nil).
func (c *peerClient) post(ctx context.Context, peer, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode peer request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+peer+path, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("build request to %s: %w", peer, err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.rt.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("post %s to %s: %w", path, peer, err)
	}
	defer res.Body.Close()
	body := io.LimitReader(res.Body, maxPeerBody)
	if res.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(body, 512))
		return fmt.Errorf("post %s to %s: status %d: %s", path, peer, res.StatusCode, bytes.TrimSpace(msg))
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, body)
		return nil
	}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		return fmt.Errorf("decode answer of %s: %w", peer, err)
	}
	return nil
}
