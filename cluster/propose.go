package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portico-gw/portico/cluster/membership"
	"github.com/portico-gw/portico/cluster/store"
)

// Errors of Propose, for the caller's status mapping.
var (
	// ErrConflict: the compare-and-set version did not match.
	ErrConflict = store.ErrConflict
	// ErrNoWriteQuorum: the cluster can't commit a write now: no leader
	// (and, as far as this node knows, too few voters alive to elect
	// one), no server reachable from a non-server, or the leader could
	// not commit in time. When the store said so, the error also matches
	// store.ErrNoQuorum. A write that timed out may still commit later.
	ErrNoWriteQuorum = errors.New("cluster: no quorum for config writes")
)

// ConflictError carries the current version on a compare-and-set miss.
type ConflictError = store.ConflictError

// proposeTimeout bounds one write: without quorum it fails in this time,
// or at once when this node knows there is no leader and too few voters
// are alive to elect one (noQuorum).
const proposeTimeout = 5 * time.Second

// hopsHeader counts how often a write was forwarded: a non-server sends
// it to some server (1), which passes it on to the leader (2); no further.
const (
	hopsHeader = "Portico-Hops"
	maxHops    = 2
)

// Propose replicates data as the next document version. ifVersion: 0
// unconditional, > 0 compare-and-set, -1 only if the cluster has none.
// A follower forwards the write to the leader over the peer transport; a
// non-server to a server, which forwards it to the leader. It returns
// once the leader committed; use WaitApplied to wait for this node to
// serve it.
func (c *Cluster) Propose(ctx context.Context, data []byte, ifVersion int64) (Document, error) {
	ctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	defer cancel()
	ctx, lost := c.watchQuorum(ctx)
	defer lost(nil)
	for {
		d, err := c.proposeOnce(ctx, data, ifVersion, 0)
		if cause := context.Cause(ctx); err != nil && errors.Is(cause, ErrNoWriteQuorum) {
			return Document{}, cause // learnt while the write waited
		}
		if !errors.Is(err, errRetry) {
			return d, err
		}
		// The leader moved while we asked: look again after a beat.
		select {
		case <-ctx.Done():
			return Document{}, fmt.Errorf("%w: %v", ErrNoWriteQuorum, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

var errRetry = errors.New("retry")

// proposeOnce makes one attempt of a write that has been forwarded hops
// times: here if this node leads, else forwarded to the leader (or, on a
// non-server, to a server) unless it has come far enough. errRetry means
// try again: the leader moved or is not known yet.
func (c *Cluster) proposeOnce(ctx context.Context, data []byte, ifVersion int64, hops int) (Document, error) {
	if err := c.noQuorum(); err != nil {
		return Document{}, err
	}
	addr := ""
	if c.store != nil {
		d, err := c.proposeLocal(ctx, data, ifVersion)
		var nl *store.NotLeaderError
		if !errors.As(err, &nl) {
			return d, err
		}
		addr = c.leaderPeerAddr()
	} else {
		addr = c.pickServer("")
	}
	if hops >= maxHops || addr == "" {
		return Document{}, errRetry
	}
	return c.forward(ctx, addr, data, ifVersion, hops+1)
}

// watchQuorum returns ctx, cancelled with noQuorum's error as soon as
// that appears while a write waits (an election that can't succeed, or
// the last server gone), and the function that stops the watch.
func (c *Cluster) watchQuorum(ctx context.Context) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := c.noQuorum(); err != nil {
					cancel(err)
					return
				}
			}
		}
	}()
	return ctx, func(cause error) {
		cancel(cause)
		<-done
	}
}

// noQuorum returns ErrNoWriteQuorum, with what this node knows, when a write
// can't succeed: on a server that knows of no leader, when too few voters
// are alive (by gossip) to elect one; on a non-server, when no server is
// alive. With a leader known, or an election that can succeed, it
// returns nil and the write waits for Raft, up to proposeTimeout.
func (c *Cluster) noQuorum() error {
	if c.store == nil {
		if c.pickServer("") == "" {
			return fmt.Errorf("%w: %v", ErrNoWriteQuorum, errNoServer)
		}
		return nil
	}
	st := c.store.Status()
	if st.LeaderID != "" || len(st.Voters) == 0 || st.Stopped != "" {
		return nil
	}
	alive := map[string]bool{c.cfg.Name: true}
	for _, m := range c.Members() {
		if m.State == membership.Alive || m.State == membership.Suspect {
			alive[m.Name] = true
		}
	}
	var gone []string
	for _, v := range st.Voters {
		if !alive[v.ID] {
			gone = append(gone, v.ID)
		}
	}
	n := len(st.Voters) - len(gone)
	if n > len(st.Voters)/2 {
		return nil
	}
	return fmt.Errorf("%w: no leader, and only %d of %d voters are reachable (%s not)", ErrNoWriteQuorum, n, len(st.Voters), strings.Join(gone, ", "))
}

