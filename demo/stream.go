package demo

import (
	"net/http"
	"strconv"
	"time"
)

// maxStreamItems caps /stream/{n} and /sse/{n}.
const maxStreamItems = 10_000

// serveStream answers n JSON lines ({"id":i,"time":"..."}), chunked and
// flushed one by one, with delay_ms between two lines.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	s.serveItems(w, r, "application/x-ndjson", appendLine)
}

// serveSSE answers n server-sent events (id: i, data: the same JSON as a
// /stream line), flushed one by one, with delay_ms between two events.
func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request) {
	s.serveItems(w, r, "text/event-stream", appendEvent)
}

// appendItem appends the wire form of item id, produced at now, to b.
type appendItem func(b []byte, id int, now time.Time) []byte

func appendLine(b []byte, id int, now time.Time) []byte {
	b = appendItemJSON(b, id, now)
	return append(b, '\n')
}

func appendEvent(b []byte, id int, now time.Time) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, "\ndata: "...)
	b = appendItemJSON(b, id, now)
	return append(b, "\n\n"...)
}

func appendItemJSON(b []byte, id int, now time.Time) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, `,"time":"`...)
	b = now.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

// serveItems parses n and delay_ms and streams n items. A client that
// leaves, or Close, ends the stream early.
func (s *Server) serveItems(w http.ResponseWriter, r *http.Request, contentType string, item appendItem) {
	raw := r.PathValue("n")
	n, ok := parseBounded(raw, maxStreamItems)
	if !ok {
		s.badParam(w, "n", raw, maxStreamItems)
		return
	}
	delayMS, ok := s.queryDelay(w, r)
	if !ok {
		return
	}
	ctx, end, ok := s.begin(r)
	if !ok {
		s.writeProblem(w, http.StatusServiceUnavailable, "the demo server is closing")
		return
	}
	defer end()

	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var buf []byte
	for i := range n {
		if i > 0 && delayMS > 0 {
			if err := s.pause(ctx, time.Duration(delayMS)*time.Millisecond); err != nil {
				return
			}
		}
		buf = item(buf[:0], i, s.now())
		if _, err := w.Write(buf); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return // gone, or a writer that can't stream; either way stop
		}
	}
}
