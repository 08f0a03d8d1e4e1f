package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// BenchmarkProposeAppliedOnAll measures, per write, the time from calling
// Propose on the leader to OnApply having run on all 5 in-process nodes
// (real TCP transport on loopback), and reports p50 and p99. Run it with
// a fixed count, e.g.:
//
//	go test -run '^$' -bench ProposeAppliedOnAll -benchtime 200x ./cluster/store/
func BenchmarkProposeAppliedOnAll(b *testing.B) {
	cases := []struct {
		name   string
		voters int
		tune   func(*raft.Config)
	}{
		// Raft's default timings: followers learn the commit index from
		// the next AppendEntries, sent at most CommitTimeout (50ms) later.
		{"voters=3/raft-defaults", 3, nil},
		{"voters=5/raft-defaults", 5, nil},
		{"voters=3/commit-timeout=5ms", 3, func(c *raft.Config) { c.CommitTimeout = 5 * time.Millisecond }},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) { benchProposeAppliedOnAll(b, bc.voters, bc.tune) })
	}
}

type appliedAt struct {
	version int64
	at      time.Time
}

func benchProposeAppliedOnAll(b *testing.B, voters int, tune func(*raft.Config)) {
	ids := []string{"s1", "s2", "s3", "s4", "s5"}
	// Every node reports every apply here; the loop below drains all five
	// reports of one write before the next, so the buffer only needs one
	// write's worth, with room to spare.
	events := make(chan appliedAt, 4*len(ids))
	c := startTCPCluster(b, ids, func(cfg *Config) {
		cfg.Voters, cfg.Tune, cfg.ProposeTimeout = voters, tune, 10*time.Second
		cfg.OnApply = func(d Document) { events <- appliedAt{d.Version, time.Now()} }
	})
	l := c.leader(30 * time.Second)
	waitFor(b, 30*time.Second, "all 5 servers in the configuration", func() bool {
		st := l.Status()
		return len(st.Voters) == voters && len(st.Voters)+len(st.NonVoters) == len(ids)
	})
	// write returns how long Propose took (the leader's acknowledgement)
	// and how long until the last node applied the write.
	write := func(i int) (ack, all time.Duration) {
		start := time.Now()
		doc, err := l.Propose(context.Background(), fmt.Appendf(nil, "config %d", i), 0)
		if err != nil {
			b.Fatalf("Propose: %v", err)
		}
		ack = time.Since(start)
		var last time.Time
		for range ids {
			e := <-events
			if e.version != doc.Version {
				b.Fatalf("applied version %d, want %d", e.version, doc.Version)
			}
			if e.at.After(last) {
				last = e.at
			}
		}
		return ack, last.Sub(start)
	}
	write(-1) // warm up connections and pipelines

	acks := make([]time.Duration, 0, b.N)
	alls := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		ack, all := write(i)
		acks, alls = append(acks, ack), append(alls, all)
	}
	b.StopTimer()
	b.ReportMetric(percentileMS(alls, 0.50), "all-applied-p50-ms")
	b.ReportMetric(percentileMS(alls, 0.99), "all-applied-p99-ms")
	b.ReportMetric(percentileMS(acks, 0.50), "ack-p50-ms")
	b.ReportMetric(percentileMS(acks, 0.99), "ack-p99-ms")
}

// percentileMS returns the p-th percentile (0..1) of ds, in milliseconds.
func percentileMS(ds []time.Duration, p float64) float64 {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
}
