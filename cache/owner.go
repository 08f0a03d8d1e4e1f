package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"time"
)

// errPeerTimeout ends a peer request whose answer did not start within
// Config.PeerTimeout.
var errPeerTimeout = errors.New("owner did not answer within the peer timeout")

// errVersionMismatch: the owner can't fill the request under the asker's
// config (it serves another version, none yet, or no such cached route).
// It is no peer failure: the asker fills the request itself.
var errVersionMismatch = errors.New("owner does not serve this route under this config version")

// errOldProtocol: the owner answered 404 to the fill path, as a node of
// a binary that speaks an older fill protocol does (peer.go). It is a
// version mismatch (reason "protocol"): the asker fills the request
// itself.
var errOldProtocol = fmt.Errorf("%w: the owner does not serve %s (an older binary)", errVersionMismatch, fillPath)

// ownerAnswer is an owner's answer whose metadata has been read.
type ownerAnswer struct {
	meta   *fillMeta
	body   io.ReadCloser // the response body, after the metadata
	cancel context.CancelCauseFunc
}

func (a *ownerAnswer) close() {
	a.body.Close()
	a.cancel(nil)
}

// fromOwner asks the key's owner and answers with what it says: a
// shareable entry is kept in the near tier and shared with the waiters;
// anything else streams to this client alone while the waiters go
// upstream themselves. It reports false, having written nothing, when the
// owner could not be asked, refused the fill for another config version
// or its answer broke before anything was sent to the client: the caller
// then fetches from the upstream itself.
func (x *call) fromOwner(f *flight) bool {
	c := x.c
	ctx, cancel := c.fillContext(x.r.Context())
	defer cancel()
	gen := x.t.generation()
	reqTime := c.now()
	ans, err := c.askOwner(ctx, x.owner, x.r, x.key, x.h.fillFor(x.consumer), x.w)
	if errors.Is(err, errVersionMismatch) {
		if errors.Is(err, errOldProtocol) {
			c.metrics.peerOldProtocol.Inc()
		} else {
			c.metrics.peerMismatches.Inc()
		}
		c.cfg.Logger.Debug("cache owner can't fill under this config", "peer", x.owner, "err", err)
		return false
	}
	if err != nil {
		c.peerFailed(x.owner, err)
		return false
	}
	defer ans.close()
	m := ans.meta
	if m.Entry == nil || m.Entry.BodyLen > x.p.maxObject {
		f.release(result{verdict: m.Verdict})
		x.streamFromOwner(ans)
		return true
	}
	body, err := readBody(ans.body, m.Entry.BodyLen)
	if err != nil {
		c.peerFailed(x.owner, fmt.Errorf("read entry body from owner %s: %w", x.owner, err))
		return false
	}
	e := c.peerEntry(x.p, x.r, x.key, m, body, reqTime, c.now())
	c.metrics.served(outcomePeer, false)
	if e.state(c.now()) != fresh {
		// A stale answer (stale-while-revalidate or stale-if-error at
		// the owner): serve it, keep no copy.
		f.release(result{e: e, verdict: m.Verdict})
		x.serveClient(e, m.Verdict, nil)
		return true
	}
	// The verdict stays the owner's: a near copy is no news to the client.
	x.t.store(e, gen, c.now())
	f.release(result{e: e, verdict: m.Verdict})
	x.serveClient(e, m.Verdict, nil)
	x.t.wait()
	return true
}

// readBody reads exactly n bytes and then the end of r, which also lets
// the transport reuse the connection.
func readBody(r io.Reader, n int64) ([]byte, error) {
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	var one [1]byte
	if k, err := r.Read(one[:]); k != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("entry body longer than announced")
		}
		return nil, err
	}
	return body, nil
}

