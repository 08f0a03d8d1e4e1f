//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// clusterView is what one node's `portico cluster status` printed.
type clusterView struct {
	asked    string            // the node that answered
	leader   string            // "" when it knows no leader
	versions map[string]string // node name → its CONFIG VERSION column ("?" if unknown)
	raw      string
}

// parseStatus reads the CLI's table:
//
//	leader: node3   term: 2   asked: node1
//	voters: [node1 node2 node3]
//	non-voters: []
//
//	NODE   REGION  STATE  RAFT      CONFIG VERSION
//	node1  docker  alive  Follower  1
func parseStatus(out string) (clusterView, error) {
	v := clusterView{versions: map[string]string{}, raw: out}
	lines := strings.Split(out, "\n")
	head := strings.Fields(lines[0])
	if len(head) < 2 || head[0] != "leader:" {
		return v, fmt.Errorf("cluster status: no leader line in:\n%s", out)
	}
	if head[1] != "none" {
		v.leader = head[1]
	}
	for i, f := range head {
		if f == "asked:" && i+1 < len(head) {
			v.asked = head[i+1]
		}
	}
	table := false
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		switch {
		case len(f) > 0 && f[0] == "NODE":
			table = true
		case table && len(f) >= 2:
			v.versions[f[0]] = f[len(f)-1]
		}
	}
	if !table {
		return v, fmt.Errorf("cluster status: no node table in:\n%s", out)
	}
	return v, nil
}

// agrees reports whether v knows a leader and shows every node of names
// serving config version want.
func (v clusterView) agrees(names []string, want int64) bool {
	if v.leader == "" {
		return false
	}
	for _, n := range names {
		if v.versions[n] != fmt.Sprint(want) {
			return false
		}
	}
	return true
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name       string
		out        string
		wantLeader string
		wantV      map[string]string
		wantErr    bool
	}{
		{
			name: "formed",
			out: "leader: node3   term: 2   asked: node1\nvoters: [node1 node2 node3]\nnon-voters: []\n\n" +
				"NODE   REGION  STATE  RAFT      CONFIG VERSION\nnode1  docker  alive  Follower  1\nnode3  docker  alive  Leader    1\n",
			wantLeader: "node3",
			wantV:      map[string]string{"node1": "1", "node3": "1"},
		},
		{
			name: "no leader, one node unreachable",
			out: "leader: none (no quorum?)   term: 4   asked: node2\nvoters: []\nnon-voters: []\n\n" +
				"NODE   REGION  STATE  RAFT  CONFIG VERSION\nnode1  docker  dead   ?\nnode2  docker  alive  Candidate  2\n",
			wantV: map[string]string{"node1": "?", "node2": "2"},
		},
		{name: "not a status", out: "portico: admin API at http://127.0.0.1:9901: refused", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatus(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStatus error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got.leader != tt.wantLeader {
				t.Errorf("leader = %q, want %q", got.leader, tt.wantLeader)
			}
			if fmt.Sprint(got.versions) != fmt.Sprint(tt.wantV) {
				t.Errorf("versions = %v, want %v", got.versions, tt.wantV)
			}
		})
	}
}
