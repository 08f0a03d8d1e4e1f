package node

import (
	"bufio"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portico-gw/portico/cluster"
	"github.com/portico-gw/portico/node/config"
)

// startCluster joins the cluster named in node.cluster. Called by Start
// once the edge and admin listeners are bound (their addresses are
// gossiped).
func (n *Node) startCluster(nc config.Node) error {
	cc := nc.Cluster
	keys, err := loadKeys(cc)
	if err != nil {
		return err
	}
	cfg := cluster.Config{
		Name: nc.Name, Region: nc.Region, Zone: nc.Zone, Version: n.cfg.Version,
		Server:     *cc.Server,
		GossipBind: cc.Gossip.Bind, GossipAdvertise: cc.Gossip.Advertise,
		RaftBind: cc.Raft.Bind, RaftAdvertise: cc.Raft.Advertise,
		PeerBind: cc.Peer.Bind, PeerAdvertise: cc.Peer.Advertise,
		EdgeAddr: cmp.Or(n.EdgeAddr(), n.TLSAddr()), AdminAddr: n.AdminAddr(),
		Join: cc.Join, Keys: keys, Profile: cc.Profile,
		BootstrapExpect: cc.BootstrapExpect, Voters: cc.Voters,
		DeadServerTimeout: cc.DeadServerTimeout.D(),
		DataDir:           filepath.Join(nc.DataDir, "raft"),
		OnDocument:        n.enqueueDoc,
		AppliedVersion:    func() int64 { return n.Snapshot().Version },
		Logger:            n.logger.With("component", "cluster"),
		PeerHandler:       n.peerHandler(),
	}
	if n.cfg.TuneCluster != nil {
		n.cfg.TuneCluster(&cfg)
	}
	c, err := cluster.Start(cfg)
	if err != nil {
		return fmt.Errorf("join cluster: %w", err)
	}
	n.cluster = c
	n.clusterPtr.Store(c)
	n.bg(n.applyLoop)
	n.bg(n.leaderLoop)
	return nil
}

// loadKeys reads the cluster keys from gossip_key or gossip_key_file.
func loadKeys(cc *config.Cluster) ([][]byte, error) {
	var lines []string
	if cc.GossipKey != "" {
		lines = []string{cc.GossipKey}
	} else {
		f, err := os.Open(cc.GossipKeyFile)
		if err != nil {
			return nil, fmt.Errorf("node.cluster.gossip_key_file: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("node.cluster.gossip_key_file: %w", err)
		}
	}
	var keys [][]byte
	for i, l := range lines {
		if err := config.CheckKey(l); err != nil {
			return nil, fmt.Errorf("cluster key %d %v", i+1, err)
		}
		k, _ := base64.StdEncoding.DecodeString(l)
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("node.cluster.gossip_key_file holds no key")
	}
	return keys, nil
}

// bg runs fn on a goroutine the node owns; fn returns once n.quit closes.
func (n *Node) bg(fn func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		fn()
	}()
}

// enqueueDoc runs on Raft's FSM goroutine: it hands the document to
// applyLoop, latest wins, so Raft never waits for a pipeline build.
func (n *Node) enqueueDoc(d cluster.Document) {
	select {
	case <-n.docs:
	default:
	}
	n.docs <- d
}

func (n *Node) applyLoop() {
	for {
		select {
		case <-n.quit:
			return
		case d := <-n.docs:
			n.applyClusterDoc(d)
		}
	}
}

