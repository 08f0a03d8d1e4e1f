package limiter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// quotaTable holds the quota counters this node keeps as owner or
// replica. It is not bounded by MaxKeys: a counter lives until its
// period ends (one per consumer and quota), so that no unit is lost to
// eviction. Safe for concurrent use.
type quotaTable struct {
	dir string

	mu sync.Mutex
	m  map[skey]*quotaEntry
}

type quotaEntry struct {
	p         policy
	s         slot
	fileDirty bool // changed since the last write to dir
	replDirty bool // changed since the last push to the replica
}

// quotaFile is the file's format: DataDir/quotas.json.
type quotaFile struct {
	Version int         `json:"version"`
	Quotas  []wireQuota `json:"quotas"`
}

// wireQuota is one counter, in files and on the wire.
type wireQuota struct {
	Key    string `json:"key"`
	Quota  Quota  `json:"quota"`
	Start  int64  `json:"start"` // the period's start, Unix ns
	Used   int64  `json:"used"`
	Delete bool   `json:"delete,omitempty"`
}

const quotaFileName = "quotas.json"

func newQuotaTable(dir string) *quotaTable {
	return &quotaTable{dir: dir, m: make(map[skey]*quotaEntry)}
}

// entry returns k's entry, created from base (or fresh) when missing,
// and moved to the period holding now.
func (t *quotaTable) entry(k skey, p policy, now int64, base *slot) *quotaEntry {
	e := t.m[k]
	if e == nil {
		e = &quotaEntry{}
		if base != nil {
			e.s = *base
		}
		t.m[k] = e
	}
	e.p = p
	e.s = currentPeriod(e.s, p, now)
	return e
}

func (t *quotaTable) apply(k skey, p policy, cost, now int64, base *slot) Decision {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entry(k, p, now, base)
	s, d := applyQuota(e.s, p, cost, now)
	if d.Allowed {
		e.s, e.fileDirty, e.replDirty = s, true, true
	}
	return d
}

func (t *quotaTable) force(k skey, p policy, cost, now int64, base *slot) slot {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entry(k, p, now, base)
	e.s = force(e.s, p, cost, now)
	e.fileDirty, e.replDirty = true, true
	return e.s
}

// set replaces k's counter (a replica receiving its owner's, or a
// reset).
func (t *quotaTable) set(k skey, p policy, s slot, replicate bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[k] = &quotaEntry{p: p, s: s, fileDirty: true, replDirty: replicate}
}

func (t *quotaTable) get(k skey) (slot, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.m[k]; e != nil {
		return e.s, true
	}
	return slot{}, false
}

func (t *quotaTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// takeReplicas returns the counters changed since the last call and
// clears their marks.
func (t *quotaTable) takeReplicas() []wireQuota {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []wireQuota
	for k, e := range t.m {
		if e.replDirty {
			e.replDirty = false
			out = append(out, toWire(k, e))
		}
	}
	return out
}

func toWire(k skey, e *quotaEntry) wireQuota {
	return wireQuota{Key: k.key, Quota: Quota{Name: e.p.name, Count: e.p.count, Period: e.p.window.String()},
		Start: e.s.A, Used: e.s.B}
}

// save writes every live counter to dir (when something changed) by
// writing a temporary file, syncing it and renaming it over the old
// one, so a crash leaves the old file or the new one. Counters whose
// period has ended are dropped.
func (t *quotaTable) save(now int64) error {
	if t.dir == "" {
		return nil
	}
	t.mu.Lock()
	dirty := false
	f := quotaFile{Version: 1, Quotas: make([]wireQuota, 0, len(t.m))}
	for k, e := range t.m {
		if e.p.window.end(e.s.A) <= now {
			delete(t.m, k)
			dirty = true
			continue
		}
		dirty = dirty || e.fileDirty
		e.fileDirty = false
		f.Quotas = append(f.Quotas, toWire(k, e))
	}
	t.mu.Unlock()
	if !dirty {
		return nil
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode quotas: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(t.dir, quotaFileName), b); err != nil {
		t.markAllDirty()
		return err
	}
	return nil
}

func (t *quotaTable) markAllDirty() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.m {
		e.fileDirty = true
	}
}

// load reads dir's file, if any, keeping the counters of current
// periods.
func (t *quotaTable) load(now int64) error {
	if t.dir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(t.dir, quotaFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var f quotaFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("decode %s: %w", quotaFileName, err)
	}
	if f.Version != 1 {
		return fmt.Errorf("%s has version %d, want 1", quotaFileName, f.Version)
	}
	for _, q := range f.Quotas {
		p, err := compileQuota(q.Quota)
		if err != nil {
			return fmt.Errorf("%s: %w", quotaFileName, err)
		}
		s := slot{A: q.Start, B: q.Used}
		if p.window.end(s.A) > now {
			t.set(skey{p.name, q.Key, tagLocal}, p, s, true)
		}
	}
	return nil
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".quotas-*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary quota file: %w", err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// markReplicas marks counters whose push failed, to be sent again.
func (t *quotaTable) markReplicas(ws []wireQuota) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range ws {
		if e := t.m[skey{w.Quota.Name, w.Key, tagLocal}]; e != nil {
			e.replDirty = true
		}
	}
}
