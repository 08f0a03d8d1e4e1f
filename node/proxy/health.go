package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/portico-gw/portico/node/config"
)

// activePolicy probes targets out of band (config: health.active).
type activePolicy struct {
	path               string // "" turns active checks off
	interval, timeout  time.Duration
	healthy, unhealthy int
}

func newActivePolicy(c config.ActiveHealth) activePolicy {
	p := activePolicy{path: c.Path, interval: c.Interval.D(), timeout: c.Timeout.D(),
		healthy: c.Healthy, unhealthy: c.Unhealthy}
	if p.interval <= 0 {
		p.interval = 5 * time.Second
	}
	if p.timeout <= 0 {
		p.timeout = 2 * time.Second
	}
	if p.healthy <= 0 {
		p.healthy = 2
	}
	if p.unhealthy <= 0 {
		p.unhealthy = 3
	}
	return p
}

// Start launches the active health checks, one goroutine per target, if
// health.active.path is set. Calling it again, or after Close, does
// nothing.
func (u *Upstream) Start() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.started || u.closed || u.active.path == "" {
		return
	}
	u.started = true
	for _, t := range u.targets {
		u.wg.Add(1)
		go u.healthChecker(t)
	}
}

// Close stops the health checks, waiting for them until ctx is done, and
// closes idle connections. It is idempotent. Requests in flight are not
// interrupted; their connections close when they finish (for h3, the
// QUIC connections and their UDP socket close when the last one ends; a
// request started after that fails as a connect error).
func (u *Upstream) Close(ctx context.Context) error {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	u.stop()
	done := make(chan struct{})
	go func() {
		u.wg.Wait()
		close(done)
	}()
	defer u.closeIdle()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("closing upstream %q: waiting for health checks: %w", u.name, ctx.Err())
	}
}

// closeIdle closes the idle TCP connections, and the QUIC ones with
// their socket once no try is in flight.
func (u *Upstream) closeIdle() {
	if u.transport != nil {
		u.transport.CloseIdleConnections()
	}
	if u.upgrade != nil {
		u.upgrade.CloseIdleConnections()
	}
	if u.h3 != nil {
		u.h3.close()
	}
}

// healthChecker probes t every interval until the upstream closes,
// taking t out after `unhealthy` failures in a row and back after
// `healthy` successes in a row. The first probe runs at once.
func (u *Upstream) healthChecker(t *target) {
	defer u.wg.Done()
	tick := time.NewTicker(u.active.interval)
	defer tick.Stop()
	var ok, failed int // consecutive successes and failures
	for {
		if u.probe(t) {
			ok, failed = ok+1, 0
			if !t.healthy.Load() && ok >= u.active.healthy {
				t.healthy.Store(true)
				u.opts.Logger.Info("target healthy again", "upstream", u.name, "target", t.raw)
			}
		} else {
			ok, failed = 0, failed+1
			if t.healthy.Load() && failed >= u.active.unhealthy {
				t.healthy.Store(false)
				u.opts.Logger.Warn("target unhealthy", "upstream", u.name, "target", t.raw,
					"failures", failed)
			}
		}
		select {
		case <-u.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probe sends one GET for the health path to t; a 2xx or 3xx is healthy.
// The path is sent as configured, without the target's base path.
func (u *Upstream) probe(t *target) bool {
	ctx, cancel := context.WithTimeout(u.ctx, u.active.timeout)
	defer cancel()
	target := t.url.Scheme + "://" + t.url.Host + u.active.path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", "portico-health")
	resp, err := u.roundTripper().RoundTrip(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}
