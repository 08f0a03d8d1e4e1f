package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"

	"github.com/portico-gw/portico/cluster/membership"
	"github.com/portico-gw/portico/cluster/peer"
	"github.com/portico-gw/portico/cluster/ring"
	"github.com/portico-gw/portico/cluster/store"
)

// Document is the replicated config document.
type Document = store.Document

// Member is a cluster member as gossip sees it.
type Member = membership.Member

// Member states, for callers that filter Members.
const (
	Alive   = membership.Alive
	Suspect = membership.Suspect
)

// Config configures a Cluster. Fields marked (Optional) have usable zero
// values.
type Config struct {
	// Name is the node's unique name; Region and Zone place it.
	Name, Region, Zone string
	// Version is the binary's version, gossiped for rolling upgrades.
	Version string
	// Server says whether the node takes part in Raft. A non-server
	// member gets every document from a server over the peer transport
	// (see watch.go) and forwards its writes to one.
	Server bool
	// GossipBind, RaftBind and PeerBind are host:port to listen on (port
	// 0 picks a free one); the *Advertise fields are what others dial
	// (Optional: default to the bound address).
	GossipBind, GossipAdvertise string
	RaftBind, RaftAdvertise     string
	PeerBind, PeerAdvertise     string
	// EdgeAddr and AdminAddr are gossiped so tools can reach every node.
	EdgeAddr, AdminAddr string
	// Join lists seed gossip addresses.
	Join []string
	// Keys are the cluster keys (16, 24 or 32 bytes), the first primary:
	// they encrypt gossip and key the peer transport. Required.
	Keys [][]byte
	// Profile is "lan" (default) or "wan" failure detection.
	Profile string
	// BootstrapExpect, Voters and DeadServerTimeout: see cluster/store.
	BootstrapExpect, Voters int
	DeadServerTimeout       time.Duration
	// DataDir holds Raft's log and snapshots.
	DataDir string
	// PeerHandler serves the node's own peer endpoints (cache fetch,
	// limiter sync, ...) beside the cluster's /cluster/v1/ ones.
	// (Optional)
	PeerHandler http.Handler
	// OnDocument receives every document Raft applies (on a non-server:
	// every newer one the watch brings), in order. It runs on Raft's FSM
	// goroutine, or the watch's: hand the work off, don't block.
	OnDocument func(Document)
	// AppliedVersion reports the config version the node serves, for
	// cluster status. (Optional)
	AppliedVersion func() int64
	// Logger is the process log. (Optional)
	Logger *slog.Logger
	// TuneGossip and TuneRaft shrink timings in tests. (Optional)
	TuneGossip func(*memberlist.Config)
	TuneRaft   func(*raft.Config)
}

// Cluster is a running cluster membership of this node.
type Cluster struct {
	cfg    Config
	log    *slog.Logger
	creds  *peer.Credentials
	peerLn net.Listener
	peer   *peer.Server
	client *http.Client
	store  *store.Store
	gossip *membership.Membership
	ring   atomic.Pointer[ring.Ring]
	doc    atomic.Pointer[Document] // a non-server's latest document

	changes chan []Member
	applied chan struct{} // closed and replaced on every apply (broadcast)
	mu      sync.Mutex    // guards applied
	stop    chan struct{}
	ctx     context.Context // cancelled by Shutdown, for outgoing requests
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
	// storeSet is set once c.store is (or is known to stay nil): peer
	// handlers, which serve before Raft opens, read c.store only after it.
	storeSet atomic.Bool
}

// Start starts the peer listener, Raft and gossip, in that order (gossip
// last: it advertises the others' addresses).
func Start(cfg Config) (c *Cluster, err error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("cluster: no cluster key")
	}
	c = &Cluster{cfg: cfg, log: cfg.Logger, changes: make(chan []Member, 1),
		applied: make(chan struct{}), stop: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.doc.Store(&Document{})
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = c.Shutdown(ctx)
		}
	}()
	if _, port, _ := net.SplitHostPort(c.cfg.RaftBind); port != "0" && c.cfg.Server {
		// (Port 0, in tests, is known only once Raft binds; the store then
		// advertises what it bound.)
		if c.cfg.RaftAdvertise, err = advertiseAddr(c.cfg.RaftAdvertise, c.cfg.RaftBind, privateIP); err != nil {
			return nil, fmt.Errorf("cluster.raft: %w", err)
		}
	}
	if err = c.startPeer(); err != nil {
		return nil, err
	}
	if err = c.startStore(); err != nil {
		return nil, err
	}
	if err = c.startGossip(); err != nil {
		return nil, err
	}
	c.wg.Add(1)
	go c.watchMembers()
	if c.store == nil {
		c.wg.Add(1)
		go c.watchDocument()
	}
	return c, nil
}

