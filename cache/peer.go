package cache

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The peer protocol (groupcache's http.go, for HTTP responses):
//
//	POST /cache/v2/fill   body: fillRequest (JSON)
//	  → 200, Content-Type fillContentType, body: a 4-byte big-endian
//	    length, that many bytes of fillMeta (JSON), then the response body.
//	  → 409, header Portico-Config-Version: the owner's published version
//	    ("none"): it can't fill this under the asker's config.
//	POST /cache/v1/purge  body: Selector (JSON) → 200 {"removed": n}
//
// The fill's version is in its path because its descriptor's meaning
// changed: since v2 the descriptor names the route, the config version
// and the consumer, and the owner keys the fill with that consumer. An
// owner of the previous binary (v1) ignores those fields and, as askers
// no longer send the Portico-Consumer header it read, would key every
// consumer's fill as anonymous and serve one consumer's answer to
// another. Under distinct paths each side of a rolling upgrade sees a
// 404 instead: an asker that gets 404 from /cache/v2/fill (an old owner)
// fills the request itself and counts it as a version mismatch
// (reason "protocol"), not a peer error; an old asker's /cache/v1/fill
// gets 404 here, counts a peer error and fills itself. Purges did not
// change and stay at v1. PeerHandler matches full paths: mount it at
// /cache/ (or any prefix of its paths) without stripping the prefix.
//
// The owner serves a fill with the published Routes (Cache.Publish) only
// when both its published version and the descriptor's are not zero
// (version 0 is a node serving its own file before any cluster config,
// which names no one config: two such nodes may differ) and it holds the
// descriptor's route. Under the descriptor's version it rebuilds the
// request from the descriptor and runs that route's handler as owner (it
// never forwards a peer's fill), keyed with the descriptor's consumer;
// what it fetches goes through the route's next.ServeFill with the
// descriptor's Fill. Nothing else of the owner's node runs: peer
// listener → PeerHandler → the route's handler → next.ServeFill. Under
// another version it answers only from its owner tier: a fresh entry
// for the request (its variant, as for any hit) under the key the asker
// sent, so that config changes do not turn every remote hit into an
// upstream request; it never fills under a version it was not asked
// for. A miss then, an entry that needs revalidation, a key the two
// versions build differently, a version 0, none published or no such
// route: 409, and the asker fills the request itself (counted in
// portico_cache_peer_version_mismatches_total, reason "config", not as
// a peer error). Every size read from a peer is bounded.
const (
	fillPath        = "/cache/v2/fill"
	purgePath       = "/cache/v1/purge"
	fillContentType = "application/vnd.portico.cache-fill"

	maxDescriptorBytes = 1 << 20 // a fill request
	maxMetaBytes       = 1 << 20 // a fill answer's metadata
	maxPurgeBytes      = 64 << 10

	// versionHeader carries the owner's published config version on a
	// 409 to a fill it can't serve under the asker's.
	versionHeader = "Portico-Config-Version"
)

// fillRequest describes the request a peer wants filled: enough for the
// owner to route it and fill a miss it has never seen.
type fillRequest struct {
	Key    string      `json:"key,omitempty"` // the asker's key, for logs
	Method string      `json:"method"`
	Scheme string      `json:"scheme"` // "http" or "https": the client's
	Host   string      `json:"host"`
	URI    string      `json:"uri"` // path and query, escaped
	Header http.Header `json:"header"`
	Remote string      `json:"remote"` // the client's address, for the proxy

	Route    string `json:"route"`              // Fill.Route
	Version  int64  `json:"version"`            // Fill.Version
	Consumer string `json:"consumer,omitempty"` // Fill.Consumer
}

func (fr *fillRequest) fill() Fill {
	return Fill{Route: fr.Route, Version: fr.Version, Consumer: fr.Consumer}
}

// fillMeta heads a fill answer.
type fillMeta struct {
	Status  int         `json:"status"`
	Header  http.Header `json:"header"`
	Node    string      `json:"node"`    // the owner's name
	Verdict string      `json:"verdict"` // its Cache-Status parameters
	Entry   *entryMeta  `json:"entry,omitempty"`
}

// entryMeta is set when the answer is a shareable entry: what the asker
// needs to serve it with the right Age and keep a near copy.
type entryMeta struct {
	Age            time.Duration `json:"age"` // at the owner, when sent
	Lifetime       time.Duration `json:"lifetime"`
	MustRevalidate bool          `json:"must_revalidate,omitempty"`
	Vary           []string      `json:"vary,omitempty"`
	Tags           []string      `json:"tags,omitempty"`
	BodyLen        int64         `json:"body_len"`
}

// peerReply is filled in by the owner's route handler as it answers a
// peer's fill.
type peerReply struct {
	verdict string
	entry   *entry // the answer is this shareable entry
	now     time.Time
}

// hopRequestHeaders are not sent to the owner: hop-by-hop, and the
// client's conditionals, which the asker evaluates itself.
var hopRequestHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer",
	"Transfer-Encoding", "Upgrade", "If-None-Match", "If-Modified-Since"}

