package membership

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrShutdown is returned by methods called after Shutdown.
var ErrShutdown = errors.New("membership: shut down")

// Membership is this node's view of the cluster: a running memberlist, the
// join goroutine and the goroutine that delivers changes. Create it with
// New and stop it with Shutdown.
type Membership struct {
	cfg     Config // defaulted
	logger  *slog.Logger
	list    *memberlist.Memberlist
	keyring *memberlist.Keyring // nil when gossip is unencrypted
	keyMu   sync.Mutex          // serializes SetKeys and Keys

	bindIP        net.IP
	bindPort      int
	advertiseIP   net.IP
	advertisePort int
	gossipAddr    string

	metaMu  sync.Mutex
	meta    Meta
	encoded []byte // meta as gossiped, with the leaving flag

	table *table
	queue *eventQueue

	joined     chan struct{} // closed once joined
	joinedOnce sync.Once
	stopJoin   context.CancelFunc
	joinDone   chan struct{}
	stopEvents chan struct{}
	eventsDone chan struct{}
	closed     atomic.Bool
}

// New starts gossip on cfg.BindAddr, then the goroutine that delivers
// changes and, if cfg.Join lists seeds, the one that joins through them.
// It returns once gossip is listening, without waiting to join (see
// Joined).
func New(cfg Config) (*Membership, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Membership{
		cfg: cfg, logger: cfg.Logger, meta: cfg.Meta,
		table: newTable(), queue: newEventQueue(),
		joined: make(chan struct{}), joinDone: make(chan struct{}),
		stopEvents: make(chan struct{}), eventsDone: make(chan struct{}),
	}
	m.encoded, _ = encodeMeta(cfg.Meta, false) // checked by validate
	if err := m.start(); err != nil {
		return nil, err
	}
	if len(cfg.Keys) == 0 {
		m.logger.Warn("gossip: unencrypted — anyone who can reach " + m.gossipAddr + " can join and read membership; set cluster.gossip_key outside development")
	}
	go m.deliverChanges()
	joinCtx, stop := context.WithCancel(context.Background())
	m.stopJoin = stop
	go m.joinAndReconnect(joinCtx)
	return m, nil
}

// start binds the transport and creates the memberlist.
func (m *Membership) start() error {
	bridge := newLogBridge(m.logger, func(name string) {
		m.queue.push(event{kind: evSuspect, name: name})
	})
	mlog := log.New(bridge, "", 0)
	nt, err := m.listen(mlog)
	if err != nil {
		return err
	}
	if err := m.advertise(nt); err != nil {
		_ = nt.Shutdown()
		return err
	}
	mc := m.cfg.memberlistConfig()
	if m.cfg.LeaveTimeout <= 0 {
		m.cfg.LeaveTimeout = min(max(10*mc.GossipInterval, time.Second), 5*time.Second)
	}
	mc.Transport = nt
	mc.BindAddr, mc.BindPort = m.bindIP.String(), m.bindPort
	mc.AdvertiseAddr, mc.AdvertisePort = m.advertiseIP.String(), m.advertisePort
	mc.Logger = mlog
	d := &delegate{queue: m.queue, meta: m.encodedMeta}
	mc.Events, mc.Delegate, mc.Alive, mc.Ping = d, d, d, d
	m.keyring = mc.Keyring
	list, err := memberlist.Create(mc)
	if err != nil {
		_ = nt.Shutdown()
		return fmt.Errorf("starting gossip on %s: %w", m.gossipAddr, err)
	}
	m.list = list
	return nil
}

// listen binds the gossip port (TCP and UDP). With port 0 the kernel picks
// a TCP port that UDP may find taken, so that case retries, as memberlist
// itself does.
func (m *Membership) listen(mlog *log.Logger) (*memberlist.NetTransport, error) {
	host, port, err := splitAddr(m.cfg.BindAddr, defaultGossipPort)
	if err != nil {
		return nil, fmt.Errorf("gossip bind address: %w", err)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, fmt.Errorf("gossip bind address %q: want an IP address, not a host name", m.cfg.BindAddr)
	}
	tries := 1
	if port == 0 {
		tries = 10
	}
	nc := &memberlist.NetTransportConfig{BindAddrs: []string{ip.String()}, BindPort: port, Logger: mlog}
	for range tries {
		var nt *memberlist.NetTransport
		if nt, err = memberlist.NewNetTransport(nc); err == nil {
			m.bindIP, m.bindPort = ip, nt.GetAutoBindPort()
			return nt, nil
		}
	}
	return nil, fmt.Errorf("binding gossip to %s: %w", m.cfg.BindAddr, err)
}