func (c *Cluster) startPeer() error {
	creds, err := peer.NewCredentials(c.cfg.Name, c.cfg.Keys)
	if err != nil {
		return fmt.Errorf("peer credentials: %w", err)
	}
	c.creds = creds
	if c.peerLn, err = net.Listen("tcp", c.cfg.PeerBind); err != nil {
		return fmt.Errorf("listen on cluster.peer %s: %w", c.cfg.PeerBind, err)
	}
	c.peer = peer.NewServer(creds, peer.ServerConfig{Handler: c.peerMux(), Logger: c.log.With("component", "peer")})
	c.client = &http.Client{Transport: peer.NewTransport(creds, peer.ClientConfig{})}
	ln := c.peerLn
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := c.peer.Serve(ln); err != nil {
			c.log.Error("peer listener stopped", "err", err)
		}
	}()
	return nil
}

// raftProto is the ALPN protocol of the Raft port: a peer HTTP client
// dialling it, or a Raft client dialling the peer port, fails the
// handshake instead of speaking the wrong protocol.
const raftProto = "portico-raft"

// startStore opens Raft on its own port, carried over the same mutual TLS
// as the peer listener: a connection without a certificate from a cluster
// key never reaches Raft (see peer.StreamListener).
func (c *Cluster) startStore() error {
	if !c.cfg.Server {
		c.storeSet.Store(true)
		return nil
	}
	ln, err := net.Listen("tcp", c.cfg.RaftBind)
	if err != nil {
		return fmt.Errorf("listen on cluster.raft %s: %w", c.cfg.RaftBind, err)
	}
	sl, err := peer.NewStreamListener(c.creds, ln, peer.StreamConfig{Proto: raftProto, Name: "raft", Logger: c.log.With("component", "raft")})
	if err != nil {
		_ = ln.Close()
		return err
	}
	dial := func(addr string, timeout time.Duration) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return c.creds.DialStream(ctx, addr, raftProto)
	}
	s, err := store.Open(store.Config{
		ID:                c.cfg.Name,
		Listener:          sl,
		Dial:              dial,
		AdvertiseAddr:     c.cfg.RaftAdvertise,
		DataDir:           c.cfg.DataDir,
		BootstrapExpect:   c.cfg.BootstrapExpect,
		Voters:            c.cfg.Voters,
		DeadServerTimeout: c.cfg.DeadServerTimeout,
		Tune:              c.tuneRaft,
		OnApply:           c.onApply,
		Logger:            c.log,
	})
	if err != nil {
		return fmt.Errorf("raft: %w", err)
	}
	c.store = s
	c.storeSet.Store(true)
	return nil
}

func (c *Cluster) startGossip() error {
	peerAddr, err := advertiseAddr(c.cfg.PeerAdvertise, c.peerLn.Addr().String(), privateIP)
	if err != nil {
		return fmt.Errorf("cluster.peer: %w", err)
	}
	meta := membership.Meta{
		Name: c.cfg.Name, Region: c.cfg.Region, Zone: c.cfg.Zone, Version: c.cfg.Version,
		PeerAddr: peerAddr, Server: c.cfg.Server,
		// Edge and admin addresses are informational (members, tools): a
		// wildcard bind is shown with the private IP, and left as is when
		// none is found.
		EdgeAddr:  bestEffortAdvertise(c.cfg.EdgeAddr),
		AdminAddr: bestEffortAdvertise(c.cfg.AdminAddr),
	}
	if c.store != nil {
		meta.RaftAddr = c.store.Addr()
	}
	g, err := membership.New(membership.Config{
		Meta:          meta,
		BindAddr:      c.cfg.GossipBind,
		AdvertiseAddr: c.cfg.GossipAdvertise,
		Join:          c.cfg.Join,
		Keys:          c.cfg.Keys,
		Profile:       c.cfg.Profile,
		Tune:          c.tuneGossip,
		Logger:        c.log,
		OnChange:      c.onChange,
	})
	if err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	c.gossip = g
	return nil
}

// tuneGossip tightens memberlist's LAN failure detection so a killed node
// is declared dead in about 2.5 s instead of about 6 s (probe every
// 500 ms, suspicion timeout 3 × probe interval × log10(n) with a floor
// of one interval): gateways route around a dead node sooner, at the cost
// of one small UDP probe per node per half second. The WAN profile is
// left as memberlist ships it. Tests shrink further through TuneGossip.
func (c *Cluster) tuneGossip(m *memberlist.Config) {
	if c.cfg.Profile != "wan" {
		m.ProbeInterval = 500 * time.Millisecond
		m.ProbeTimeout = 250 * time.Millisecond
		m.SuspicionMult = 3
	}
	if c.cfg.TuneGossip != nil {
		c.cfg.TuneGossip(m)
	}
}

// tuneRaft trades the leader's idle chatter for nothing users wait on:
//   - CommitTimeout 50 ms → 500 ms. It only paces the idle AppendEntries
//     that tell followers the commit index; config writes don't wait for
//     it (proposeLocal's barrier carries the index at once).
//   - HeartbeatTimeout and ElectionTimeout 1 s → 2 s (Consul's default
//     raft_multiplier is 5 s): heartbeats go out every 200 ms instead of
//     100 ms. A dead leader is replaced in ~2–4 s instead of ~1–2 s; only
//     config writes wait for that, never traffic.
//
// Measured with `portico bench --scenarios cluster` (5 nodes): the idle
// leader went from 4.3% to about 1% of a core. Tests shrink timings
// through TuneRaft.
func (c *Cluster) tuneRaft(r *raft.Config) {
	r.CommitTimeout = 500 * time.Millisecond
	r.HeartbeatTimeout = 2 * time.Second
	r.ElectionTimeout = 2 * time.Second
	if c.cfg.TuneRaft != nil {
		c.cfg.TuneRaft(r)
	}
}

