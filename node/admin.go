package node

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.yaml.in/yaml/v3"

	"github.com/portico-gw/portico/cache"
	"github.com/portico-gw/portico/node/config"
)

// maxConfigBody caps a PUT /config document.
const maxConfigBody = 4 << 20

// adminHandler serves the admin API. Every endpoint but /health and /ready
// needs "Authorization: Bearer TOKEN" when token is set (config validation
// refuses a non-loopback admin address without one). adminGuard refuses
// foreign Host names (without a token) and browsers' cross-site requests.
func (n *Node) adminHandler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /ready", n.handleReady)
	mux.Handle("GET /config", n.authed(token, http.HandlerFunc(n.handleGetConfig)))
	mux.Handle("PUT /config", n.authed(token, http.HandlerFunc(n.handlePutConfig)))
	mux.Handle("GET /metrics", n.authed(token, promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{})))
	mux.Handle("POST /cache/purge", n.authed(token, http.HandlerFunc(n.handlePurge)))
	mux.Handle("GET /consumers/{name}/usage", n.authed(token, http.HandlerFunc(n.handleUsage)))
	mux.Handle("POST /consumers/{name}/usage/reset", n.authed(token, http.HandlerFunc(n.handleUsageReset)))
	mux.Handle("GET /cluster/members", n.authed(token, http.HandlerFunc(n.handleMembers)))
	mux.Handle("GET /cluster/status", n.authed(token, http.HandlerFunc(n.handleClusterStatus)))
	// Profiling for operators (CPU, heap, goroutines), behind the token.
	mux.Handle("GET /debug/pprof/", n.authed(token, http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /debug/pprof/profile", n.authed(token, http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /debug/pprof/trace", n.authed(token, http.HandlerFunc(pprof.Trace)))
	return adminGuard(token, mux)
}

// handleReady answers 200 while the node serves traffic and 503 once it
// drains, so a load balancer stops sending before the listener closes.
func (n *Node) handleReady(w http.ResponseWriter, r *http.Request) {
	if n.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "config_version": n.Snapshot().Version})
}

// handleGetConfig returns the served config as YAML with secrets redacted;
// ?part=gateway returns the gateway document alone (what config diff
// compares). ETag carries the version for a later If-Match on PUT.
func (n *Node) handleGetConfig(w http.ResponseWriter, r *http.Request) {
	snap := n.Snapshot()
	f := &config.File{Node: snap.Node, Gateway: snap.Gateway}
	var doc []byte
	var err error
	if r.URL.Query().Get("part") == "gateway" {
		doc, err = yaml.Marshal(snap.Gateway)
	} else {
		doc, err = f.YAML()
	}
	if err != nil {
		writeProblem(w, problem{http.StatusInternalServerError, "internal", "Internal error", "The config could not be encoded."}, "")
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(snap.Version, 10)))
	w.Header().Set("Portico-Config-Version", strconv.FormatInt(snap.Version, 10))
	_, _ = w.Write(doc)
}

// handlePutConfig replaces the gateway document (upstreams, routes). The
// body is YAML without the node: section. If-Match: "VERSION" makes it a
// compare-and-set (409 on mismatch). 400 lists every config error,
// including what this node can't build (Check); a document without routes
// (an empty body) is refused unless ?force=true.
func (n *Node) handlePutConfig(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxConfigBody))
	if err != nil {
		writeProblem(w, probTooLarge, "")
		return
	}
	var o ApplyOptions
	if m := r.Header.Get("If-Match"); m != "" {
		if o.IfVersion, err = strconv.ParseInt(strings.Trim(m, `"`), 10, 64); err != nil || o.IfVersion <= 0 {
			writeProblemExt(w, problem{http.StatusBadRequest, "bad-if-match", "Bad If-Match", `If-Match must be a config version such as "3".`}, nil)
			return
		}
	}
	if f := r.URL.Query().Get("force"); f != "" {
		if o.Force, err = strconv.ParseBool(f); err != nil {
			writeProblemExt(w, problem{http.StatusBadRequest, "bad-force", "Bad force parameter", "force must be true or false."}, nil)
			return
		}
	}
	snap, err := n.ApplyGateway(r.Context(), "request body", body, o)
	var cerrs config.Errors
	switch {
	case errors.Is(err, ErrRemovesAllRoutes):
		writeProblemExt(w, problem{http.StatusBadRequest, "config-removes-all-routes", "Config removes every route",
			"The document has no routes, so every request would get 404; the served config is unchanged. Send it with ?force=true (portico config apply --force) if that is intended."}, nil)
	case errors.As(err, &cerrs):
		msgs := make([]string, len(cerrs))
		for i, e := range cerrs {
			msgs[i] = e.Error()
		}
		writeProblemExt(w, problem{http.StatusBadRequest, "invalid-config", "Invalid config",
			"The config was refused; the served config is unchanged. See errors."}, map[string]any{"errors": msgs})
	case errors.Is(err, ErrVersionConflict):
		w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(snap.Version, 10)))
		writeProblemExt(w, problem{http.StatusConflict, "version-conflict", "Version conflict",
			"The config changed since the version in If-Match; fetch it again and retry."}, map[string]any{"current_version": snap.Version})
	case errors.Is(err, ErrNoQuorum):
		writeProblemExt(w, problem{http.StatusServiceUnavailable, "quorum-lost", "Quorum lost",
			ErrNoQuorum.Error()}, map[string]any{"serving_version": n.Snapshot().Version})
	case err != nil:
		n.logger.Error("apply config", "err", err)
		writeProblem(w, problem{http.StatusInternalServerError, "apply-failed", "Config not applied", "The config is valid but could not be applied; the node log says why."}, "")
	default:
		w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(snap.Version, 10)))
		writeJSON(w, http.StatusOK, map[string]any{"version": snap.Version, "digest": snap.Digest})
	}
}

