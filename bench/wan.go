package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// The wan scenario's network (issue 4): 50 ms round trip, 1% of packets
// lost each way, the losses drawn from a fixed seed so that two runs
// drop the same packets of the same sequence.
const (
	wanRTT            = 50 * time.Millisecond
	wanLoss           = 0.01
	wanSeed           = 0x706f727469636f // "portico"
	wanSeriesRequests = 20
)

// Goals of the wan scenario (issue 4), on the TTFB median of a new
// connection: HTTP/3 at most 0.7 of HTTP/2's, HTTP/3 with 0-RTT at most
// half of it.
const (
	goalWANH3    = 0.7
	goalWANEarly = 0.5
)

// wanBound bounds each wan measure: four measured durations, at least
// 10s, so that a slow path cuts the samples, not the run.
func wanBound(d time.Duration) time.Duration { return max(4*d, 10*time.Second) }

// Client modes of the wan scenario, as in Row.Protocol.
const (
	wanH2    = "h2"      // HTTP/2 over TLS 1.3, session resumed from a ticket
	wanH3    = "h3"      // HTTP/3, session resumed, request after the handshake
	wanEarly = "h3-0rtt" // HTTP/3, session resumed, request in 0-RTT
)

// Measures of the wan scenario, as in Row.Measure.
const (
	measureTTFB   = "ttfb, new connection"
	measureSeries = "series on one connection"
)

// measureWAN runs the wan scenario: it opens the emulated path, starts a
// portico (and a Caddy) listening on the path's gateway address, and
// times new connections and request series through the path.
func (ph phase) measureWAN(ctx context.Context, sc Scenario) ([]Row, []Ratio) {
	k, err := ph.tb.edgeKit(ctx, ph.progress)
	if err != nil {
		return []Row{{Target: TargetPortico, Skipped: err.Error()}}, nil
	}
	path, note := openWANPath(netemConfig{rtt: wanRTT, loss: sc.WAN.LossPct / 100, seed: wanSeed})
	defer path.close()
	if note != "" {
		ph.progress.note("wan: %s", note)
	}
	targets, stop := ph.tb.startEdgeTargets(ctx, k, sc.Name, path.gatewayHost())
	defer stop()
	var rows []Row
	for _, t := range targets {
		for _, mode := range []string{wanH2, wanH3, wanEarly} {
			if ctx.Err() == nil {
				rows = append(rows, ph.wanTTFB(ctx, sc, k, path, t, mode))
			}
		}
		for _, mode := range []string{wanH2, wanH3} {
			if ctx.Err() == nil {
				rows = append(rows, ph.wanSeries(ctx, sc, k, path, t, mode))
			}
		}
	}
	for i := range rows {
		rows[i].Emulation = path.kind()
	}
	if note != "" && len(rows) > 0 {
		rows[0].Notes = append(rows[0].Notes, note) // once: it holds for every row
	}
	return rows, wanRatios(rows)
}

// wanDialer is a dialer of mode through path to t, with a session cache
// of its own: the first connection's ticket is resumed by the others.
func wanDialer(k *edgeKit, path wanPath, t *target, mode string) *edgeDialer {
	tlsConf := k.certs.clientTLS()
	tlsConf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	proto := ProtoH3
	if mode == wanH2 {
		proto = ProtoH2
		tlsConf.MinVersion = tls.VersionTLS13
	}
	return &edgeDialer{
		proto: proto, addr: strings.TrimPrefix(t.url, "https://"), tls: tlsConf,
		early: mode == wanEarly, dialTCP: path.dialTCP, listenUDP: path.listenUDP,
	}
}

// wanTTFB opens up to sc.WAN.NewConns new connections one after the
// other (within the bound), after one unmeasured connection that gets a
// session ticket, and times each from the start of its dial to its
// response's headers.
func (ph phase) wanTTFB(ctx context.Context, sc Scenario, k *edgeKit, path wanPath, t *target, mode string) Row {
	row := Row{Target: t.name, Measure: measureTTFB, Protocol: mode, Skipped: t.skip}
	if t.skip != "" {
		return row
	}
	d := wanDialer(k, path, t, mode)
	url := t.url + sc.Path
	if _, err := wanFetch(ctx, d, url, mode); err != nil {
		row.Skipped = skipReason(ctx, "first connection", err)
		return row
	}
	res := newResult()
	var resumed, early int64
	length := time.Duration(sc.WAN.BoundS * float64(time.Second))
	done := ph.progress.start(fmt.Sprintf("%s/%s %s ttfb", sc.Name, t.name, mode), length)
	start := time.Now()
	bound := start.Add(length)
	for i := 0; i < sc.WAN.NewConns && ctx.Err() == nil && time.Now().Before(bound); i++ {
		s, err := wanFetch(ctx, d, url, mode)
		if err != nil && ctx.Err() != nil {
			break
		}
		kind := ""
		if err != nil {
			kind = errorKind(err)
		}
		res.record(s.ttfb, s.code, kind)
		if s.resumed {
			resumed++
		}
		if s.early {
			early++
		}
		if done != nil {
			done.Add(1)
		}
	}
	ph.progress.stop()
	res.Elapsed = time.Since(start)
	fillResult(&row, res)
	row.Resumed = &resumed
	if d.proto == ProtoH3 {
		row.Used0RTT = &early
	}
	return row
}

// wanSample is one new connection's request.
type wanSample struct {
	ttfb    time.Duration // dial start to response headers
	code    int
	resumed bool // the TLS session was resumed
	early   bool // the request went in 0-RTT and the server took it
}