// bestEffortAdvertise is advertiseAddr for addresses only shown to
// people: on failure the bound address is kept.
func bestEffortAdvertise(bound string) string {
	if bound == "" {
		return ""
	}
	if a, err := advertiseAddr("", bound, privateIP); err == nil {
		return a
	}
	return bound
}

// onChange runs on membership's event goroutine; the latest list wins.
func (c *Cluster) onChange(ms []Member) {
	select {
	case <-c.changes:
	default:
	}
	c.changes <- ms
}

// watchMembers rebuilds the ring and reconciles Raft on every change, on
// this one goroutine, so rebuilds never race each other.
func (c *Cluster) watchMembers() {
	defer c.wg.Done()
	for {
		select {
		case <-c.stop:
			return
		case ms := <-c.changes:
			c.rebuild(ms)
		}
	}
}

func (c *Cluster) rebuild(ms []Member) {
	var live []ring.Member
	var servers []store.Server
	gone := map[string]store.Departure{}
	for _, m := range ms {
		switch m.State {
		case membership.Alive, membership.Suspect:
			live = append(live, ring.Member{ID: m.Name, Region: m.Region})
			if m.Server && m.RaftAddr != "" {
				servers = append(servers, store.Server{ID: m.Name, Addr: m.RaftAddr})
			}
		default:
			// A server that left gracefully is treated like a failed one:
			// it stays a Raft voter until DeadServerTimeout, so routine
			// restarts and rolling upgrades don't shrink the quorum (the
			// reason Consul servers don't leave on terminate).
			if m.Server {
				gone[m.Name] = store.Departure{Since: m.Since}
			}
		}
	}
	c.ring.Store(ring.New(live))
	if c.store != nil {
		c.store.Reconcile(servers, gone)
	}
}

// onApply runs on Raft's FSM goroutine, or on a non-server's watch
// goroutine (the only caller there, so versions arrive in order).
func (c *Cluster) onApply(d Document) {
	if !c.cfg.Server { // (not c.store: Raft replays its log before Open returns)
		c.doc.Store(&d)
	}
	if c.cfg.OnDocument != nil {
		c.cfg.OnDocument(d)
	}
	c.mu.Lock()
	close(c.applied)
	c.applied = make(chan struct{})
	c.mu.Unlock()
}

// storeReady answers 503 to a peer request that arrived before Raft
// opened, and reports whether the handler may go on (reading c.store).
func (c *Cluster) storeReady(w http.ResponseWriter) bool {
	if c.storeSet.Load() {
		return true
	}
	writeJSON(w, http.StatusServiceUnavailable, proposeResult{Error: "starting"})
	return false
}

// appliedCh is closed at the next apply.
func (c *Cluster) appliedCh() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.applied
}

// Ring returns the ring of live members across all regions; use
// Ring().Scope(region) for a region's.
func (c *Cluster) Ring() *ring.Ring { return c.ring.Load() }

// Members returns every member gossip knows, with its state.
func (c *Cluster) Members() []Member {
	if c.gossip == nil {
		return nil
	}
	return c.gossip.Members()
}

// Transport returns the authenticated peer transport for node-to-node
// requests (https://PEER_ADDR/...).
func (c *Cluster) Transport() http.RoundTripper { return c.client.Transport }

// Current returns the latest applied document (zero when none); on a
// non-server, the latest one its watch brought.
func (c *Cluster) Current() Document {
	if c.store == nil {
		return *c.doc.Load()
	}
	return c.store.Current()
}

// LeaderCh reports leadership changes of this node (nil for non-servers).
func (c *Cluster) LeaderCh() <-chan bool {
	if c.store == nil {
		return nil
	}
	return c.store.LeaderCh()
}

// SetKeys rotates the cluster keys on gossip and the peer transport.
func (c *Cluster) SetKeys(keys [][]byte) error {
	if err := c.gossip.SetKeys(keys); err != nil {
		return err
	}
	return c.creds.SetKeys(keys)
}

// Shutdown leaves the cluster gracefully and stops everything Start
// started, in reverse order. It is idempotent.
func (c *Cluster) Shutdown(ctx context.Context) error {
	var errs []error
	c.once.Do(func() {
		if c.gossip != nil {
			errs = append(errs, c.gossip.Shutdown(ctx))
		}
		close(c.stop)
		c.cancel()
		if c.store != nil {
			errs = append(errs, c.store.Shutdown(ctx))
		}
		if c.peer != nil {
			errs = append(errs, c.peer.Shutdown(ctx))
		}
		if c.client != nil {
			c.client.CloseIdleConnections()
		}
		c.wg.Wait()
	})
	return errors.Join(errs...)
}

// GossipAddr is this node's gossip address (what others join).
func (c *Cluster) GossipAddr() string { return c.gossip.GossipAddr() }
