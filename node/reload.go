package node

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/portico-gw/portico/node/config"
)

// startingSnapshot picks the first snapshot: the file's gateway document,
// or the stored one when the file has not changed since it was last
// applied (see savedConfig for why).
func (n *Node) startingSnapshot(f *config.File) (*config.Snapshot, error) {
	st, err := n.saved.load()
	if err != nil {
		return nil, err
	}
	fromFile := config.NewSnapshot(f, 1)
	n.fileDigest = fromFile.Digest
	if f.Node.Cluster != nil {
		return n.startingClusterSnapshot(f, st)
	}
	if st == nil || st.FileDigest != fromFile.Digest {
		if st != nil {
			fromFile = config.NewSnapshot(f, st.Version+1)
			n.logger.Info("config file changed since the last run; applying it", "version", fromFile.Version)
		}
		return fromFile, n.persist(fromFile, "file")
	}
	g, err := config.ParseGateway(n.saved.path, []byte(st.Document), nil)
	if err != nil {
		return nil, fmt.Errorf("stored config %s: %w", n.saved.path, err)
	}
	snap := config.NewSnapshot(&config.File{Node: f.Node, Gateway: *g}, st.Version)
	if snap.Digest != fromFile.Digest {
		n.logger.Warn("serving the config last written through the admin API; the file's routes and upstreams differ and apply once the file is edited and reloaded",
			"version", snap.Version, "file", n.cfg.File)
	}
	return snap, nil
}

// startingClusterSnapshot serves the last document this node applied from
// the cluster, so a node restarted while the cluster is unreachable serves
// its last config; with none, the file's document serves as version 0
// until the cluster's arrives (or this node, leading a new cluster,
// proposes it as version 1).
func (n *Node) startingClusterSnapshot(f *config.File, st *savedRecord) (*config.Snapshot, error) {
	if st == nil || st.Source != "cluster" {
		return config.NewSnapshot(f, 0), nil
	}
	g, err := config.ParseGateway(n.saved.path, []byte(st.Document), nil)
	if err != nil {
		return nil, fmt.Errorf("stored config %s: %w", n.saved.path, err)
	}
	n.logger.Info("serving the last cluster config this node applied until the cluster answers", "version", st.Version)
	return config.NewSnapshot(&config.File{Node: f.Node, Gateway: *g}, st.Version), nil
}