// askOwner sends r's descriptor, filled under f, to peer and reads the
// answer's metadata, waiting at most PeerTimeout for it. A 409 from the
// owner is errVersionMismatch, a 404 errOldProtocol. The body streams
// under ctx. 103 Early Hints the owner relays go on to hints, the client
// (if not nil), until the answer's headers come.
func (c *Cache) askOwner(ctx context.Context, peer string, r *http.Request, key string, f Fill,
	hints http.ResponseWriter) (*ownerAnswer, error) {
	b, err := json.Marshal(newFillRequest(r, key, f))
	if err != nil {
		return nil, fmt.Errorf("encode fill request: %w", err)
	}
	if hints != nil {
		relay := &hintRelay{w: hints}
		defer relay.stop()
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{Got1xxResponse: relay.got})
	}
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(c.cfg.PeerTimeout, func() { cancel(errPeerTimeout) })
	fail := func(err error) (*ownerAnswer, error) {
		timer.Stop()
		cancel(nil)
		if cause := context.Cause(ctx); errors.Is(cause, errPeerTimeout) {
			err = cause
		}
		return nil, fmt.Errorf("ask owner %s: %w", peer, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+peer+fillPath, bytes.NewReader(b))
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.cfg.Transport.RoundTrip(req)
	if err != nil {
		return fail(err)
	}
	if v, ok := resp.Header[versionHeader]; ok && resp.StatusCode == http.StatusConflict {
		resp.Body.Close()
		return fail(fmt.Errorf("%w: route %q, version %d here, %s there", errVersionMismatch, f.Route, f.Version,
			strings.Join(v, ",")))
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		return fail(errOldProtocol)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != fillContentType {
		resp.Body.Close()
		return fail(fmt.Errorf("status %s", resp.Status))
	}
	m, err := readMeta(resp.Body)
	if err == nil && !timer.Stop() {
		err = errPeerTimeout
	}
	if err != nil {
		resp.Body.Close()
		return fail(err)
	}
	return &ownerAnswer{meta: m, body: resp.Body, cancel: cancel}, nil
}

// hintRelay passes the 103s of an owner's answer to the client while
// askOwner waits for the answer; the transport reports them on its own
// goroutine, so the relay stops, under mu, before the client's writer is
// used again.
type hintRelay struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	stopped bool
}

func (hr *hintRelay) got(code int, h textproto.MIMEHeader) error {
	hr.mu.Lock()
	defer hr.mu.Unlock()
	if code == http.StatusEarlyHints && !hr.stopped {
		writeHints(hr.w, http.Header(h))
	}
	return nil
}

func (hr *hintRelay) stop() {
	hr.mu.Lock()
	defer hr.mu.Unlock()
	hr.stopped = true
}

// peerEntry is the near copy of an owner's entry. Its age continues from
// the owner's (plus the round trip), its freshness is the owner's, capped
// at NearTTL, and it is never served stale.
func (c *Cache) peerEntry(p *policy, r *http.Request, key string, m *fillMeta, body []byte, reqTime, respTime time.Time) *entry {
	h := storedHeader(m.Header, p.tagHeaders)
	e := &entry{
		primary: key, key: key, vary: m.Entry.Vary,
		status: m.Status, header: h, body: body, tags: boundTags(m.Entry.Tags),
		storedAt:   respTime,
		initialAge: m.Entry.Age + max(0, respTime.Sub(reqTime)),
		freshness:  freshness{lifetime: m.Entry.Lifetime, mustRevalidate: m.Entry.MustRevalidate},
		until:      respTime.Add(c.cfg.NearTTL),
		node:       m.Node,
	}
	if len(e.vary) > 0 {
		e.key = variantKey(key, e.vary, r)
	}
	c.finishEntry(e)
	return e
}

// boundTags applies the tag limits to tags from a peer.
func boundTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if len(t) <= maxTagLen && len(out) < maxTags {
			out = append(out, t)
		}
	}
	return out
}

// streamFromOwner copies an owner's answer that is not an entry to this
// request's client, flushing as it goes. A break mid-body aborts the
// client's response, as the proxy does for a broken upstream.
func (x *call) streamFromOwner(ans *ownerAnswer) {
	m := ans.meta
	x.c.metrics.served(outcomeUncacheable, false)
	if x.w == nil {
		return
	}
	h := x.w.Header()
	for k, v := range m.Header {
		h[k] = v
	}
	for _, k := range x.p.tagHeaders {
		delete(h, k)
	}
	delete(h, porticoCacheControl)
	h["Cache-Status"] = append(h["Cache-Status"], statusLine(m.Verdict, m.Node))
	x.w.WriteHeader(m.Status)
	buf := make([]byte, 32<<10)
	fl, _ := x.w.(http.Flusher)
	for {
		n, err := ans.body.Read(buf)
		if n > 0 {
			if _, werr := x.w.Write(buf[:n]); werr != nil {
				return // the client left
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			x.c.peerFailed(x.owner, fmt.Errorf("stream answer from owner %s: %w", x.owner, err))
			panic(http.ErrAbortHandler)
		}
	}
}

// peerFailed counts and logs a peer request that failed; the request
// goes on without the peer.
func (c *Cache) peerFailed(peer string, err error) {
	c.metrics.peerErrors.Inc()
	c.cfg.Logger.Debug("cache peer request failed", "peer", peer, "err", err)
}
