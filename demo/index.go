package demo

import (
	"net/http"
	"strconv"
)

// indexJSON lists the endpoints; see New.
const indexJSON = `{
  "name": "portico demo upstream",
  "endpoints": {
    "/anything[/...]": "JSON echo of the request (any method; body up to 1 MiB)",
    "/status/{code}": "answers code, 200-599",
    "/delay/{ms}": "waits ms (0-60000), then echoes like /anything",
    "/bytes/{n}": "n deterministic bytes (0-104857600), application/octet-stream",
    "/cache/{seconds}": "cacheable JSON (0-31536000 s) with ETag and Last-Modified; 304 on a match",
    "/stream/{n}": "n JSON lines (0-10000), flushed one by one; ?delay_ms= between lines",
    "/sse/{n}": "n server-sent events (0-10000), flushed one by one; ?delay_ms= between events",
    "/ws": "WebSocket echo of text and binary messages",
    "/headers": "the request headers as JSON",
    "/ip": "the client address as JSON"
  }
}
`

func (s *Server) serveIndex(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(indexJSON)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(indexJSON))
}
