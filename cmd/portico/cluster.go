package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
)

func cmdMembers(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("portico members", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := adminFlags(fs)
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	c, err := client()
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 1
	}
	body, _, err := c.do("GET", "/cluster/members", nil, nil)
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 1
	}
	var out struct {
		Members []struct {
			Name, Region, State, Version, Gossip_addr, Edge_addr, Admin_addr string
			Server                                                           bool
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		fmt.Fprintf(stderr, "portico: bad answer: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREGION\tSTATE\tROLE\tGOSSIP\tEDGE\tADMIN\tVERSION")
	for _, m := range out.Members {
		role := "client"
		if m.Server {
			role = "server"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Region, m.State, role, m.Gossip_addr, m.Edge_addr, m.Admin_addr, m.Version)
	}
	tw.Flush()
	return 0
}

func cmdCluster(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "status" {
		fmt.Fprintln(stderr, "portico cluster: status")
		return 2
	}
	fs := flag.NewFlagSet("portico cluster status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := adminFlags(fs)
	if code, stop := parseFlags(fs, args[1:]); stop {
		return code
	}
	c, err := client()
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 1
	}
	body, _, err := c.do("GET", "/cluster/status", nil, nil)
	if err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 1
	}
	var st struct {
		Node, Leader      string
		Term              uint64
		Voters, NonVoters []string `json:"-"`
		V                 []string `json:"voters"`
		NV                []string `json:"non_voters"`
		Nodes             []struct {
			Name, Region, State, Raft_state, Error string
			Config_version                         int64
		}
	}
	if err := json.Unmarshal(body, &st); err != nil {
		fmt.Fprintf(stderr, "portico: bad answer: %v\n", err)
		return 1
	}
	leader := st.Leader
	if leader == "" {
		leader = "none (no quorum?)"
	}
	fmt.Fprintf(stdout, "leader: %s   term: %d   asked: %s\nvoters: %v\nnon-voters: %v\n\n", leader, st.Term, st.Node, st.V, st.NV)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tREGION\tSTATE\tRAFT\tCONFIG VERSION")
	for _, n := range st.Nodes {
		v := fmt.Sprint(n.Config_version)
		if n.Config_version < 0 {
			v = "?"
		}
		raft := n.Raft_state
		if n.Error != "" {
			raft = n.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Name, n.Region, n.State, raft, v)
	}
	tw.Flush()
	return 0
}

func cmdKeygen(stdout, stderr io.Writer) int {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		fmt.Fprintf(stderr, "portico: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(k))
	return 0
}
