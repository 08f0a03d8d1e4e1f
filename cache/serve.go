package cache

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cacheName is the cache's name in Cache-Status (RFC 9211).
const cacheName = "Portico"

// statusLine is a Cache-Status entry: "Portico; <verdict>; node=<node>".
// A verdict is the entry's parameters, e.g. "hit" or "fwd=miss; stored".
func statusLine(verdict, node string) string {
	if verdict == "" {
		verdict = "fwd=miss"
	}
	return cacheName + "; " + verdict + "; node=" + nodeParam(node)
}

// nodeParam is node as a structured-field value: a token when it is one,
// else a quoted string (a name starting with a digit, say).
func nodeParam(node string) string {
	if node != "" && (isAlpha(node[0]) || node[0] == '*') {
		ok := true
		for i := 1; i < len(node) && ok; i++ {
			ok = isTokenByte(node[i]) || node[i] == ':' || node[i] == '/'
		}
		if ok {
			return node
		}
	}
	return strconv.Quote(node)
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// serve writes e as the answer to r. To a peer it goes raw (status,
// stored headers, body) with its metadata left in the peer's reply. To a
// client it gets Age and Cache-Status (line, or one made from verdict),
// extra header lines (the fetching client's Set-Cookie), and 304 when r's
// If-None-Match or If-Modified-Since says the client has it; a Range
// request for a 200 gets its range.
func (c *Cache) serve(w http.ResponseWriter, r *http.Request, pr *peerReply, e *entry, now time.Time,
	verdict string, line []string, extra http.Header) {
	h := w.Header()
	for k, v := range e.header {
		h[k] = v
	}
	if pr != nil {
		pr.verdict, pr.entry, pr.now = verdict, e, now
		w.WriteHeader(e.status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(e.body)
		}
		return
	}
	for k, v := range extra {
		h[k] = v
	}
	h["Age"] = []string{strconv.FormatInt(int64(min(e.age(now), maxDelta)/time.Second), 10)}
	if line == nil {
		line = []string{statusLine(verdict, e.node)}
	}
	if prior := e.header["Cache-Status"]; len(prior) > 0 {
		// Caches nearer the origin come first (RFC 9211 §2).
		line = append(append([]string(nil), prior...), line...)
	}
	h["Cache-Status"] = line
	if e.status == http.StatusOK && notModified(r, e) {
		writeNotModified(w, e)
		return
	}
	if e.status == http.StatusOK && r.Method == http.MethodGet && len(r.Header["Range"]) > 0 {
		delete(h, "Content-Length")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(e.body))
		return
	}
	w.WriteHeader(e.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(e.body)
	}
}

// notModified evaluates r's If-None-Match (weak comparison) or, without
// it, If-Modified-Since against e (RFC 9110 §13.1.2, §13.1.3).
func notModified(r *http.Request, e *entry) bool {
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		etag := e.header.Get("Etag")
		for _, v := range inm {
			for t := range strings.SplitSeq(v, ",") {
				t = strings.TrimSpace(t)
				if t == "*" || (etag != "" && strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/")) {
					return true
				}
			}
		}
		return false
	}
	ims := r.Header.Get("If-Modified-Since")
	lm := e.header.Get("Last-Modified")
	if ims == "" || lm == "" {
		return false
	}
	t, ok := parseHTTPDate(ims, e.storedAt)
	if !ok {
		return false
	}
	m, ok := parseHTTPDate(lm, e.storedAt)
	return ok && !m.After(t)
}

// notModifiedKeep are the header fields a 304 carries (RFC 9110 §15.4.5),
// besides Age and Cache-Status.
var notModifiedKeep = map[string]bool{
	"Cache-Control": true, "Content-Location": true, "Date": true, "Etag": true, "Expires": true,
	"Vary": true, "Last-Modified": true, "Age": true, "Cache-Status": true,
}

func writeNotModified(w http.ResponseWriter, e *entry) {
	h := w.Header()
	for k := range e.header {
		if !notModifiedKeep[k] {
			delete(h, k)
		}
	}
	w.WriteHeader(http.StatusNotModified)
}