// advertise settles the address other nodes dial, the way memberlist
// will: the configured one, or the bound one (a private address when
// bound to all interfaces).
func (m *Membership) advertise(nt *memberlist.NetTransport) error {
	host, port := "", 0
	if m.cfg.AdvertiseAddr != "" {
		h, p, err := splitAddr(m.cfg.AdvertiseAddr, 0)
		if err != nil {
			return fmt.Errorf("gossip advertise address: %w", err)
		}
		if host, err = m.resolveOne(h); err != nil {
			return fmt.Errorf("gossip advertise address %q: %w", m.cfg.AdvertiseAddr, err)
		}
		port = p
	}
	if port == 0 {
		port = m.bindPort
	}
	if host == "" && m.bindIP.IsUnspecified() && m.bindIP.To4() == nil {
		return fmt.Errorf("gossip bound to %s: set an advertise address", m.cfg.BindAddr)
	}
	ip, port, err := nt.FinalAdvertiseAddr(host, port)
	if err != nil {
		return fmt.Errorf("gossip advertise address: %w", err)
	}
	m.advertiseIP, m.advertisePort = ip, port
	m.gossipAddr = net.JoinHostPort(ip.String(), strconv.Itoa(port))
	return nil
}

// resolveOne returns host if it is an IP address, else its first address.
func (m *Membership) resolveOne(host string) (string, error) {
	if host == "" || net.ParseIP(host) != nil {
		return host, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.BroadcastTimeout)
	defer cancel()
	ips, err := m.cfg.LookupHost(ctx, host)
	if err != nil {
		return "", err
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("%s resolves to no address", host)
	}
	return ips[0], nil
}

// deliverChanges is the event goroutine: it applies memberlist's events to
// the table in order and calls OnChange after each one that changed it. It
// also drops members dead for longer than DeadRetention.
func (m *Membership) deliverChanges() {
	defer close(m.eventsDone)
	reap := time.NewTicker(min(max(m.cfg.DeadRetention/4, 10*time.Millisecond), time.Hour))
	defer reap.Stop()
	for {
		select {
		case <-m.stopEvents:
			return
		case <-m.queue.wake:
			for _, e := range m.queue.take() {
				if m.table.apply(e, m.cfg.Now(), m.logger) {
					m.changed()
				}
			}
		case <-reap.C:
			if m.table.reap(m.cfg.Now().Add(-m.cfg.DeadRetention)) {
				m.changed()
			}
		}
	}
}

func (m *Membership) changed() {
	if m.cfg.OnChange != nil {
		m.cfg.OnChange(m.table.snapshot())
	}
}

// Members returns a copy of all members this node knows, itself included,
// sorted by name: alive, suspect, and dead or left within DeadRetention.
// It reflects the changes OnChange has been called with (or is about to be).
func (m *Membership) Members() []Member { return m.table.snapshot() }

// Local returns this node as a member.
func (m *Membership) Local() Member {
	if self, ok := m.table.get(m.cfg.Meta.Name); ok {
		return self
	}
	// The event goroutine hasn't recorded memberlist's first event yet.
	m.metaMu.Lock()
	defer m.metaMu.Unlock()
	return Member{Meta: m.meta, Addr: m.gossipAddr, State: Alive}
}

// GossipAddr returns the gossip host:port other nodes dial: the advertise
// address, or the bound one with the real port when bound to port 0.
func (m *Membership) GossipAddr() string { return m.gossipAddr }

// Joined returns a channel closed once a seed has answered, or at once
// when there are no seeds (or they name only this node). It stays open if
// Shutdown comes first.
func (m *Membership) Joined() <-chan struct{} { return m.joined }

// encodedMeta is the delegate's source of this node's gossiped metadata.
func (m *Membership) encodedMeta() []byte {
	m.metaMu.Lock()
	defer m.metaMu.Unlock()
	return m.encoded
}
