package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/portico-gw/portico/cluster/membership"
)

// How a member that is not a Raft server (cluster.server: false) gets the
// document: it watches a server over the peer transport with a long poll,
// GET /cluster/v1/document?after=V, which the server answers as soon as it
// has applied a version above V (or with 204 after watchWait, and the
// member asks again). That is Consul's blocking query. The alternative,
// making every gateway a Raft non-voter, would put each one on the
// leader's replication and heartbeat path and give it a Raft log and
// port to keep; a watch costs one idle HTTP/2 stream per member, on the
// authenticated listener that is already there, and any server can answer
// it, so the leader carries no extra load.
const (
	documentPath = "/cluster/v1/document"
	// watchWait is how long a server holds a watch open without news.
	watchWait = 30 * time.Second
	// versionHeader carries the version of the document in the body (200)
	// or of the one the server holds (204).
	versionHeader = "Portico-Config-Version"
	// watchBackoff and watchMaxBackoff pace retries after a failed watch.
	watchBackoff    = 100 * time.Millisecond
	watchMaxBackoff = 5 * time.Second
	// watchWarnAfter failed watches in a row are logged, once.
	watchWarnAfter = 5
)

// handleDocument is the server side of the watch.
func (c *Cluster) handleDocument(w http.ResponseWriter, r *http.Request) {
	if !c.storeReady(w) {
		return
	}
	if c.store == nil {
		writeJSON(w, http.StatusMisdirectedRequest, proposeResult{Error: "not a server"})
		return
	}
	after, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if err != nil || after < 0 {
		writeJSON(w, http.StatusBadRequest, proposeResult{Error: "after: want a version (0 or more)"})
		return
	}
	timer := time.NewTimer(watchWait)
	defer timer.Stop()
	for {
		ch := c.appliedCh()
		d := c.Current()
		if d.Version > after {
			w.Header().Set(versionHeader, strconv.FormatInt(d.Version, 10))
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(d.Data)
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			w.Header().Set(versionHeader, strconv.FormatInt(d.Version, 10))
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		case <-c.stop:
			writeJSON(w, http.StatusServiceUnavailable, proposeResult{Error: "shutting down"})
			return
		}
	}
}

// watchDocument is the member side: it runs on a non-server until
// Shutdown, handing every newer document to onApply.
func (c *Cluster) watchDocument() {
	defer c.wg.Done()
	backoff, failures := watchBackoff, 0
	server := ""
	for {
		if server == "" {
			server = c.pickServer("")
		}
		var d *Document
		err := errNoServer
		if server != "" {
			d, err = c.fetchDocument(server, c.Current().Version)
		}
		if c.ctx.Err() != nil {
			return
		}
		if err == nil {
			if failures >= watchWarnAfter {
				c.log.Info("config watch resumed", "server", server)
			}
			backoff, failures = watchBackoff, 0
			if d != nil {
				c.onApply(*d)
			} else {
				// Nothing new for a whole poll: ask another server next, so a
				// server stuck on an old version (cut off from the leader,
				// its Raft stopped) can't hold this node back for good.
				server = c.pickServer(server)
			}
			continue
		}
		failures++
		if failures == watchWarnAfter {
			c.log.Warn("can't get the cluster's config from any server; this node keeps serving the version it has and keeps trying",
				"version", c.Current().Version, "err", err)
		}
		server = c.pickServer(server) // another one, if there is one
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, watchMaxBackoff)
	}
}

var errNoServer = errors.New("no Raft server is alive")

// fetchDocument asks server for a version above after; nil with no error
// means the server had nothing newer within watchWait.
func (c *Cluster) fetchDocument(server string, after int64) (*Document, error) {
	ctx, cancel := context.WithTimeout(c.ctx, watchWait+10*time.Second)
	defer cancel()
	url := fmt.Sprintf("https://%s%s?after=%d", server, documentPath, after)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("watch config on %s: %w", server, err)
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusNoContent:
		return nil, nil
	case http.StatusOK:
	default:
		return nil, fmt.Errorf("watch config on %s: answered %s", server, res.Status)
	}
	v, err := strconv.ParseInt(res.Header.Get(versionHeader), 10, 64)
	if err != nil || v <= after {
		return nil, fmt.Errorf("watch config on %s: version %q, want one above %d", server, res.Header.Get(versionHeader), after)
	}
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("watch config on %s: reading version %d: %w", server, v, err)
	}
	return &Document{Version: v, Data: data}, nil
}

// pickServer returns the peer address of a random alive server, other
// than avoid when there is another ("" when none is alive).
func (c *Cluster) pickServer(avoid string) string {
	var addrs []string
	for _, m := range c.Members() {
		if m.Server && m.PeerAddr != "" && m.State == membership.Alive && m.Name != c.cfg.Name {
			addrs = append(addrs, m.PeerAddr)
		}
	}
	if len(addrs) > 1 && avoid != "" {
		for i, a := range addrs {
			if a == avoid {
				addrs = append(addrs[:i], addrs[i+1:]...)
				break
			}
		}
	}
	if len(addrs) == 0 {
		return ""
	}
	return addrs[rand.IntN(len(addrs))]
}
