package edge

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// Config configures a Server. Zero fields take their defaults; negative
// ones are refused by New.
type Config struct {
	// Handler answers every request. Required.
	Handler http.Handler

	// ReadHeaderTimeout bounds how long a client may take to send the
	// request line and headers (slowloris); a connection that is too
	// slow is closed without an answer. (Optional) Defaults to 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included.
	// (Optional) Zero means no limit: bodies are bounded per route.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response, from the end of the request
	// headers. (Optional) Zero means no limit, which streaming responses
	// need.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that waits this long for
	// its next request. (Optional) Defaults to 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request line plus headers; bigger requests
	// get 431. (Optional) Defaults to 64 KiB.
	MaxHeaderBytes int

	// ErrorLog receives net/http's own error messages (failed handshakes,
	// handler panics, misuse of the ResponseWriter) at debug level, so
	// that scanners and broken clients don't flood the log. (Optional) If
	// nil, they are discarded.
	ErrorLog *slog.Logger
	// ConnState, if set, is called on every client connection state
	// change, after the Server has updated OpenConns. It runs on the
	// connection's goroutine and must not block.
	ConnState func(net.Conn, http.ConnState)
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.ErrorLog == nil {
		c.ErrorLog = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate reports every problem of c at once.
func (c Config) validate() error {
	var errs []error
	if c.Handler == nil {
		errs = append(errs, errors.New("handler is nil: pass the http.Handler to serve"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"read header timeout", c.ReadHeaderTimeout},
		{"read timeout", c.ReadTimeout},
		{"write timeout", c.WriteTimeout},
		{"idle timeout", c.IdleTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s is %v: use 0 for the default or a positive duration", d.name, d.v))
		}
	}
	if c.MaxHeaderBytes < 0 {
		errs = append(errs, fmt.Errorf("max header bytes is %d: use 0 for the default (64 KiB) or a positive size", c.MaxHeaderBytes))
	}
	return errors.Join(errs...)
}