// applyClusterDoc serves a committed document through the same swap as a
// local reload.
func (n *Node) applyClusterDoc(d cluster.Document) {
	g, err := config.ParseGateway(fmt.Sprintf("cluster config version %d", d.Version), d.Data, nil)
	if err != nil {
		n.logger.Error("this node can't use the cluster's config (a newer schema?); it keeps serving its current version",
			"cluster_version", d.Version, "serving", n.Snapshot().Version, "errors", strings.Split(err.Error(), "\n"))
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.pipe.Load()
	if n.stopped || d.Version <= old.snap.Version {
		return
	}
	next := config.NewSnapshot(&config.File{Node: old.snap.Node, Gateway: *g}, d.Version)
	if err := n.swap(old, next, "cluster", n.fileDigest); err != nil {
		n.logger.Error("apply cluster config", "version", d.Version, "err", err)
		return
	}
	n.logger.Info("cluster config applied", "version", d.Version, "digest", next.Digest[:12])
	n.warnFileDiffers(next)
}

// warnFileDiffers logs that this node's file carries another gateway
// document than the cluster's: once per distinct file content, not once
// per cluster version (every apply would repeat it). Callers hold n.mu.
func (n *Node) warnFileDiffers(s *config.Snapshot) {
	if n.fileDigest == "" || n.fileDigest == s.Digest || n.warnedDigest == n.fileDigest {
		return
	}
	n.warnedDigest = n.fileDigest
	file := n.cfg.File
	if file == "" {
		file = "FILE"
	}
	n.logger.Warn(fmt.Sprintf("this node's config file has routes/upstreams that differ from the cluster's version %d; the cluster's version is served. To apply the file to the whole cluster: portico config diff -f %s, then portico config apply -f %s", s.Version, file, file))
}

// leaderLoop proposes this node's file as version 1 when it leads a
// cluster that has no config yet.
func (n *Node) leaderLoop() {
	ch := n.cluster.LeaderCh()
	if ch == nil {
		return
	}
	for {
		select {
		case <-n.quit:
			return
		case leader := <-ch:
			if leader && n.cluster.Current().Version == 0 {
				n.proposeFileAsFirst()
			}
		}
	}
}

func (n *Node) proposeFileAsFirst() {
	f, err := n.load()
	if err != nil {
		n.logger.Error("can't propose the first cluster config: this node's file is invalid", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := n.cluster.Propose(ctx, f.Gateway.Document(), -1)
	var ce *cluster.ConflictError
	switch {
	case errors.As(err, &ce):
		// Another leader got there first: its version stands.
	case err != nil:
		n.logger.Warn("proposing the first cluster config failed; the next leader will try again", "err", err)
	default:
		n.logger.Info("the cluster had no config: proposed this node's file as version 1", "version", d.Version)
	}
}

// proposeGateway is ApplyGateway in cluster mode: validated here (with
// file:line errors) before it reaches Raft, then replicated, then waited
// for until this node serves it.
func (n *Node) proposeGateway(ctx context.Context, name string, g *config.Gateway, ifVersion int64) (*config.Snapshot, error) {
	cur := n.Snapshot()
	if ifVersion == 0 && g.Digest() == cur.Digest && cur.Version > 0 {
		return cur, nil
	}
	// A document no node can build never reaches Raft.
	if err := checkGateway(name, cur.Node, g); err != nil {
		n.metrics.ObserveReload(err)
		return nil, err
	}
	d, err := n.cluster.Propose(ctx, g.Document(), ifVersion)
	var ce *cluster.ConflictError
	switch {
	case errors.As(err, &ce):
		return &config.Snapshot{Version: ce.Current}, fmt.Errorf("%w: expected version %d, the cluster is at %d", config.ErrVersionConflict, ifVersion, ce.Current)
	case errors.Is(err, cluster.ErrNoWriteQuorum):
		return nil, fmt.Errorf("%w (%v)", config.ErrQuorumLost, err)
	case err != nil:
		return nil, err
	}
	if err := n.waitServing(ctx, d.Version); err != nil {
		return nil, err
	}
	return n.Snapshot(), nil
}

// waitServing waits until the node serves version v or newer.
func (n *Node) waitServing(ctx context.Context, v int64) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		n.servedMu.Lock()
		ch := n.served
		n.servedMu.Unlock()
		if n.Snapshot().Version >= v {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("config version %d committed but not yet applied here: %w", v, ctx.Err())
		}
	}
}

// Cluster returns the node's cluster, or nil for a single node.
func (n *Node) Cluster() *cluster.Cluster { return n.cluster }
