package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/portico-gw/portico/problem"
)

// maxPurgeBody caps a POST /cache/purge body.
const maxPurgeBody = 64 << 10

// Selector is what a purge removes: exactly one field is set.
type Selector struct {
	// Key is a cache key (the entry and all its variants).
	Key string `json:"key,omitempty"`
	// Prefix is a URL prefix, "https://host/path".
	Prefix string `json:"prefix,omitempty"`
	// Tag is a purge tag from the entries' tag headers.
	Tag string `json:"tag,omitempty"`
}

// valid reports whether exactly one field is set.
func (s Selector) valid() bool {
	n := 0
	for _, f := range [...]string{s.Key, s.Prefix, s.Tag} {
		if f != "" {
			n++
		}
	}
	return n == 1
}

// PurgeReport is the answer to POST /cache/purge.
type PurgeReport struct {
	// Removed counts the entries removed per node that answered (this
	// node included), by node name.
	Removed map[string]int `json:"removed"`
	// Failed names the live nodes that did not confirm, and why.
	Failed map[string]string `json:"failed,omitempty"`
	// Complete is true when every live node confirmed.
	Complete bool `json:"complete"`
}

// ErrBadSelector is what a Purger returns (wrapped) for a selector the
// cache refuses; the answer is bad-purge.
var ErrBadSelector = errors.New("bad purge selector")

// Purger removes cache entries on this node and every live peer.
type Purger interface {
	// Purge removes what s selects everywhere it can within its own time
	// bound and reports who confirmed. An error means nothing was
	// attempted.
	Purge(ctx context.Context, s Selector) (PurgeReport, error)
}

// purge removes cache entries by exact key, URL prefix or tag on every
// live node (owner and near tiers) and answers once all confirmed or the
// purge's time ran out: 200 when all did, 502 with the ones that did not.
func (a *api) purge(w http.ResponseWriter, r *http.Request) {
	var sel Selector
	dec := json.NewDecoder(io.LimitReader(r.Body, maxPurgeBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sel); err != nil || !sel.valid() {
		problem.Write(w, problem.BadPurge, "")
		return
	}
	rep, err := a.o.Purger.Purge(r.Context(), sel)
	switch {
	case errors.Is(err, ErrBadSelector):
		problem.Write(w, problem.BadPurge, "")
		return
	case err != nil:
		a.log.Error("cache purge", "err", err)
		problem.Write(w, problem.Internal, "")
		return
	}
	if rep.Removed == nil {
		rep.Removed = map[string]int{}
	}
	status := http.StatusOK
	if !rep.Complete {
		status = http.StatusBadGateway
	}
	writeJSON(w, status, rep)
}
