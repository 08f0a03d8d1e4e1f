package demo

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// problem is an RFC 9457-style error body.
type problem struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

// writeProblem answers status with a problem+json body. detail says what
// the client should send instead.
func (s *Server) writeProblem(w http.ResponseWriter, status int, detail string) {
	body, err := json.Marshal(problem{Status: status, Title: http.StatusText(status), Detail: detail})
	if err != nil { // cannot happen: the struct has only strings and ints
		http.Error(w, detail, status)
		return
	}
	h := w.Header()
	h["Content-Type"] = s.ctProblem
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

func (s *Server) serveNotFound(w http.ResponseWriter, r *http.Request) {
	s.writeProblem(w, http.StatusNotFound, "no demo endpoint at "+strconv.Quote(r.URL.Path)+"; GET / lists them")
}

// parseBounded parses s as a decimal integer in [0, maxValue]. Unlike
// strconv.Atoi it accepts digits only (no sign, no spaces) and allocates
// nothing on failure, which keeps bad-input answers on the hot endpoints
// as cheap as good ones.
func parseBounded(s string, maxValue int) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
		if n > maxValue { // checked per digit, so n never overflows
			return 0, false
		}
	}
	return n, true
}

// badParam answers 400 for a path or query parameter outside [0, max].
func (s *Server) badParam(w http.ResponseWriter, name, got string, maxValue int) {
	s.writeProblem(w, http.StatusBadRequest,
		name+" must be a whole number from 0 to "+strconv.Itoa(maxValue)+", got "+strconv.Quote(got))
}

// queryDelay reads the optional delay_ms query parameter (default 0).
func (s *Server) queryDelay(w http.ResponseWriter, r *http.Request) (ms int, ok bool) {
	v := r.URL.Query().Get("delay_ms")
	if v == "" {
		return 0, true
	}
	ms, ok = parseBounded(v, maxDelayMS)
	if !ok {
		s.badParam(w, "delay_ms", v, maxDelayMS)
	}
	return ms, ok
}
