package peer

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
)

// capRequestBody answers 413 to a request whose declared body exceeds max
// and cuts an undeclared one at max. In the second case the handler sees a
// read error and answers as it likes; the status is rewritten to 413 so
// that the caller learns the real cause.
func capRequestBody(next http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			http.Error(w, fmt.Sprintf("request body of %d bytes exceeds the peer limit of %d", r.ContentLength, max), http.StatusRequestEntityTooLarge)
			return
		}
		// MaxBytesReader gets the original writer: it tells net/http to
		// close an HTTP/1.1 connection whose body was left unread.
		body := &cappedBody{ReadCloser: http.MaxBytesReader(w, r.Body, max)}
		r.Body = body
		next.ServeHTTP(&capWriter{ResponseWriter: w, body: body}, r)
	})
}

// cappedBody records whether the handler hit the body limit.
type cappedBody struct {
	io.ReadCloser
	exceeded atomic.Bool // a handler may read on another goroutine
}

func (b *cappedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		b.exceeded.Store(true)
	}
	return n, err
}

// capWriter turns the handler's status into 413 once the body limit was
// hit. Unwrap lets http.ResponseController reach the connection's writer
// (flush, deadlines); Flush keeps the http.Flusher assertion working.
type capWriter struct {
	http.ResponseWriter
	body        *cappedBody
	wroteHeader bool
}

func (w *capWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 && w.body.exceeded.Load() {
		code = http.StatusRequestEntityTooLarge
	}
	if code >= 200 {
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *capWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *capWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *capWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Interface guards.
var (
	_ http.Flusher  = (*capWriter)(nil)
	_ io.ReadCloser = (*cappedBody)(nil)
)
