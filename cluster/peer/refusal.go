package peer

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// maxRefusalHosts bounds the memory of refused addresses: a scan from
// many addresses forgets them all rather than growing without end.
const maxRefusalHosts = 1024

// refusalLog logs connections refused for want of a valid cluster
// certificate at warn, once per remote host per interval: a probe or a
// node with another key is worth one line, not one per connection.
type refusalLog struct {
	logger *slog.Logger
	what   string // "raft", "peer"
	every  time.Duration

	mu   sync.Mutex
	last map[string]time.Time // host → when a refusal was last logged
}

func newRefusalLog(logger *slog.Logger, what string, every time.Duration) *refusalLog {
	return &refusalLog{logger: logger, what: what, every: every, last: map[string]time.Time{}}
}

// log records a refusal from addr (host:port or host) for reason.
func (r *refusalLog) log(addr string, reason any) {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	now := time.Now()
	r.mu.Lock()
	last, seen := r.last[host]
	quiet := seen && now.Sub(last) < r.every
	if !quiet {
		if len(r.last) >= maxRefusalHosts {
			clear(r.last)
		}
		r.last[host] = now
	}
	r.mu.Unlock()
	if quiet {
		return
	}
	r.logger.Warn(fmt.Sprintf("refused a %s connection without a valid cluster certificate (a node with another cluster key, or not a Portico node); further refusals from this address are not logged for %v", r.what, r.every),
		"remote", addr, "err", reason)
}

// serverErrorLog is net/http's ErrorLog for the peer listener: refused
// TLS handshakes go to the refusal log, everything else at debug.
type serverErrorLog struct {
	refused *refusalLog
	debug   *slog.Logger
}

const handshakeErrorPrefix = "http: TLS handshake error from "

func (w serverErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	if rest, ok := strings.CutPrefix(msg, handshakeErrorPrefix); ok {
		if addr, reason, ok := strings.Cut(rest, ": "); ok {
			w.refused.log(addr, reason)
			return len(p), nil
		}
	}
	w.debug.Debug(msg)
	return len(p), nil
}