// newFillRequest describes r, filled under f, for the owner.
func newFillRequest(r *http.Request, key string, f Fill) fillRequest {
	h := r.Header.Clone()
	for _, k := range hopRequestHeaders {
		delete(h, k)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return fillRequest{Key: key, Method: r.Method, Scheme: scheme, Host: r.Host, URI: r.URL.RequestURI(),
		Header: h, Remote: r.RemoteAddr, Route: f.Route, Version: f.Version, Consumer: f.Consumer}
}

// request rebuilds the described request as a server would have
// received it, with ctx. When the client's scheme was https its TLS
// state is an empty tls.ConnectionState of its own: the proxy and KeyOf
// read r.TLS only for the scheme, and the state of the connection the
// descriptor came on is the peer node's (its mTLS certificate), nothing
// of the client's.
func (fr fillRequest) request(ctx context.Context) (*http.Request, error) {
	if fr.Method != http.MethodGet && fr.Method != http.MethodHead {
		return nil, fmt.Errorf("method %q is not cacheable", fr.Method)
	}
	if fr.Scheme != "http" && fr.Scheme != "https" {
		return nil, fmt.Errorf("scheme %q is not http or https", fr.Scheme)
	}
	if fr.Host == "" || !httpguts.ValidHostHeader(fr.Host) {
		return nil, fmt.Errorf("invalid host %q", fr.Host)
	}
	u, err := url.ParseRequestURI(fr.URI)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return nil, fmt.Errorf("invalid request uri %q", fr.URI)
	}
	h := make(http.Header, len(fr.Header))
	for k, vs := range fr.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, fmt.Errorf("invalid header name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, fmt.Errorf("invalid value of header %q", k)
			}
		}
		h[http.CanonicalHeaderKey(k)] = vs
	}
	for _, k := range hopRequestHeaders {
		delete(h, k)
	}
	r := (&http.Request{
		Method: fr.Method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: http.NoBody, Host: fr.Host, RemoteAddr: fr.Remote, RequestURI: fr.URI,
	}).WithContext(ctx)
	if fr.Scheme == "https" {
		r.TLS = &tls.ConnectionState{}
	}
	return r, nil
}

