package cache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Cache is one node's part of the distributed HTTP response cache: the
// owner tier, the near tier, the fills in flight and the peer protocol.
// All its methods are safe for concurrent use. Close it when done.
type Cache struct {
	cfg     Config
	owner   *tier // entries this node owns
	near    *tier // copies of entries owned elsewhere; nil when disabled
	flights *flights
	metrics *metrics
	routes  atomic.Pointer[Routes] // published: what peers' fills are served with

	// ctx ends with Close: it cancels fills and background refreshes.
	ctx    context.Context
	cancel context.CancelFunc

	stopped    atomic.Bool // set by Close: requests go around the cache
	bgMu       sync.Mutex
	closed     bool
	bg         sync.WaitGroup      // background refreshes
	refreshing map[string]struct{} // keys with a refresh under way
}

// New makes a Cache from cfg, whose zero fields take their defaults.
func New(cfg Config) (*Cache, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("cache config: %w", err)
	}
	c := &Cache{cfg: cfg, flights: newFlights(), refreshing: make(map[string]struct{})}
	var err error
	if c.owner, err = newTier("owner", cfg.MaxBytes); err != nil {
		return nil, err
	}
	if cfg.NearMaxBytes > 0 {
		if c.near, err = newTier("near", cfg.NearMaxBytes); err != nil {
			c.owner.close()
			return nil, err
		}
	}
	c.metrics = newMetrics(c)
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(c.metrics); err != nil {
			c.owner.close()
			c.near.close()
			return nil, fmt.Errorf("register cache metrics: %w", err)
		}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Close stops background refreshes and waits for them, cancels fills in
// flight, frees both tiers and unregisters the metrics. Requests still
// running afterwards pass through to their upstream. Close is idempotent.
func (c *Cache) Close() error {
	c.bgMu.Lock()
	if c.closed {
		c.bgMu.Unlock()
		return nil
	}
	c.closed = true
	c.bgMu.Unlock()
	c.stopped.Store(true)
	c.cancel()
	c.bg.Wait()
	c.owner.close()
	c.near.close()
	if c.cfg.Registerer != nil {
		c.cfg.Registerer.Unregister(c.metrics)
	}
	return nil
}

// ownerOf returns the peer owning key under p, or self. A request that
// came from a peer is always served here: it is never forwarded again.
func (c *Cache) ownerOf(key string, p *policy, asOwner bool) (peer string, self bool) {
	if asOwner || c.cfg.Owners == nil || p.bypassLocal {
		return "", true
	}
	peer, self = c.cfg.Owners.Owner(key, p.scope)
	return peer, self || peer == ""
}

// tierFor is the tier a request stores in and looks up: the owner tier
// when this node owns the key, else the near tier.
func (c *Cache) tierFor(self bool) *tier {
	if self {
		return c.owner
	}
	return c.near
}

func (c *Cache) now() time.Time { return c.cfg.Now() }

// fillContext detaches a fill from its client's cancellation (other
// requests wait for it, and a complete response is worth storing) but not
// from Close. The returned cancel also stops it, for a fill nobody needs
// any more.
func (c *Cache) fillContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	stop := context.AfterFunc(c.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// spawn runs fn on a background goroutine that Close waits for, unless
// key already has one running or the Cache is closed.
func (c *Cache) spawn(key string, fn func()) bool {
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	if c.closed {
		return false
	}
	if _, busy := c.refreshing[key]; busy {
		return false
	}
	c.refreshing[key] = struct{}{}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer func() {
			c.bgMu.Lock()
			delete(c.refreshing, key)
			c.bgMu.Unlock()
		}()
		fn()
	}()
	return true
}
