package store

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

func applyEntry(f *fsm, index uint64, data []byte) any {
	return f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: data})
}

func TestFSM_SetDocument(t *testing.T) {
	type step struct {
		ifVersion    int64
		wantVersion  int64 // when the write applies
		wantConflict int64 // >= 0 when it conflicts: the current version reported
	}
	const applies = -1
	tests := []struct {
		name  string
		steps []step
	}{
		{"unconditional writes count up", []step{{0, 1, applies}, {0, 2, applies}, {0, 3, applies}}},
		{"only-if-empty seeds version 1", []step{{-1, 1, applies}, {-1, 0, 1}}},
		{"only-if-empty after a write conflicts", []step{{0, 1, applies}, {-1, 0, 1}}},
		{"compare-and-set on the current version", []step{{0, 1, applies}, {1, 2, applies}, {2, 3, applies}}},
		{"compare-and-set on a stale version", []step{{0, 1, applies}, {0, 2, applies}, {1, 0, 2}}},
		{"compare-and-set on an empty store", []step{{1, 0, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log appliedLog
			f := newFSM(log.onApply, testLogger(), nil)
			var wantApplied []int64
			for i, st := range tt.steps {
				data := []byte{byte('a' + i)}
				got := applyEntry(f, uint64(i+1), encodeSetDocument(data, st.ifVersion))
				if st.wantConflict >= 0 {
					var ce *ConflictError
					if !errors.As(got.(error), &ce) || ce.Current != st.wantConflict {
						t.Fatalf("step %d: got %v, want conflict at %d", i, got, st.wantConflict)
					}
					continue
				}
				doc, ok := got.(Document)
				if !ok || doc.Version != st.wantVersion || !bytes.Equal(doc.Data, data) {
					t.Fatalf("step %d: got %#v, want version %d data %q", i, got, st.wantVersion, data)
				}
				wantApplied = append(wantApplied, st.wantVersion)
				if cur := f.current(); cur.Version != st.wantVersion {
					t.Fatalf("step %d: current version %d, want %d", i, cur.Version, st.wantVersion)
				}
			}
			if got := log.versions(); !slices.Equal(got, wantApplied) {
				t.Errorf("OnApply versions = %v, want %v", got, wantApplied)
			}
		})
	}
}

func TestFSM_CopiesEntryData(t *testing.T) {
	f := newFSM(nil, testLogger(), nil)
	entry := encodeSetDocument([]byte("abc"), 0)
	applyEntry(f, 1, entry)
	entry[len(entry)-1] = 'X' // the log store reusing its buffer
	if got := string(f.current().Data); got != "abc" {
		t.Errorf("document data = %q after the entry buffer changed, want %q", got, "abc")
	}
}

func TestFSM_UnknownCommands(t *testing.T) {
	tests := []struct {
		name     string
		data     []byte
		wantStop bool
	}{
		{"unknown type stops", []byte{0x7f, 1, 2}, true},
		{"empty entry stops", []byte{}, true},
		{"unknown type with the ignore flag is skipped", []byte{0x80 | 0x7f, 1, 2}, false},
		{"ignore flag alone is skipped", []byte{0x80}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stops []*StoppedError
			f := newFSM(nil, testLogger(), func(st *StoppedError) { stops = append(stops, st) })
			applyEntry(f, 1, encodeSetDocument([]byte("keep"), 0))
			got := applyEntry(f, 2, tt.data) // must not panic
			after := applyEntry(f, 3, encodeSetDocument([]byte("later"), 0))
			if !tt.wantStop {
				if got != nil || len(stops) != 0 {
					t.Errorf("Apply = %v (stops %v), want nil", got, stops)
				}
				if d, ok := after.(Document); !ok || d.Version != 2 {
					t.Errorf("the next write = %v, want version 2", after)
				}
				return
			}
			var st *StoppedError
			if err, _ := got.(error); !errors.As(err, &st) || st.Index != 2 || st.Version != 1 || !errors.Is(err, ErrStopped) {
				t.Fatalf("Apply = %v, want a StoppedError at index 2, version 1", got)
			}
			if len(stops) != 1 {
				t.Errorf("onStop called %d times, want once", len(stops))
			}
			// Stopped for good: later entries are refused, not applied.
			if err, _ := after.(error); !errors.Is(err, ErrStopped) {
				t.Errorf("Apply after the stop = %v, want ErrStopped", after)
			}
			if cur := f.current(); cur.Version != 1 || string(cur.Data) != "keep" {
				t.Errorf("document = %+v, want version 1 %q", cur, "keep")
			}
		})
	}
}