// PeerHandler serves this node's side of the peer protocol:
// POST /cache/v2/fill and POST /cache/v1/purge (full paths; mount it at
// /cache/ without stripping the prefix). Anything else, the previous
// protocol's /cache/v1/fill included, is 404. It trusts its callers:
// mount it only on the authenticated peer listener.
func (c *Cache) PeerHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case fillPath:
			c.serveFill(w, r)
		case purgePath:
			c.servePurge(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// serveFill answers a peer's fill request as the key's owner, with the
// route the descriptor names in the published Routes: a fill under the
// descriptor's version, a fresh hit only under another one, else 409.
func (c *Cache) serveFill(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	var fr fillRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxDescriptorBytes)).Decode(&fr); err != nil {
		http.Error(w, "bad fill request: "+err.Error(), http.StatusBadRequest)
		return
	}
	req, err := fr.request(r.Context())
	if err != nil {
		http.Error(w, "bad fill request: "+err.Error(), http.StatusBadRequest)
		return
	}
	h, same, served := c.servedRoute(&fr)
	refuse := func() {
		w.Header().Set(versionHeader, served)
		http.Error(w, fmt.Sprintf("this node can't fill cached route %q under config version %d (it serves version %s)",
			fr.Route, fr.Version, served), http.StatusConflict)
	}
	if h == nil {
		refuse()
		return
	}
	reply := &peerReply{}
	pw := &peerWriter{w: w, c: c, reply: reply, header: make(http.Header)}
	f := fr.fill()
	if !same {
		if !h.serveFresh(pw, req, &f, reply, fr.Key) {
			refuse()
			return
		}
		c.metrics.peerFills.Inc()
		pw.finish()
		return
	}
	c.metrics.peerFills.Inc()
	h.serve(pw, req, &f, reply)
	pw.finish()
}

// peerWriter frames the owner's answer: metadata first, then the body.
type peerWriter struct {
	w      http.ResponseWriter
	c      *Cache
	reply  *peerReply
	header http.Header
	wrote  bool
}

var _ http.Flusher = (*peerWriter)(nil)

func (pw *peerWriter) Header() http.Header { return pw.header }

func (pw *peerWriter) WriteHeader(code int) {
	if code == http.StatusEarlyHints && !pw.wrote {
		writeHints(pw.w, pw.header) // relayed to the asker's client
		return
	}
	if pw.wrote || code < 200 {
		return
	}
	pw.wrote = true
	m := fillMeta{Status: code, Header: pw.header, Node: pw.c.cfg.Name, Verdict: pw.reply.verdict}
	if e := pw.reply.entry; e != nil {
		m.Header = e.header
		m.Entry = &entryMeta{Age: e.age(pw.reply.now), Lifetime: e.lifetime, MustRevalidate: e.mustRevalidate,
			Vary: e.vary, Tags: e.tags, BodyLen: int64(len(e.body))}
	}
	b, err := json.Marshal(m)
	if err != nil { // only unmarshalable values fail, and there are none
		b = []byte("{}")
	}
	h := pw.w.Header()
	h.Set("Content-Type", fillContentType)
	if m.Entry != nil {
		// The whole answer is known: no chunking, and the asker sees
		// its end without another read.
		h.Set("Content-Length", strconv.Itoa(4+len(b)+len(pw.reply.entry.body)))
	}
	pw.w.WriteHeader(http.StatusOK)
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	_, _ = pw.w.Write(n[:])
	_, _ = pw.w.Write(b)
}

func (pw *peerWriter) Write(b []byte) (int, error) {
	if !pw.wrote {
		pw.WriteHeader(http.StatusOK)
	}
	return pw.w.Write(b)
}

func (pw *peerWriter) Flush() {
	if !pw.wrote {
		pw.WriteHeader(http.StatusOK)
	}
	if f, ok := pw.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (pw *peerWriter) finish() {
	if !pw.wrote {
		pw.WriteHeader(http.StatusOK)
	}
}

// readMeta reads the metadata that heads a fill answer.
func readMeta(r io.Reader) (*fillMeta, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, fmt.Errorf("read fill metadata length: %w", err)
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxMetaBytes {
		return nil, fmt.Errorf("fill metadata of %d bytes is over the %d limit", size, maxMetaBytes)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read fill metadata: %w", err)
	}
	var m fillMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode fill metadata: %w", err)
	}
	if m.Status < 200 || m.Status > 999 {
		return nil, fmt.Errorf("fill answer has status %d", m.Status)
	}
	if m.Entry != nil && (m.Entry.BodyLen < 0 || m.Entry.Age < 0 || m.Entry.Lifetime < 0) {
		return nil, errors.New("fill answer has negative entry sizes or times")
	}
	return &m, nil
}
