package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The overshoot figures of the ratelimit scenario: how many requests a
// global limit admits when three nodes are asked 3× its rate together,
// against what GCRA allows over the same span (rate × span + burst).
// The throughput targets never deny, so they cannot show it. Each mode
// runs twice on the cluster of the global targets: idle, and with CPU
// hogs (busy loops) pinned beside the nodes, as on a loaded machine
// where an owner's answer waits for a core.
const (
	// accuracyRate and accuracyBurst are the measured limit; every node
	// is sent accuracyRate req/s, so the cluster gets 3×.
	accuracyRate  = 200
	accuracyBurst = 20
	// accuracyPolicy names it (a policy of its own: fresh state).
	accuracyPolicy = "overshoot"
	// accuracySpan bounds each measure (the scenario's duration if
	// shorter).
	accuracySpan = 5 * time.Second
	// cpuHogs is how many busy loops run beside the nodes in the hog
	// phases, on the nodes' CPU (all of them when unpinned: one per CPU).
	cpuHogs = 2
	// Goals: strict admits the limit (+1 %, the span's edges), async
	// about one sync's worth per node (+10 %).
	goalStrictOvershootPct = 1.0
	goalAsyncOvershootPct  = 10.0
)

// accuracyDoc is the cluster's document for an overshoot measure: the
// one route with a global limit in mode by X-Bench-Key.
func accuracyDoc(backend, mode string) string {
	return gatewayDoc(backend, false) + fmt.Sprintf(
		"    rate_limits: [{name: %s, rate: %d/s, burst: %d, by: [\"header:%s\"], scope: global, mode: %s}]\n",
		accuracyPolicy, accuracyRate, accuracyBurst, limitKeyHeader, mode)
}

// overshoot is one measure: admitted of sent over span.
type overshoot struct {
	mode     string
	hog      bool
	sent     int64
	admitted int64
	errors   int64  // answers neither 200 nor 429, and failures
	firstErr string // the first of them
	span     time.Duration
}

// allowed is what GCRA admits over the span: rate × span + burst.
func (o overshoot) allowed() float64 {
	return accuracyRate*o.span.Seconds() + accuracyBurst
}

// pct is the overshoot in percent of allowed (negative: under).
func (o overshoot) pct() float64 { return 100 * (float64(o.admitted)/o.allowed() - 1) }

func (o overshoot) label() string {
	if o.hog {
		return o.mode + ", CPU hog"
	}
	return o.mode + ", idle"
}

// measureOvershoot runs the four overshoot measures (async and strict,
// idle and hogged) on r's cluster, and returns their ratios and notes. A
// measure that cannot run leaves its ratio without a value.
func (r *clusterRun) measureOvershoot(ctx context.Context) ([]Ratio, []string) {
	ph, c := r.ph, r.c
	span := min(ph.duration, accuracySpan)
	var ratios []Ratio
	var notes []string
	for _, mode := range []string{"async", "strict"} {
		if err := r.apply(ctx, "the document", accuracyDoc(r.backend, mode)); err != nil {
			notes = append(notes, fmt.Sprintf("overshoot, %s: %v", mode, err))
			continue
		}
		for _, hog := range []bool{false, true} {
			if ctx.Err() != nil {
				return ratios, notes
			}
			o := overshoot{mode: mode, hog: hog, span: span}
			stop, err := ph.startHogs(hog)
			if err != nil {
				notes = append(notes, fmt.Sprintf("overshoot, %s: CPU hog: %v", o.label(), err))
				continue
			}
			// A key of its own per measure: nothing left from the last.
			key := "overshoot-" + mode + "-" + strconv.FormatBool(hog)
			r.note("overshoot, %s: %d req/s to each of %d nodes for %v", o.label(), accuracyRate, len(c.nodes), span)
			fellBefore := c.fallbacks(ctx)
			o = driveAccuracy(ctx, c, key, o)
			stop()
			fell := c.fallbacks(ctx) - fellBefore
			goal := goalAsyncOvershootPct
			if mode == "strict" {
				goal = goalStrictOvershootPct
			}
			v := o.pct()
			ratios = append(ratios, newFigure(fmt.Sprintf("%s overshoot at 3× the limit, %%", o.label()), &v, goal))
			note := fmt.Sprintf("overshoot, %s: %d of %d admitted over %.2fs, GCRA allows %.0f (%+.1f%%); %d errors",
				o.label(), o.admitted, o.sent, o.span.Seconds(), o.allowed(), v, o.errors)
			if fellBefore >= 0 && fell >= 0 {
				note += fmt.Sprintf(", %.0f fallback decisions", fell)
			}
			if o.errors > 0 {
				note += " (first: " + o.firstErr + ")"
			}
			notes = append(notes, note)
		}
	}
	return ratios, notes
}

// fallbacks sums portico_limiter_fallback_total over the nodes (a node
// that never fell back has none yet); -1 if a node could not be read.
func (c *benchCluster) fallbacks(ctx context.Context) float64 {
	sum := 0.0
	for _, n := range c.nodes {
		v, err := c.scrape(ctx, n, fallbackMetric)
		if err != nil && !strings.Contains(err.Error(), "not found") {
			return -1
		}
		sum += v
	}
	return sum
}

// startHogs starts the CPU hogs when on (busy shell loops pinned to the
// nodes' CPU, or one per CPU unpinned) and returns what stops them.
func (ph phase) startHogs(on bool) (stop func(), err error) {
	if !on {
		return func() {}, nil
	}
	n, cpu := cpuHogs, ph.tb.cfg.cpu
	if cpu < 0 {
		n = runtime.NumCPU()
	}
	var hogs []*process
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*stopGrace)
		defer cancel()
		for _, p := range hogs {
			_ = p.stop(ctx)
		}
	}
	for i := range n {
		p, err := ph.tb.start(procSpec{name: "cpu-hog-" + strconv.Itoa(i), dir: ph.tb.dir, cpu: cpu, taskset: ph.tb.cfg.taskset,
			argv: []string{"/bin/sh", "-c", "while :; do :; done"}})
		if err != nil {
			stop()
			return nil, err
		}
		hogs = append(hogs, p)
	}
	return stop, nil
}

// driveAccuracy sends accuracyRate req/s with key to every node of c at
// once for o.span, paced, each request on its own, and counts the
// answers.
func driveAccuracy(ctx context.Context, c *benchCluster, key string, o overshoot) overshoot {
	tr := newTransport(64)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var sent, admitted, errs atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	every := time.Second / accuracyRate
	for _, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inflight sync.WaitGroup
			defer inflight.Wait()
			for i := 0; ; i++ {
				at := start.Add(time.Duration(i) * every)
				if at.Sub(start) >= o.span || ctx.Err() != nil {
					return
				}
				time.Sleep(time.Until(at))
				sent.Add(1)
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					switch status, err := accuracyGet(ctx, client, n.url+rateLimitPath, key); {
					case status == http.StatusOK:
						admitted.Add(1)
					case status == http.StatusTooManyRequests:
					default:
						errs.Add(1)
						firstErr.Do(func() {
							if err == nil {
								err = fmt.Errorf("status %d", status)
							}
							o.firstErr = err.Error()
						})
					}
				}()
			}
		}()
	}
	wg.Wait() // the senders wait for their requests: o.firstErr is set
	o.sent, o.admitted, o.errors = sent.Load(), admitted.Load(), errs.Load()
	return o
}

// accuracyGet asks url with key and returns the status.
func accuracyGet(ctx context.Context, client *http.Client, url, key string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set(limitKeyHeader, key)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