// writeProblemExt writes a problem with extension members (RFC 9457 §3.2).
func writeProblemExt(w http.ResponseWriter, p problem, ext map[string]any) {
	body := map[string]any{"type": problemBase + p.Slug, "title": p.Title, "status": p.Status, "detail": p.Detail}
	for k, v := range ext {
		body[k] = v
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var probNotClustered = problem{http.StatusNotFound, "not-clustered", "Not clustered", "This node runs alone: its config has no node.cluster section."}

func (n *Node) handleMembers(w http.ResponseWriter, r *http.Request) {
	if n.cluster == nil {
		writeProblem(w, probNotClustered, "")
		return
	}
	type member struct {
		Name      string `json:"name"`
		Region    string `json:"region"`
		Zone      string `json:"zone,omitempty"`
		State     string `json:"state"`
		Server    bool   `json:"server"`
		Version   string `json:"version,omitempty"`
		Gossip    string `json:"gossip_addr"`
		EdgeAddr  string `json:"edge_addr,omitempty"`
		AdminAddr string `json:"admin_addr,omitempty"`
	}
	var out []member
	for _, m := range n.cluster.Members() {
		out = append(out, member{m.Name, m.Region, m.Zone, m.State.String(), m.Server, m.Version, m.Addr, m.EdgeAddr, m.AdminAddr})
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": out})
}

func (n *Node) handleClusterStatus(w http.ResponseWriter, r *http.Request) {
	if n.cluster == nil {
		writeProblem(w, probNotClustered, "")
		return
	}
	writeJSON(w, http.StatusOK, n.cluster.Status(r.Context()))
}

// purgeResult is the answer to POST /cache/purge.
type purgeResult struct {
	// Removed counts the entries removed per node that answered (this
	// node included).
	Removed map[string]int `json:"removed"`
	// Failed names the live nodes that did not confirm, and why.
	Failed map[string]string `json:"failed,omitempty"`
	// Complete is true when every live node confirmed.
	Complete bool `json:"complete"`
}

// handlePurge removes cache entries by exact key, URL prefix or tag on this
// node and every live peer (owner and near tiers), and answers once all
// confirmed or purgeTimeout passed: 200 when all did, 502 with the ones
// that did not.
func (n *Node) handlePurge(w http.ResponseWriter, r *http.Request) {
	var sel cache.Selector
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	err := dec.Decode(&sel)
	if err == nil {
		err = sel.Validate()
	}
	if err != nil {
		writeProblem(w, problem{http.StatusBadRequest, "bad-purge", "Bad purge request",
			`The body must be one of {"key": KEY}, {"prefix": "https://host/path"} or {"tag": TAG}.`}, "")
		return
	}
	peers := n.livePeers()
	addrs := make([]string, 0, len(peers))
	names := make(map[string]string, len(peers))
	for name, addr := range peers {
		addrs = append(addrs, addr)
		names[addr] = name
	}
	ctx, cancel := context.WithTimeout(r.Context(), purgeTimeout)
	defer cancel()
	rep := n.cache.PurgeCluster(ctx, sel, addrs)
	res := purgeResult{Removed: map[string]int{n.Snapshot().Node.Name: rep.Removed}, Complete: len(rep.Failed) == 0}
	for addr, k := range rep.Acked {
		res.Removed[names[addr]] = k
	}
	if len(rep.Failed) > 0 {
		res.Failed = map[string]string{}
		for addr, err := range rep.Failed {
			res.Failed[names[addr]] = err.Error()
		}
	}
	status := http.StatusOK
	if !res.Complete {
		status = http.StatusBadGateway
	}
	writeJSON(w, status, res)
}
