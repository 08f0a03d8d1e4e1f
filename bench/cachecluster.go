package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// The cache-cluster scenario: a 3-node cluster, every node voting, loaded
// at a modest rate over a few hundred keys owned by its first node.
const (
	cacheClusterNodes = 3
	cacheClusterRate  = 500
	cacheClusterKeys  = 200
	// cacheClusterNearTTL keeps the near tiers out of the way: a node
	// serves its near copy of another node's entry this long at most, so
	// every request for a key owned elsewhere is a remote hit. (The near
	// tier can't be turned off in the node's config: near_max_bytes takes
	// no negative size.)
	cacheClusterNearTTL = time.Nanosecond
	// keySearchFactor bounds the search for owned keys: at most this many
	// candidates per key wanted.
	keySearchFactor = 10
)

// goalRemoteAddedP99 is issue 5's bound on what a remote hit adds to a
// local one at p99, on loopback.
const goalRemoteAddedP99 = time.Millisecond

// Measures of the cache-cluster scenario's rows (Row.Measure).
const (
	measureLocalHit  = "local hit (owner)"
	measureRemoteHit = "remote hit (asks owner)"
)

// cacheGatewayDoc is the cache-cluster's document: one route to the
// backend whose responses are cached by their Cache-Control.
func cacheGatewayDoc(backend string) string {
	return fmt.Sprintf(`upstreams:
  - name: backend
    targets: [{url: "http://%s"}]
routes:
  - name: cached
    upstream: backend
    cache: {}
`, backend)
}

// tuneCacheCluster makes a cluster spec the cache-cluster's: the cached
// route and near tiers that never answer.
func tuneCacheCluster(s *clusterSpec) {
	s.gateway = cacheGatewayDoc(s.backend)
	s.nodeExtra = "  cache: {near_ttl: " + cacheClusterNearTTL.String() + "}\n"
}

// ownerHit reports whether an answer's Cache-Status says it is a hit on
// an entry owner stored, not a near copy.
func ownerHit(owner string) func(http.Header) bool {
	return func(h http.Header) bool {
		node, hit, near := porticoCacheStatus(h)
		return hit && !near && node == owner
	}
}

// measureCacheCluster runs the cache-cluster scenario: it starts the
// cluster, finds keys owned by the first node, and loads them in an open
// loop on that node (local hits) and then on the second (remote hits:
// each one fetched from the owner over the peer protocol). Every node is
// stopped before it returns.
func (ph phase) measureCacheCluster(ctx context.Context, sc Scenario) ([]Row, []string) {
	rows := []Row{
		{Target: nodeName(0), Measure: measureLocalHit},
		{Target: nodeName(1), Measure: measureRemoteHit, Goal: "+p99 < " + goalRemoteAddedP99.String()},
	}
	var notes []string
	if why := ph.runCluster(ctx, sc, tuneCacheCluster, func(r *clusterRun) { notes = r.cacheMeasures(ctx, rows) }); why != "" {
		skipRows(rows, why)
		return rows, nil
	}
	return rows, notes
}

// cacheMeasures fills rows (local hits, remote hits) on r and returns the
// note on the keys; when no key can be found it skips both rows.
func (r *clusterRun) cacheMeasures(ctx context.Context, rows []Row) []string {
	owner, asker := r.c.nodes[0], r.c.nodes[1]
	keys, tried, err := ownedKeys(ctx, r.sc, owner, asker)
	if err != nil {
		skipRows(rows, skipReason(ctx, "finding keys", err))
		return nil
	}
	notes := []string{fmt.Sprintf("%d keys owned by %s (of the first %d tried: %s?k=0, 1, …), each filled by one request before the measures",
		len(keys), owner.name, tried, r.sc.Path)}
	for i, n := range []*clusterNode{owner, asker} {
		if ctx.Err() != nil {
			break
		}
		rows[i] = r.measureHits(ctx, rows[i], n, owner.name, keys)
	}
	addedLatency(&rows[0], &rows[1])
	return notes
}

// ownedKeys finds up to sc.Keys paths (sc.Path?k=N) owned by owner: each
// candidate is asked of owner first, which has it stored at its owner,
// whichever node that is, then of asker, whose Cache-Status names the
// owner that stored what it served. It tries sc.Keys × keySearchFactor
// candidates at most and returns the keys and how many it tried.
func ownedKeys(ctx context.Context, sc Scenario, owner, asker *clusterNode) ([]string, int, error) {
	tr := newTransport(2)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var keys []string
	tried := 0
	for ; tried < sc.Keys*keySearchFactor && len(keys) < sc.Keys; tried++ {
		path := fmt.Sprintf("%s?k=%d", sc.Path, tried)
		if _, err := fetch(ctx, client, owner.url+path); err != nil {
			return nil, tried, fmt.Errorf("filling %s on %s: %w", path, owner.name, err)
		}
		a, err := fetch(ctx, client, asker.url+path)
		if err != nil {
			return nil, tried, fmt.Errorf("asking %s for %s: %w", asker.name, path, err)
		}
		if ownerHit(owner.name)(a.header) {
			keys = append(keys, path)
		}
	}
	if len(keys) == 0 {
		return nil, tried, fmt.Errorf("none of %d keys is owned by %s", tried, owner.name)
	}
	return keys, tried, nil
}

// measureHits loads keys on node n in an open loop at sc.Rate, in turn,
// after a warm-up, and counts the answers that are hits on owner's
// entries.
func (r *clusterRun) measureHits(ctx context.Context, row Row, n *clusterNode, owner string, keys []string) Row {
	sc := r.sc
	urls := make([]string, len(keys))
	for i, k := range keys {
		urls[i] = n.url + k
	}
	tr := newTransport(defaultMaxWorkers)
	defer tr.CloseIdleConnections()
	hit := ownerHit(owner)
	// No process: a remote hit costs two nodes' CPU, so none is shown.
	t := &target{name: n.name}
	row = r.loadNode(ctx, sc.Name+"/"+row.Measure, t, row, func(d time.Duration, done *atomic.Int64) loader {
		return OpenLoop{URLs: urls, Rate: sc.Rate, Duration: d, Done: done, Transport: tr, Hit: hit}
	}, nil)
	if row.Skipped == "" && row.CacheHits == nil {
		var none int64
		row.CacheHits = &none
	}
	return row
}

// addedLatency fills what the remote hits add to the local ones at p50
// and p99, and whether that meets the goal.
func addedLatency(local, remote *Row) {
	if local.Skipped != "" || remote.Skipped != "" || local.OK == 0 || remote.OK == 0 {
		return
	}
	p50, p99 := remote.P50US-local.P50US, remote.P99US-local.P99US
	remote.AddedP50US, remote.AddedP99US = &p50, &p99
	met := p99 < float64(goalRemoteAddedP99/time.Microsecond)
	remote.GoalMet = &met
}
