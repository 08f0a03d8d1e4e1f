package membership

import (
	"context"
	"net"
	"strconv"
	"time"
)

// joinAndReconnect is the join goroutine: it joins through the seeds
// (if any), then keeps reconnecting to members seen dead until Shutdown
// cancels ctx.
func (m *Membership) joinAndReconnect(ctx context.Context) {
	defer close(m.joinDone)
	if len(m.cfg.Join) == 0 {
		m.joinedOnce.Do(func() { close(m.joined) })
	} else {
		m.joinSeeds(ctx)
	}
	m.reconnect(ctx)
}

// reconnect retries, every ReconnectInterval (jittered), the gossip
// addresses of members marked dead (not those that left). memberlist never
// contacts a dead member again, so after a partition longer than its
// suspicion timeouts both sides would stay split forever; a join to the
// far side's address exchanges full state and the wrongly-dead nodes
// refute it (serf's reconnect loop does the same).
func (m *Membership) reconnect(ctx context.Context) {
	for {
		d := m.cfg.ReconnectInterval
		timer := time.NewTimer(d/2 + time.Duration(m.cfg.Rand.Int64N(int64(d/2)+1)))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		var addrs []string
		for _, mem := range m.table.snapshot() {
			if mem.State == Dead && mem.Addr != "" {
				addrs = append(addrs, mem.Addr)
			}
		}
		if len(addrs) == 0 {
			continue
		}
		n, err := m.list.Join(addrs)
		if n > 0 {
			m.logger.Info("gossip: reconnected to members seen dead", "answered", n, "tried", len(addrs))
		} else {
			m.logger.Debug("gossip: dead members still unreachable", "tried", len(addrs), "err", err)
		}
	}
}

// joinSeeds tries every seed each round, waits with jittered exponential
// backoff between rounds, and returns once one seed answers or Shutdown
// cancels ctx.
func (m *Membership) joinSeeds(ctx context.Context) {
	backoff := m.cfg.JoinBackoff
	reported := make(map[string]bool) // causes already logged above Debug
	for {
		if m.joinRound(ctx, reported) {
			m.joinedOnce.Do(func() { close(m.joined) })
			return
		}
		wait := backoff/2 + time.Duration(m.cfg.Rand.Int64N(int64(backoff/2)+1))
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		backoff = min(2*backoff, m.cfg.JoinMaxBackoff)
	}
}

// joinRound tries each seed address once and reports whether this node is
// now joined: at least one seed answered, or the seeds named only this node
// (it is the cluster's first member).
func (m *Membership) joinRound(ctx context.Context, reported map[string]bool) bool {
	contacted, others := 0, 0
	for _, seed := range m.cfg.Join {
		addrs, err := m.resolveSeed(ctx, seed)
		if err != nil {
			m.logger.Debug("gossip: cannot resolve seed", "seed", seed, "err", err)
			others++ // a seed we can't resolve may be another node
			continue
		}
		for _, addr := range addrs {
			if ctx.Err() != nil {
				return false
			}
			if m.isSelf(addr) {
				continue
			}
			others++
			if _, err := m.list.Join([]string{addr}); err != nil {
				m.reportJoinFailure(seed, addr, err, reported)
				continue
			}
			contacted++
		}
	}
	if contacted == 0 && others > 0 {
		return false
	}
	m.logger.Info("gossip: joined the cluster", "seeds_answered", contacted, "members", m.list.NumMembers())
	return true
}

// reportJoinFailure logs one failed join at Debug, and a wrong gossip key
// once at Error: retrying can't fix it, and it is the one mistake an
// operator must hear about.
func (m *Membership) reportJoinFailure(seed, addr string, err error, reported map[string]bool) {
	m.logger.Debug("gossip: join attempt failed", "seed", seed, "addr", addr, "err", err)
	if !isEncryptionError(err.Error()) || reported["key"] {
		return
	}
	reported["key"] = true
	m.logger.Error("gossip: cannot join "+seed+": the cluster refused our messages — the gossip key differs (check cluster.gossip_key)",
		"addr", addr, "detail", err.Error())
}

// resolveSeed turns host:port into ip:port addresses, one per address the
// host resolves to. A missing port means this node's own gossip port.
func (m *Membership) resolveSeed(ctx context.Context, seed string) ([]string, error) {
	host, port, err := splitAddr(seed, m.bindPort)
	if err != nil {
		return nil, err
	}
	p := strconv.Itoa(port)
	if net.ParseIP(host) != nil {
		return []string{net.JoinHostPort(host, p)}, nil
	}
	ips, err := m.cfg.LookupHost(ctx, host)
	if err != nil {
		return nil, err
	}
	addrs := make([]string, 0, len(ips))
	for _, ip := range ips {
		addrs = append(addrs, net.JoinHostPort(ip, p))
	}
	return addrs, nil
}

// isSelf reports whether addr is this node's own gossip address, which a
// shared seed list usually contains: joining ourselves would "succeed"
// without reaching anyone.
func (m *Membership) isSelf(addr string) bool {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	port, _ := strconv.Atoi(p)
	if ip == nil {
		return false
	}
	if port == m.advertisePort && ip.Equal(m.advertiseIP) {
		return true
	}
	if port != m.bindPort {
		return false
	}
	if !m.bindIP.IsUnspecified() {
		return ip.Equal(m.bindIP)
	}
	return ip.IsLoopback() || isLocalIP(ip)
}

// isLocalIP reports whether ip belongs to one of this host's interfaces.
func isLocalIP(ip net.IP) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