// wanFetch dials a new connection, GETs url (in 0-RTT for wanEarly; after
// a refused 0-RTT, again on the completed connection, as a browser does),
// reads the answer and closes the connection.
func wanFetch(ctx context.Context, d *edgeDialer, url, mode string) (wanSample, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultTimeout)
	defer cancel()
	start := time.Now()
	c, err := d.dial(ctx)
	if err != nil {
		return wanSample{ttfb: time.Since(start)}, err
	}
	defer c.close()
	method := http.MethodGet
	if mode == wanEarly {
		method = http3.MethodGet0RTT
	}
	resp, err := wanGet(ctx, c.rt, method, url)
	if err != nil && mode == wanEarly && errors.Is(err, quic.Err0RTTRejected) {
		var next *quic.Conn
		if next, err = c.qc.NextConnection(ctx); err == nil {
			rt := (&http3.Transport{DisableCompression: true}).NewClientConn(next)
			resp, err = wanGet(ctx, rt, http.MethodGet, url)
		}
	}
	s := wanSample{ttfb: time.Since(start)}
	if err != nil {
		return s, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	s.code = resp.StatusCode
	s.resumed = resp.TLS != nil && resp.TLS.DidResume
	s.early = c.used0RTT()
	return s, err
}

func wanGet(ctx context.Context, rt interface {
	RoundTrip(*http.Request) (*http.Response, error)
}, method, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	return rt.RoundTrip(req)
}

// wanSeries opens sc.WAN.SeriesConns connections one after the other
// (within the bound) and on each sends sc.WAN.SeriesRequests GETs in
// series, timing each from sending to its last body byte. The dial is
// not timed.
func (ph phase) wanSeries(ctx context.Context, sc Scenario, k *edgeKit, path wanPath, t *target, mode string) Row {
	row := Row{Target: t.name, Measure: measureSeries, Protocol: mode, Skipped: t.skip}
	if t.skip != "" {
		return row
	}
	d := wanDialer(k, path, t, mode)
	url := t.url + sc.Path
	res := newResult()
	length := time.Duration(sc.WAN.BoundS * float64(time.Second))
	done := ph.progress.start(fmt.Sprintf("%s/%s %s series", sc.Name, t.name, mode), length)
	start := time.Now()
	bound := start.Add(length)
	for i := 0; i < sc.WAN.SeriesConns && ctx.Err() == nil && time.Now().Before(bound); i++ {
		if err := wanOneSeries(ctx, d, url, sc.WAN.SeriesRequests, res, done); err != nil {
			if ctx.Err() != nil {
				break
			}
			res.record(0, 0, errorKind(err)) // a dial that failed: counted, not timed
		}
	}
	ph.progress.stop()
	res.Elapsed = time.Since(start)
	fillResult(&row, res)
	return row
}

// wanOneSeries dials one connection and sends n GETs on it, one after the
// other, recording each; it stops at the first transport error. It
// returns an error only when the dial fails.
func wanOneSeries(ctx context.Context, d *edgeDialer, url string, n int, res *Result, done *atomic.Int64) error {
	dialCtx, cancel := context.WithTimeout(ctx, edgeDialTimeout)
	c, err := d.dial(dialCtx)
	cancel()
	if err != nil {
		return err
	}
	defer c.close()
	for range n {
		w := edgeWorker{loop: &EdgeLoop{URL: url, Timeout: defaultTimeout}}
		start := time.Now()
		code, err := w.do(ctx, c)
		if err != nil && ctx.Err() != nil {
			return nil
		}
		kind := ""
		if err != nil {
			kind = errorKind(err)
		}
		res.record(time.Since(start), code, kind)
		if done != nil {
			done.Add(1)
		}
		if err != nil {
			return nil
		}
	}
	return nil
}

// wanRatios are the wan scenario's comparisons, per target: HTTP/3 and
// 0-RTT TTFB over HTTP/2's (p50 against the goals, p99 for information),
// and the series p99 of HTTP/3 over HTTP/2's.
func wanRatios(rows []Row) []Ratio {
	pick := func(target, measure, mode string, p func(Row) float64) *float64 {
		for _, r := range rows {
			if r.Target == target && r.Measure == measure && r.Protocol == mode && r.Skipped == "" && r.OK > 0 {
				v := p(r)
				return &v
			}
		}
		return nil
	}
	p50 := func(r Row) float64 { return r.P50US }
	p99 := func(r Row) float64 { return r.P99US }
	var ratios []Ratio
	for _, target := range []string{TargetPortico, PeerCaddy} {
		if !hasTarget(rows, target) {
			continue
		}
		h2p50, h2p99 := pick(target, measureTTFB, wanH2, p50), pick(target, measureTTFB, wanH2, p99)
		ratios = append(ratios,
			newRatio(target+" ttfb p50 h3 ÷ h2", pick(target, measureTTFB, wanH3, p50), h2p50, goalWANH3),
			newRatio(target+" ttfb p99 h3 ÷ h2", pick(target, measureTTFB, wanH3, p99), h2p99, 0),
			newRatio(target+" ttfb p50 h3-0rtt ÷ h2", pick(target, measureTTFB, wanEarly, p50), h2p50, goalWANEarly),
			newRatio(target+" ttfb p99 h3-0rtt ÷ h2", pick(target, measureTTFB, wanEarly, p99), h2p99, 0),
			newRatio(target+" series p99 h3 ÷ h2",
				pick(target, measureSeries, wanH3, p99), pick(target, measureSeries, wanH2, p99), 0),
		)
	}
	return ratios
}
