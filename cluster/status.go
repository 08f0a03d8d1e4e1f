package cluster

import (
	"context"
	"encoding/json"
	"github.com/portico-gw/portico/cluster/membership"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// NodeStatus is one member's view of itself, gathered over the peer
// transport.
type NodeStatus struct {
	Name          string `json:"name"`
	Region        string `json:"region"`
	State         string `json:"state"`
	Server        bool   `json:"server"`
	RaftState     string `json:"raft_state,omitempty"`
	ConfigVersion int64  `json:"config_version"`
	EdgeAddr      string `json:"edge_addr,omitempty"`
	AdminAddr     string `json:"admin_addr,omitempty"`
	Error         string `json:"error,omitempty"`
}

// Status is the cluster as this node sees it.
type Status struct {
	Node      string       `json:"node"`
	Leader    string       `json:"leader"`
	Term      uint64       `json:"term"`
	Voters    []string     `json:"voters"`
	NonVoters []string     `json:"non_voters"`
	Nodes     []NodeStatus `json:"nodes"`
}

// Status asks every live member for its state (2 s each, in parallel).
func (c *Cluster) Status(ctx context.Context) Status {
	st := Status{Node: c.cfg.Name}
	if c.store != nil {
		rs := c.store.Status()
		st.Leader, st.Term = rs.LeaderID, rs.Term
		for _, v := range rs.Voters {
			st.Voters = append(st.Voters, v.ID)
		}
		for _, v := range rs.NonVoters {
			st.NonVoters = append(st.NonVoters, v.ID)
		}
	}
	members := c.Members()
	st.Nodes = make([]NodeStatus, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		st.Nodes[i] = NodeStatus{Name: m.Name, Region: m.Region, State: m.State.String(), Server: m.Server,
			EdgeAddr: m.EdgeAddr, AdminAddr: m.AdminAddr, ConfigVersion: -1}
		if m.State != membership.Alive || m.PeerAddr == "" {
			continue
		}
		wg.Add(1)
		go func(ns *NodeStatus, addr string) {
			defer wg.Done()
			c.askNode(ctx, ns, addr)
		}(&st.Nodes[i], m.PeerAddr)
	}
	wg.Wait()
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].Name < st.Nodes[j].Name })
	return st
}

func (c *Cluster) askNode(ctx context.Context, ns *NodeStatus, addr string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/cluster/v1/node", nil)
	res, err := c.client.Do(req)
	if err != nil {
		ns.Error = "unreachable"
		return
	}
	defer res.Body.Close()
	var self NodeStatus
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<16)).Decode(&self); err != nil {
		ns.Error = "bad answer"
		return
	}
	ns.RaftState, ns.ConfigVersion = self.RaftState, self.ConfigVersion
	if self.Error != "" {
		ns.Error = self.Error // e.g. why its Raft stopped
	}
}

// self describes this node for /cluster/v1/node.
func (c *Cluster) self() NodeStatus {
	ns := NodeStatus{Name: c.cfg.Name, Region: c.cfg.Region, State: "alive", Server: c.cfg.Server, ConfigVersion: -1}
	if c.storeSet.Load() && c.store != nil { // (served before Raft opens)
		st := c.store.Status()
		ns.RaftState, ns.Error = st.State, st.Stopped
	}
	if c.cfg.AppliedVersion != nil {
		ns.ConfigVersion = c.cfg.AppliedVersion()
	}
	return ns
}

// peerMux serves the cluster's peer RPCs and hands the rest to the node.
func (c *Cluster) peerMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cluster/v1/propose", c.handlePropose)
	mux.HandleFunc("GET "+documentPath, c.handleDocument)
	mux.HandleFunc("GET /cluster/v1/node", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.self())
	})
	if c.cfg.PeerHandler != nil {
		mux.Handle("/", c.cfg.PeerHandler)
	}
	return mux
}
