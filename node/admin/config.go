package admin

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/portico-gw/portico/node/config"
	"github.com/portico-gw/portico/problem"
)

// maxConfigBody caps a PUT /config document.
const maxConfigBody = 4 << 20

// getConfig returns the served config as YAML with secrets redacted;
// ?part=gateway returns the gateway document alone (what config diff
// compares). ETag carries the version for a later If-Match on PUT.
func (a *api) getConfig(w http.ResponseWriter, r *http.Request) {
	snap := a.o.Config.Snapshot()
	var doc []byte
	var err error
	if r.URL.Query().Get("part") == "gateway" {
		doc, err = yaml.Marshal(snap.Gateway)
	} else {
		doc, err = (&config.File{Node: snap.Node, Gateway: snap.Gateway}).YAML()
	}
	if err != nil {
		a.log.Error("encode config", "version", snap.Version, "err", err)
		problem.WriteDetail(w, problem.Internal, "The config could not be encoded.", "")
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "no-store")
	setVersion(w, snap.Version)
	_, _ = w.Write(doc)
}

// putConfig replaces the gateway document (upstreams, routes). The body is
// YAML without the node: section. If-Match: "VERSION" makes it a
// compare-and-set (409 on mismatch). 400 lists every config error,
// including what the node can't build; a document without routes (an
// empty body) is refused unless ?force=true.
func (a *api) putConfig(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxConfigBody))
	if err != nil {
		problem.WriteDetail(w, problem.BodyTooLarge, "The config document exceeds 4 MiB.", "")
		return
	}
	var o config.ApplyOptions
	if m := r.Header.Get("If-Match"); m != "" {
		if o.IfVersion, err = strconv.ParseInt(strings.Trim(m, `"`), 10, 64); err != nil || o.IfVersion <= 0 {
			problem.Write(w, problem.BadIfMatch, "")
			return
		}
	}
	if f := r.URL.Query().Get("force"); f != "" {
		if o.Force, err = strconv.ParseBool(f); err != nil {
			problem.Write(w, problem.BadForce, "")
			return
		}
	}
	snap, err := a.o.Config.Apply(r.Context(), "request body", body, o)
	var cerrs config.Errors
	switch {
	case errors.Is(err, config.ErrRemovesAllRoutes):
		problem.Write(w, problem.ConfigRemovesAllRoutes, "")
	case errors.As(err, &cerrs):
		msgs := make([]string, len(cerrs))
		for i, e := range cerrs {
			msgs[i] = e.Error()
		}
		problem.WriteExt(w, problem.InvalidConfig, "", map[string]any{"errors": msgs})
	case errors.Is(err, config.ErrVersionConflict):
		if snap == nil {
			snap = a.o.Config.Snapshot()
		}
		w.Header().Set("ETag", etag(snap.Version))
		problem.WriteExt(w, problem.VersionConflict, "", map[string]any{"current_version": snap.Version})
	case errors.Is(err, config.ErrQuorumLost):
		problem.WriteExt(w, problem.QuorumLost, "", map[string]any{"serving_version": a.o.Config.Snapshot().Version})
	case err != nil:
		a.log.Error("apply config", "err", err)
		problem.Write(w, problem.ApplyFailed, "")
	default:
		w.Header().Set("ETag", etag(snap.Version))
		writeJSON(w, http.StatusOK, map[string]any{"version": snap.Version, "digest": snap.Digest})
	}
}

// setVersion sets the ETag and Portico-Config-Version of a config answer.
func setVersion(w http.ResponseWriter, v int64) {
	w.Header().Set("ETag", etag(v))
	w.Header().Set("Portico-Config-Version", strconv.FormatInt(v, 10))
}

func etag(v int64) string { return strconv.Quote(strconv.FormatInt(v, 10)) }
