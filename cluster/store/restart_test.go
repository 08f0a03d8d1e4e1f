package store

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// onDisk returns an option that stores each server's state in dirs[id].
func onDisk(dirs map[string]string) func(*Config) {
	return func(cfg *Config) {
		cfg.InMemory = false
		cfg.DataDir = dirs[cfg.ID]
	}
}

func tempDirs(t testing.TB, ids []string) map[string]string {
	dirs := map[string]string{}
	for _, id := range ids {
		dirs[id] = t.TempDir()
	}
	return dirs
}

// reopen restarts a stopped server from its DataDir on its old address,
// through the store's own stream transport (plain TCP here).
func (c *testCluster) reopen(id string, opts ...func(*Config)) *Store {
	c.t.Helper()
	var addr string
	for _, srv := range c.all {
		if srv.ID == id {
			addr = srv.Addr
		}
	}
	s := openStore(c.t, testConfig(id, append(opts, onTCP(c.t, addr))...))
	c.nodes[id] = s
	return s
}

func TestRestartFromDataDir_CatchesUp(t *testing.T) {
	ids := []string{"s1", "s2", "s3"}
	dirs := tempDirs(t, ids)
	c := startTCPCluster(t, ids, onDisk(dirs))
	l := c.leader(10 * time.Second)
	for range 3 {
		propose(t, l, "while all up")
	}
	f := c.follower(l).cfg.ID
	c.stop(f)
	propose(t, l, "while down 1")
	last := propose(t, l, "while down 2")

	s := c.reopen(f, onDisk(dirs))
	c.reconcileAll(nil)
	c.waitVersion(last.Version)
	if id, _ := s.Leader(); id != l.cfg.ID {
		t.Errorf("restarted server follows %q, want %q", id, l.cfg.ID)
	}
	c.waitVersion(propose(t, l, "after restart").Version)
}

func TestSnapshotCompaction_RestartRestores(t *testing.T) {
	ids := []string{"s1", "s2", "s3"}
	dirs := tempDirs(t, ids)
	small := func(cfg *Config) {
		cfg.SnapshotThreshold = 4
		cfg.SnapshotInterval = 20 * time.Millisecond
		cfg.Tune = func(rc *raft.Config) {
			fastRaft(rc)
			rc.TrailingLogs = 2
		}
	}
	c := startTCPCluster(t, ids, onDisk(dirs), small)
	l := c.leader(10 * time.Second)
	const writes = 20
	for i := range writes {
		propose(t, l, fmt.Sprintf("write %d", i)) // distinct: the same document makes no new version
	}
	c.waitVersion(writes)
	for id, s := range c.nodes {
		waitFor(t, 10*time.Second, id+" snapshotted and compacted", func() bool {
			snaps, err := s.st.snaps.List()
			first, err2 := s.st.logs.FirstIndex()
			return err == nil && err2 == nil && len(snaps) > 0 && first > 1
		})
	}
	for _, id := range ids {
		c.stop(id)
	}

	// Alone, s1 can't reach a leader: what Current shows comes from its
	// snapshot, restored during Open.
	want := latestSnapshotVersion(t, dirs["s1"])
	if want < 1 {
		t.Fatalf("s1's latest snapshot holds version %d, want >= 1", want)
	}
	s1 := c.reopen("s1", onDisk(dirs), small)
	if got := s1.Current().Version; got != want {
		t.Errorf("Current after reopening s1 alone = %d, want its snapshot's %d", got, want)
	}
	c.reopen("s2", onDisk(dirs), small)
	c.reopen("s3", onDisk(dirs), small)
	c.reconcileAll(nil)
	l = c.leader(10 * time.Second)
	c.waitVersion(writes) // snapshot plus the trailing log
	c.waitVersion(propose(t, l, "after full restart").Version)
}

// latestSnapshotVersion decodes the document version of the newest
// snapshot under dir.
func latestSnapshotVersion(t *testing.T, dir string) int64 {
	t.Helper()
	fs, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		t.Fatalf("NewFileSnapshotStore: %v", err)
	}
	metas, err := fs.List()
	if err != nil || len(metas) == 0 {
		t.Fatalf("List snapshots: %v (%d found)", err, len(metas))
	}
	_, rc, err := fs.Open(metas[0].ID)
	if err != nil {
		t.Fatalf("Open snapshot: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading snapshot: %v", err)
	}
	doc, err := decodeSnapshot(b)
	if err != nil {
		t.Fatalf("decoding snapshot: %v", err)
	}
	return doc.Version
}
