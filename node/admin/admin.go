package admin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/portico-gw/portico/node/config"
)

// ConfigSource reads and replaces the served config.
type ConfigSource interface {
	// Snapshot is the config served now.
	Snapshot() *config.Snapshot
	// Apply validates body (a gateway document named source in errors)
	// and serves it as the next version. It fails with config.Errors
	// (every problem), config.ErrRemovesAllRoutes, config.ErrVersionConflict
	// (returning a snapshot whose Version is the current one) or
	// config.ErrQuorumLost; any other error is the node's.
	Apply(ctx context.Context, source string, body []byte, o config.ApplyOptions) (*config.Snapshot, error)
}

// Readiness says whether the node still takes traffic.
type Readiness interface {
	// Draining is true once the node is shutting down.
	Draining() bool
}

// Options are what New serves. Config and Readiness are required; a nil
// Metrics, Purger or UsageReader answers 404 on its endpoints, and a nil
// Cluster answers not-clustered.
type Options struct {
	// Token, if set, is required as "Authorization: Bearer TOKEN" on
	// every endpoint but /health and /ready, and lets any Host in (see
	// guard.go).
	Token string
	// Logger receives what an answer can't say (why a write or a usage
	// read failed); nil logs nothing.
	Logger    *slog.Logger
	Config    ConfigSource
	Readiness Readiness
	// Metrics serves GET /metrics (promhttp.HandlerFor the node's registry).
	Metrics http.Handler
	Purger  Purger
	Usage   UsageReader
	Cluster Cluster
	// UsageTimeout bounds a usage read or reset, which may ask the
	// quota's owner node (and its replica); 0 means 5s.
	UsageTimeout time.Duration
}

// New returns the admin API's handler.
func New(o Options) http.Handler {
	a := &api{o: o, log: o.Logger}
	if a.o.UsageTimeout <= 0 {
		a.o.UsageTimeout = defaultUsageTimeout
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /ready", a.ready)
	authed := func(pattern string, h http.Handler) { mux.Handle(pattern, requireToken(o.Token, h)) }
	authed("GET /config", http.HandlerFunc(a.getConfig))
	authed("PUT /config", http.HandlerFunc(a.putConfig))
	if o.Metrics != nil {
		authed("GET /metrics", noStore(o.Metrics))
	}
	if o.Purger != nil {
		authed("POST /cache/purge", http.HandlerFunc(a.purge))
	}
	if o.Usage != nil {
		authed("GET /consumers/{name}/usage", http.HandlerFunc(a.usage))
		authed("POST /consumers/{name}/usage/reset", http.HandlerFunc(a.usageReset))
	}
	authed("GET /cluster/members", http.HandlerFunc(a.members))
	authed("GET /cluster/status", http.HandlerFunc(a.clusterStatus))
	// Profiling for operators (CPU, heap, goroutines), behind the token.
	authed("GET /debug/pprof/", http.HandlerFunc(pprof.Index))
	authed("GET /debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	authed("GET /debug/pprof/trace", http.HandlerFunc(pprof.Trace))
	return guard(o.Token, mux)
}

// api is the handlers' receiver.
type api struct {
	o   Options
	log *slog.Logger
}

// ready answers 200 while the node serves traffic and 503 once it drains,
// so a load balancer stops sending before the listener closes.
func (a *api) ready(w http.ResponseWriter, r *http.Request) {
	if a.o.Readiness.Draining() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "config_version": a.o.Config.Snapshot().Version})
}

// writeJSON answers v as JSON, never cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// noStore marks h's answers as not to be stored by any cache, as every
// other admin answer is.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}
