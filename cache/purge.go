package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// Selector picks the entries a purge removes. Exactly one field is set.
type Selector struct {
	// Key is a cache key as KeyOf returns it: the entry and all its
	// variants.
	Key string `json:"key,omitempty"`
	// Prefix is a URL prefix, "https://host/path", matched against the
	// URL field of every key (any method, any variant, any extras).
	Prefix string `json:"prefix,omitempty"`
	// URL is a URL field of keys, exactly (KeyURL): every entry of that
	// URL, any method, any variant, any extras. Unsafe requests
	// invalidate by URL.
	URL string `json:"url,omitempty"`
	// Tag is a purge tag from the entries' tag headers.
	Tag string `json:"tag,omitempty"`
}

// Validate reports whether s selects something: exactly one field set.
func (s Selector) Validate() error {
	n := 0
	for _, f := range []string{s.Key, s.Prefix, s.URL, s.Tag} {
		if f != "" {
			n++
		}
	}
	if n != 1 {
		return errors.New("purge selector: set exactly one of key, prefix, url and tag")
	}
	return nil
}

// PurgeReport is the outcome of a cluster purge.
type PurgeReport struct {
	// Removed is the number of entries removed on this node.
	Removed int
	// Acked maps each peer that confirmed the purge to the number of
	// entries it removed.
	Acked map[string]int
	// Failed maps each peer that did not confirm it (unreachable, an
	// error, or ctx ended first) to why.
	Failed map[string]error
}

// Purge removes the entries s selects from this node's owner and near
// tiers and returns how many it removed; an invalid s removes nothing.
// Fills in flight when it starts are not stored (their responses may
// predate the purge), though their waiters still get them.
func (c *Cache) Purge(s Selector) int {
	if s.Validate() != nil {
		return 0
	}
	n := c.owner.purge(s) + c.near.purge(s)
	c.metrics.purged.Add(float64(n))
	return n
}

// PurgeCluster purges s here and on peers ("host:port", as the Transport
// dials them; this node is not among them), all at once, and returns who
// confirmed. It returns when every peer has answered or ctx has ended;
// peers that did not answer by then are reported failed.
func (c *Cache) PurgeCluster(ctx context.Context, s Selector, peers []string) PurgeReport {
	rep := PurgeReport{Acked: make(map[string]int), Failed: make(map[string]error)}
	if err := s.Validate(); err != nil {
		for _, p := range peers {
			rep.Failed[p] = err
		}
		return rep
	}
	rep.Removed = c.Purge(s)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := c.purgePeer(ctx, p, s)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rep.Failed[p] = err
			} else {
				rep.Acked[p] = n
			}
		}()
	}
	wg.Wait()
	return rep
}

// purgeAnswer is a peer's answer to a purge.
type purgeAnswer struct {
	Removed int `json:"removed"`
}

// purgePeer asks peer to purge s locally.
func (c *Cache) purgePeer(ctx context.Context, peer string, s Selector) (int, error) {
	if c.cfg.Transport == nil {
		return 0, errors.New("purge peer: no transport configured")
	}
	b, err := json.Marshal(s)
	if err != nil {
		return 0, fmt.Errorf("encode purge: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+peer+purgePath, bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("purge peer %s: %w", peer, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.cfg.Transport.RoundTrip(req)
	if err != nil {
		return 0, fmt.Errorf("purge peer %s: %w", peer, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("purge peer %s: status %s", peer, resp.Status)
	}
	var a purgeAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxPurgeBytes)).Decode(&a); err != nil {
		return 0, fmt.Errorf("purge peer %s: read answer: %w", peer, err)
	}
	return a.Removed, nil
}

// servePurge is a peer's purge of this node's tiers.
func (c *Cache) servePurge(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	var s Selector
	if err := json.NewDecoder(io.LimitReader(r.Body, maxPurgeBytes)).Decode(&s); err != nil {
		http.Error(w, "bad purge: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := s.Validate(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(purgeAnswer{Removed: c.Purge(s)})
}
