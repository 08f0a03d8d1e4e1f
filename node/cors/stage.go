package cors

import (
	"net/http"
	"strings"
	"sync"
	"time"

	rscors "github.com/rs/cors"

	"github.com/portico-gw/portico/node/config"
)

// Header names, canonical, to index http.Header without canonicalizing.
const (
	hdrOrigin        = "Origin"
	hdrRequestMethod = "Access-Control-Request-Method"
	hdrVary          = "Vary"
	hdrAllowOrigin   = "Access-Control-Allow-Origin"
	hdrAllowCreds    = "Access-Control-Allow-Credentials"
	hdrExpose        = "Access-Control-Expose-Headers"
	prefixCORS       = "Access-Control-"
)

// stage is one route's CORS policy in front of next.
type stage struct {
	next    http.Handler
	cors    *rscors.Cors
	writers sync.Pool // *writer, reused across requests
}

// New returns the CORS stage of a route with policy c in front of next,
// or next itself when c is nil (see the package doc for what it does).
// c must be validated and defaulted (config.Parse does both): an empty
// allow_origins allows no origin here, never every one.
func New(next http.Handler, c *config.CORS) http.Handler {
	if c == nil {
		return next
	}
	opts := rscors.Options{
		AllowedOrigins:   c.AllowOrigins,
		AllowedMethods:   c.AllowMethods,
		AllowedHeaders:   c.AllowHeaders,
		ExposedHeaders:   c.ExposeHeaders,
		AllowCredentials: c.AllowCredentials,
		MaxAge:           int(c.MaxAge.D() / time.Second),
	}
	if len(c.AllowOrigins) == 0 {
		// rs/cors reads no origins as any origin.
		opts.AllowOriginFunc = func(string) bool { return false }
	}
	s := &stage{next: next, cors: rscors.New(opts)}
	s.writers.New = func() any { return new(writer) }
	return s
}

// IsPreflight reports whether r is a CORS preflight as this stage and the
// router see one: OPTIONS with the Origin and
// Access-Control-Request-Method headers present.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && len(r.Header[hdrOrigin]) > 0 && len(r.Header[hdrRequestMethod]) > 0
}

func (s *stage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if IsPreflight(r) {
		if r.Header.Get(hdrRequestMethod) == "" {
			// An empty method asks for nothing: refused, no CORS headers.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		// rs/cors answers it: 204, with the CORS headers when allowed.
		s.cors.HandlerFunc(w, r)
		return
	}
	h := w.Header()
	if len(r.Header[hdrOrigin]) > 0 {
		// The actual request's headers, when its origin and method are
		// allowed (and Vary: Origin either way). Not a preflight here, so
		// rs/cors takes it for an actual request.
		s.cors.HandlerFunc(w, r)
	}
	cw := s.writers.Get().(*writer)
	*cw = writer{ResponseWriter: w, allowOrigin: h[hdrAllowOrigin], allowCreds: h[hdrAllowCreds], expose: h[hdrExpose]}
	s.next.ServeHTTP(cw, r)
	*cw = writer{}
	s.writers.Put(cw)
}

// writer makes the answer's CORS headers the gateway's when its header is
// written: the Access-Control-* headers of the upstream or a cached entry
// are dropped, the stage's own put back, and Vary lists Origin.
type writer struct {
	http.ResponseWriter
	allowOrigin, allowCreds, expose []string
	wrote                           bool // the final header is written
}

func (w *writer) fix() {
	h := w.ResponseWriter.Header()
	for k := range h {
		if strings.HasPrefix(k, prefixCORS) {
			delete(h, k)
		}
	}
	if w.allowOrigin != nil {
		h[hdrAllowOrigin] = w.allowOrigin
		if w.allowCreds != nil {
			h[hdrAllowCreds] = w.allowCreds
		}
		if w.expose != nil {
			h[hdrExpose] = w.expose
		}
	}
	if vary := h[hdrVary]; !varies(vary) {
		// A fresh array: vary may be a cached entry's, shared.
		h[hdrVary] = append(vary[:len(vary):len(vary)], hdrOrigin)
	}
}

// varies reports whether Vary values name Origin (or "*").
func varies(values []string) bool {
	for _, v := range values {
		for v != "" {
			var f string
			f, v, _ = strings.Cut(v, ",")
			f = strings.TrimSpace(f)
			if f == "*" || strings.EqualFold(f, hdrOrigin) {
				return true
			}
		}
	}
	return false
}

func (w *writer) WriteHeader(code int) {
	if !w.wrote {
		w.fix()
		w.wrote = code >= 200 || code == http.StatusSwitchingProtocols
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(b []byte) (int, error) {
	if !w.wrote {
		w.fix()
		w.wrote = true
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends buffered data (streams, SSE); the header goes first.
func (w *writer) Flush() {
	if !w.wrote {
		w.fix()
		w.wrote = true
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the client's writer
// (Hijack for upgrades, deadlines).
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