// Reload re-reads the config file (SIGHUP). A bad file is refused and the
// current pipeline keeps serving. The file's gateway part is applied only
// if the file changed since it was last applied, so a reload never undoes
// a later PUT /config with stale file contents. Node-local settings that
// need a restart (listen addresses, data dir, edge limits) are reported.
func (n *Node) Reload() error {
	f, err := n.load()
	if err != nil {
		n.metrics.ObserveReload(err)
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.tlsLn != nil {
		// Certificate files are also watched; SIGHUP makes sure (file
		// systems where watching fails, or a missed event). Bad files keep
		// the certificates in use and don't hold back the rest of the
		// reload; edge counts them (portico_edge_cert_reloads_total).
		if err := n.edge.ReloadCertificates(); err != nil {
			n.logger.Warn("reload: tls certificates not replaced", "err", err)
		}
	}
	old := n.pipe.Load()
	next := config.NewSnapshot(f, old.snap.Version+1)
	fileDigest := next.Digest
	if n.cluster != nil && f.Node.Cluster != nil {
		// Key rotation: install, use and remove keys by editing the key
		// file (or the key) and sending SIGHUP to every node.
		keys, err := loadKeys(f.Node.Cluster)
		if err == nil {
			err = n.cluster.SetKeys(keys)
		}
		if err != nil {
			n.metrics.ObserveReload(err)
			return fmt.Errorf("cluster keys: %w", err)
		}
	}
	if n.cluster != nil {
		// Cluster mode: the gateway document is the cluster's; SIGHUP
		// reloads node-local settings only.
		next = config.NewSnapshot(&config.File{Node: f.Node, Gateway: old.snap.Gateway}, old.snap.Version)
		n.fileDigest = fileDigest
		defer n.warnFileDiffers(next)
	} else if fileDigest == n.fileDigest {
		next = config.NewSnapshot(&config.File{Node: f.Node, Gateway: old.snap.Gateway}, old.snap.Version+1)
		if old.snap.Digest != fileDigest {
			// The rule at start (savedConfig): the latest write wins. The
			// file's routes are those it had when last applied, so the
			// served document, written later through the admin API, is kept.
			n.logger.Info("reload: keeping the config written through the admin API; the file's routes and upstreams are unchanged since it was last applied, so they are older (edit the file to apply it)",
				"version", old.snap.Version, "file", n.cfg.File)
		}
	} else if old.snap.Digest != n.fileDigest {
		n.logger.Warn("reload: the file's routes and upstreams changed since it was last applied, so the file is the latest write: it replaces the config written through the admin API",
			"replaced_version", old.snap.Version, "file", n.cfg.File)
	}
	if next.Digest == old.snap.Digest && reflect.DeepEqual(next.Node, old.snap.Node) {
		n.metrics.ObserveReload(nil)
		n.logger.Info("config reloaded: unchanged", "version", old.snap.Version)
		return nil
	}
	n.warnRestartNeeded(old.snap.Node, f.Node)
	source := "file"
	if n.cluster != nil {
		source = "cluster"
	}
	if err := n.swap(old, next, source, fileDigest); err != nil {
		n.metrics.ObserveReload(err)
		return err
	}
	n.metrics.ObserveReload(nil)
	n.logger.Info("config reloaded", "version", next.Version, "digest", next.Digest[:12])
	return nil
}

// ApplyGateway validates doc (a gateway document: upstreams, routes),
// checks that this node can build it (Check) and serves it as the next
// version. A document without routes is refused with
// config.ErrRemovesAllRoutes unless o.Force. o.IfVersion, if not zero, must
// equal the version served now, or config.ErrVersionConflict is returned
// (in cluster mode, config.ErrQuorumLost when the write can't commit). The document is stored durably
// before it is acknowledged. Documents written this way get no ${VAR}
// substitution: the node's environment is not the writer's.
func (n *Node) ApplyGateway(ctx context.Context, name string, doc []byte, o config.ApplyOptions) (*config.Snapshot, error) {
	ifVersion := o.IfVersion
	g, err := config.ParseGateway(name, doc, nil)
	if err == nil && len(g.Routes) == 0 && !o.Force {
		err = config.ErrRemovesAllRoutes
	}
	if err != nil {
		n.metrics.ObserveReload(err)
		return nil, err
	}
	if n.cluster != nil {
		return n.proposeGateway(ctx, name, g, ifVersion)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.pipe.Load()
	if ifVersion != 0 && ifVersion != old.snap.Version {
		return old.snap, fmt.Errorf("%w: expected version %d, serving %d", config.ErrVersionConflict, ifVersion, old.snap.Version)
	}
	next := config.NewSnapshot(&config.File{Node: old.snap.Node, Gateway: *g}, old.snap.Version+1)
	if next.Digest == old.snap.Digest {
		return old.snap, nil
	}
	if err := n.swap(old, next, "api", n.fileDigest); err != nil {
		// One node: building it for real is the check (Check would build
		// it all a second time); what fails to build is a 400 like Check's.
		var be buildError
		if errors.As(err, &be) {
			err = checkErrors(name, be.err)
		}
		n.metrics.ObserveReload(err)
		return nil, err
	}
	n.metrics.ObserveReload(nil)
	n.logger.Info("config applied through the admin API", "version", next.Version, "digest", next.Digest[:12])
	return next, nil
}

// buildError is a document that compile could not build (swap's error
// for it, as opposed to storing or stopping).
type buildError struct{ err error }

func (e buildError) Error() string { return e.err.Error() }
func (e buildError) Unwrap() error { return e.err }

// swap compiles next, stores it durably, then makes it the served
// pipeline. Callers hold n.mu.
func (n *Node) swap(old *pipeline, next *config.Snapshot, source, fileDigest string) error {
	if n.stopped {
		return errors.New("node: stopped")
	}
	log := old.log
	if next.Node.AccessLog != old.snap.Node.AccessLog {
		var err error
		if log, err = n.newAccessLog(next.Node.AccessLog); err != nil {
			return err
		}
	}
	p, err := n.compile(next, old, log)
	if err != nil {
		if log != old.log {
			_ = log.Close()
		}
		return buildError{err}
	}
	n.fileDigest = fileDigest
	if err := n.persist(next, source); err != nil {
		retire(p, old)
		if log != old.log {
			_ = log.Close()
		}
		return err
	}
	n.pipe.Store(p)
	n.cache.Publish(p.fills)
	retire(old, p)
	n.dropMetrics(old, p)
	if log != old.log {
		_ = old.log.Close() // requests still on old may log: Log after Close is a no-op
	}
	n.metrics.SetConfigVersion(uint64(next.Version))
	n.servedMu.Lock()
	close(n.served)
	n.served = make(chan struct{})
	n.servedMu.Unlock()
	return nil
}

func (n *Node) persist(s *config.Snapshot, source string) error {
	doc := s.Gateway.Document()
	return n.saved.save(&savedRecord{Version: s.Version, Digest: s.Digest, FileDigest: n.fileDigest, Source: source, Document: string(doc)})
}

func (n *Node) warnRestartNeeded(old, next config.Node) {
	var changed []string
	if old.Listen != next.Listen {
		changed = append(changed, "node.listen")
	}
	if old.Admin != next.Admin {
		changed = append(changed, "node.admin")
	}
	if old.DataDir != next.DataDir {
		changed = append(changed, "node.data_dir")
	}
	if !reflect.DeepEqual(old.Server, next.Server) { // pointers inside (min_body_rate, ip_rate_limit)
		changed = append(changed, "node.server")
	}
	if old.Name != next.Name {
		changed = append(changed, "node.name")
	}
	if old.Region != next.Region || old.Zone != next.Zone {
		changed = append(changed, "node.region/zone")
	}
	if !sameClusterButKeys(old.Cluster, next.Cluster) {
		changed = append(changed, "node.cluster (all but the keys, which SIGHUP rotates)")
	}
	if len(changed) > 0 {
		n.logger.Warn("these settings change only on restart; the node keeps the old values until then", "settings", changed)
	}
}

// sameClusterButKeys compares cluster sections ignoring the key fields.
func sameClusterButKeys(a, b *config.Cluster) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.GossipKey, x.GossipKeyFile, y.GossipKey, y.GossipKeyFile = "", "", "", ""
	return reflect.DeepEqual(x, y)
}
