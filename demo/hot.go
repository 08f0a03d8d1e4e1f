package demo

import (
	"net/http"
	"strconv"
)

const (
	// maxBytes caps /bytes/{n}: 100 MiB.
	maxBytes = 100 << 20
	// patternSize is the period of the /bytes content.
	patternSize = 64 << 10
)

// newPattern returns size deterministic, incompressible-looking bytes
// (xorshift32 from a fixed seed). Byte i of every /bytes response is
// pattern[i%patternSize], so /bytes/10 is a prefix of /bytes/1000.
func newPattern(size int) []byte {
	b := make([]byte, size)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// lengthHeader caches the Content-Length value of the last /bytes size
// served: benchmarks ask for the same n over and over, and this saves two
// allocations per response.
type lengthHeader struct {
	n     int
	value []string
}

func (s *Server) contentLength(n int) []string {
	if lh := s.bytesLen.Load(); lh != nil && lh.n == n {
		return lh.value
	}
	lh := &lengthHeader{n: n, value: []string{strconv.Itoa(n)}}
	s.bytesLen.Store(lh)
	return lh.value
}

// serveBytes writes n bytes of the pattern, in pattern-sized writes, so a
// request never allocates its body.
func (s *Server) serveBytes(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("n")
	n, ok := parseBounded(raw, maxBytes)
	if !ok {
		s.badParam(w, "n", raw, maxBytes)
		return
	}
	h := w.Header()
	h["Content-Type"] = s.ctOctet
	h["Content-Length"] = s.contentLength(n)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	for n > 0 {
		chunk := s.pattern[:min(n, len(s.pattern))]
		if _, err := w.Write(chunk); err != nil {
			return // the client went away; nothing to tell it
		}
		n -= len(chunk)
	}
}

// serveStatus answers the status code in the path with an empty body.
// 1xx codes are refused: a handler can't make them the final answer.
func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("code")
	code, ok := parseBounded(raw, 599)
	if !ok || code < 200 {
		s.writeProblem(w, http.StatusBadRequest,
			"status code must be a number from 200 to 599 (1xx codes can't be a final response), got "+strconv.Quote(raw))
		return
	}
	w.WriteHeader(code)
}
