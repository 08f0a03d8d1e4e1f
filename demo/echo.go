package demo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"
)

const (
	// maxEchoBody caps the request body /anything and /delay echo: 1 MiB.
	maxEchoBody = 1 << 20
	// maxDelayMS caps /delay/{ms} and delay_ms: one minute.
	maxDelayMS = 60_000
)

// echo is the JSON answer of /anything and /delay.
type echo struct {
	Method     string      `json:"method"`
	URL        string      `json:"url"`
	Path       string      `json:"path"`
	Host       string      `json:"host"`
	Args       url.Values  `json:"args"`
	Headers    http.Header `json:"headers"`
	Origin     string      `json:"origin"`      // client IP
	RemoteAddr string      `json:"remote_addr"` // client IP:port
	Proto      string      `json:"proto"`
	// Body is the request body as text, or base64 when it isn't UTF-8
	// (BodyEncoding is then "base64").
	Body         string `json:"body"`
	BodyEncoding string `json:"body_encoding,omitempty"`
	// JSON is the body again when it parses as JSON, else null.
	JSON json.RawMessage `json:"json"`
}

// serveAnything echoes the request back as JSON.
func (s *Server) serveAnything(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	s.writeJSON(w, http.StatusOK, newEcho(r, body))
}

// serveDelay waits, then echoes like /anything. A client that leaves
// early gets nothing; Close cuts the wait short with a 503.
func (s *Server) serveDelay(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("ms")
	ms, ok := parseBounded(raw, maxDelayMS)
	if !ok {
		s.badParam(w, "delay in ms", raw, maxDelayMS)
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	ctx, end, ok := s.begin(r)
	if !ok {
		s.writeProblem(w, http.StatusServiceUnavailable, "the demo server is closing")
		return
	}
	defer end()
	if ms > 0 {
		if err := s.pause(ctx, time.Duration(ms)*time.Millisecond); err != nil {
			if r.Context().Err() == nil { // not the client leaving: Close
				s.writeProblem(w, http.StatusServiceUnavailable, "the demo server is closing")
			}
			return
		}
	}
	s.writeJSON(w, http.StatusOK, newEcho(r, body))
}

func (s *Server) serveHeaders(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, struct {
		Host    string      `json:"host"`
		Headers http.Header `json:"headers"`
	}{r.Host, r.Header})
}

func (s *Server) serveIP(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, struct {
		Origin     string `json:"origin"`
		RemoteAddr string `json:"remote_addr"`
	}{clientIP(r.RemoteAddr), r.RemoteAddr})
}

// readBody reads at most maxEchoBody bytes of the request body. On
// failure it has answered (413 or 400) and returns ok == false.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (body []byte, ok bool) {
	if r.ContentLength > maxEchoBody {
		s.writeProblem(w, http.StatusRequestEntityTooLarge, "the demo echoes bodies up to 1 MiB (1048576 bytes)")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEchoBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		s.writeProblem(w, http.StatusRequestEntityTooLarge, "the demo echoes bodies up to 1 MiB (1048576 bytes)")
		return nil, false
	case err != nil:
		s.writeProblem(w, http.StatusBadRequest, "reading request body: "+err.Error())
		return nil, false
	}
	return body, true
}

func newEcho(r *http.Request, body []byte) echo {
	e := echo{
		Method:     r.Method,
		URL:        requestURL(r),
		Path:       r.URL.Path,
		Host:       r.Host,
		Args:       r.URL.Query(),
		Headers:    r.Header,
		Origin:     clientIP(r.RemoteAddr),
		RemoteAddr: r.RemoteAddr,
		Proto:      r.Proto,
	}
	if utf8.Valid(body) {
		e.Body = string(body)
	} else {
		e.Body = base64.StdEncoding.EncodeToString(body)
		e.BodyEncoding = "base64"
	}
	if len(body) > 0 && json.Valid(body) {
		e.JSON = body
	}
	return e
}

// requestURL rebuilds the absolute URL the client asked for.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// clientIP strips the port from a RemoteAddr; an address without a port
// is returned as is.
func clientIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// writeJSON answers v as indented JSON (the demo is read by people with
// curl as often as by tests).
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil { // only our own types come here; none can fail
		s.writeProblem(w, http.StatusInternalServerError, "encoding the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