func TestFSM_MalformedPayloadChangesNothing(t *testing.T) {
	f := newFSM(nil, testLogger(), nil)
	got := applyEntry(f, 1, []byte{byte(cmdSetDocument), 0, 0})
	if _, ok := got.(error); !ok {
		t.Fatalf("Apply(short payload) = %v, want an error", got)
	}
	if v := f.current().Version; v != 0 {
		t.Errorf("version = %d, want 0", v)
	}
}

// memSink is a raft.SnapshotSink in memory; failWrite makes Write fail.
type memSink struct {
	bytes.Buffer
	failWrite         bool
	closed, cancelled bool
}

func (s *memSink) Write(p []byte) (int, error) {
	if s.failWrite {
		return 0, errors.New("disk full")
	}
	return s.Buffer.Write(p)
}
func (s *memSink) ID() string        { return "mem" }
func (s *memSink) Close() error      { s.closed = true; return nil }
func (s *memSink) Cancel() error     { s.cancelled = true; return nil }
func (s *memSink) Reader() io.Reader { return bytes.NewReader(s.Bytes()) }

func TestFSM_SnapshotRestore(t *testing.T) {
	src := newFSM(nil, testLogger(), nil)
	for i := range 3 {
		applyEntry(src, uint64(i+1), encodeSetDocument([]byte(strings.Repeat("x", i+1)), 0))
	}
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	// A write after Snapshot must not leak into it.
	applyEntry(src, 4, encodeSetDocument([]byte("later"), 0))
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatalf("Persist: %v", err)
	}
	if !sink.closed || sink.cancelled {
		t.Errorf("sink closed=%v cancelled=%v, want closed only", sink.closed, sink.cancelled)
	}

	var log appliedLog
	dst := newFSM(log.onApply, testLogger(), nil)
	applyEntry(dst, 1, encodeSetDocument([]byte("replaced"), 0))
	if err := dst.Restore(io.NopCloser(sink.Reader())); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if cur := dst.current(); cur.Version != 3 || string(cur.Data) != "xxx" {
		t.Errorf("restored document = %+v, want version 3 %q", cur, "xxx")
	}
	if got, want := log.versions(), []int64{1, 3}; !slices.Equal(got, want) {
		t.Errorf("OnApply versions = %v, want %v (the write, then the restore)", got, want)
	}
}

func TestFSM_PersistCancelsOnError(t *testing.T) {
	f := newFSM(nil, testLogger(), nil)
	applyEntry(f, 1, encodeSetDocument([]byte("doc"), 0))
	snap, _ := f.Snapshot()
	sink := &memSink{failWrite: true}
	if err := snap.Persist(sink); err == nil {
		t.Fatal("Persist on a failing sink: got nil error")
	}
	if !sink.cancelled || sink.closed {
		t.Errorf("sink closed=%v cancelled=%v, want cancelled only", sink.closed, sink.cancelled)
	}
}

func TestFSM_RestoreRejectsGarbage(t *testing.T) {
	f := newFSM(nil, testLogger(), nil)
	applyEntry(f, 1, encodeSetDocument([]byte("doc"), 0))
	if err := f.Restore(io.NopCloser(strings.NewReader("garbage"))); err == nil {
		t.Fatal("Restore(garbage): got nil error")
	}
	if cur := f.current(); cur.Version != 1 {
		t.Errorf("version after a failed restore = %d, want 1", cur.Version)
	}
}

// TestFSM_SameDocumentIsIdempotent: an unconditional write of the current
// document makes no new version and calls no OnApply (a retried or late
// PUT can't stack versions); a compare-and-set of it, or another
// document, still does.
func TestFSM_SameDocumentIsIdempotent(t *testing.T) {
	var log appliedLog
	f := newFSM(log.onApply, testLogger(), nil)
	steps := []struct {
		data        string
		ifVersion   int64
		wantVersion int64
	}{
		{"a", 0, 1},
		{"a", 0, 1}, // the same: no new version
		{"a", 1, 2}, // compare-and-set: an explicit new version
		{"b", 0, 3},
		{"b", 0, 3},
		{"a", 0, 4},
	}
	for i, st := range steps {
		got := applyEntry(f, uint64(i+1), encodeSetDocument([]byte(st.data), st.ifVersion))
		doc, ok := got.(Document)
		if !ok || doc.Version != st.wantVersion || string(doc.Data) != st.data {
			t.Fatalf("step %d: got %#v, want version %d of %q", i, got, st.wantVersion, st.data)
		}
	}
	if got, want := log.versions(), []int64{1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("OnApply versions = %v, want %v", got, want)
	}
}