// proposeLocal proposes on this node's store and, once committed, appends
// a Raft barrier. Followers learn that an entry is committed only from the
// leader's next message, which with Raft's default CommitTimeout (50 ms)
// can come ~100 ms later; the barrier's append carries the new commit
// index at once, so every node applies the document within a round trip
// or two, without shortening CommitTimeout (which would cost idle CPU on
// every follower link, forever).
func (c *Cluster) proposeLocal(ctx context.Context, data []byte, ifVersion int64) (Document, error) {
	d, err := c.store.Propose(ctx, data, ifVersion)
	if errors.Is(err, store.ErrNoQuorum) {
		return d, fmt.Errorf("%w: %w", ErrNoWriteQuorum, err)
	}
	if err != nil {
		return d, err
	}
	if berr := c.store.Barrier(ctx); berr != nil {
		c.log.Debug("barrier after a config write", "err", berr) // the write itself is committed
	}
	return d, nil
}

// forward sends the write to the peer endpoint at addr (the leader, or a
// server that passes it on).
func (c *Cluster) forward(ctx context.Context, addr string, data []byte, ifVersion int64, hops int) (Document, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+"/cluster/v1/propose", bytes.NewReader(data))
	if err != nil {
		return Document{}, err
	}
	req.Header.Set("Portico-If-Version", strconv.FormatInt(ifVersion, 10))
	req.Header.Set(hopsHeader, strconv.Itoa(hops))
	res, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Document{}, fmt.Errorf("%w: leader unreachable: %v", ErrNoWriteQuorum, err)
		}
		var op *net.OpError
		if ifVersion != 0 && !(errors.As(err, &op) && op.Op == "dial") {
			// The write may have been committed and its answer lost: sent
			// again, a conditional write would conflict with itself.
			return Document{}, fmt.Errorf("%w: the answer was lost, the write's outcome is unknown: %v", ErrNoWriteQuorum, err)
		}
		return Document{}, errRetry
	}
	defer res.Body.Close()
	var out proposeResult
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&out); err != nil {
		return Document{}, fmt.Errorf("leader answered %s: %w", res.Status, err)
	}
	switch res.StatusCode {
	case http.StatusOK:
		return Document{Version: out.Version}, nil
	case http.StatusConflict:
		return Document{}, &ConflictError{Current: out.Version}
	case http.StatusMisdirectedRequest:
		return Document{}, errRetry
	case http.StatusServiceUnavailable:
		return Document{}, fmt.Errorf("%w: %s", ErrNoWriteQuorum, out.Error)
	}
	return Document{}, fmt.Errorf("leader answered %s: %s", res.Status, out.Error)
}

// leaderPeerAddr finds the leader's peer address through gossip metadata.
func (c *Cluster) leaderPeerAddr() string {
	id, _ := c.store.Leader()
	if id == "" || id == c.cfg.Name {
		return ""
	}
	for _, m := range c.Members() {
		if m.Name == id {
			return m.PeerAddr
		}
	}
	return ""
}

type proposeResult struct {
	Version int64  `json:"version"`
	Error   string `json:"error,omitempty"`
}

// handlePropose is the receiving side of forwarding: the leader commits;
// a follower passes a write from a non-server on to the leader.
func (c *Cluster) handlePropose(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, proposeResult{Error: "document too large"})
		return
	}
	ifVersion, err := strconv.ParseInt(r.Header.Get("Portico-If-Version"), 10, 64)
	if err != nil || ifVersion < -1 {
		// A write without a readable condition must not become unconditional.
		writeJSON(w, http.StatusBadRequest, proposeResult{Error: "Portico-If-Version: want -1, 0 or a version"})
		return
	}
	hops, _ := strconv.Atoi(r.Header.Get(hopsHeader)) // absent: sent by the leader's own follower
	if !c.storeReady(w) {
		return
	}
	if c.store == nil {
		writeJSON(w, http.StatusMisdirectedRequest, proposeResult{Error: "not a server"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), proposeTimeout)
	defer cancel()
	d, err := c.proposeOnce(ctx, data, ifVersion, max(hops, 1))
	var ce *store.ConflictError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, proposeResult{Version: d.Version})
	case errors.As(err, &ce):
		writeJSON(w, http.StatusConflict, proposeResult{Version: ce.Current, Error: "version conflict"})
	case errors.Is(err, errRetry):
		writeJSON(w, http.StatusMisdirectedRequest, proposeResult{Error: "not the leader"})
	case errors.Is(err, ErrNoWriteQuorum):
		writeJSON(w, http.StatusServiceUnavailable, proposeResult{Error: err.Error()})
	default:
		c.log.Error("forwarded config write failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, proposeResult{Error: "write failed"})
	}
}

// WaitApplied returns once this node's store has applied version v, or
// ctx ends.
func (c *Cluster) WaitApplied(ctx context.Context, v int64) error {
	for {
		c.mu.Lock()
		ch := c.applied
		c.mu.Unlock()
		if c.Current().Version >= v {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for config version %d: %w", v, ctx.Err())
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
