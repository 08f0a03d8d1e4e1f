package admin

import (
	"context"
	"net/http"

	"github.com/portico-gw/portico/problem"
)

// Member is one node of the cluster, as GET /cluster/members lists it.
type Member struct {
	Name      string `json:"name"`
	Region    string `json:"region"`
	Zone      string `json:"zone,omitempty"`
	State     string `json:"state"`
	Server    bool   `json:"server"`
	Version   string `json:"version,omitempty"`
	Gossip    string `json:"gossip_addr"`
	EdgeAddr  string `json:"edge_addr,omitempty"`
	AdminAddr string `json:"admin_addr,omitempty"`
}

// Cluster reads the cluster this node belongs to. ok is false while the
// node is not clustered (its config has no node.cluster section, or it
// has not joined yet): the answer is not-clustered.
type Cluster interface {
	// Members lists the members gossip knows, this node included.
	Members() (members []Member, ok bool)
	// Status is the cluster's status as GET /cluster/status encodes it
	// (JSON, as is).
	Status(ctx context.Context) (status any, ok bool)
}

func (a *api) members(w http.ResponseWriter, r *http.Request) {
	var ms []Member
	ok := false
	if a.o.Cluster != nil {
		ms, ok = a.o.Cluster.Members()
	}
	if !ok {
		problem.Write(w, problem.NotClustered, "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": ms})
}

func (a *api) clusterStatus(w http.ResponseWriter, r *http.Request) {
	var st any
	ok := false
	if a.o.Cluster != nil {
		st, ok = a.o.Cluster.Status(r.Context())
	}
	if !ok {
		problem.Write(w, problem.NotClustered, "")
		return
	}
	writeJSON(w, http.StatusOK, st)
}
