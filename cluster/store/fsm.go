package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// commandType is the first byte of every log entry the store writes; the
// rest of the entry is the command's payload.
type commandType uint8

const (
	// ignoreUnknownFlag marks a command type that a node may skip if it
	// doesn't know it (it logs a warning and applies nothing), so a newer
	// binary can add optional commands during a rolling upgrade. An unknown
	// type without the flag stops the FSM (see Apply): applying the log
	// partially would let this node's state diverge from the others'.
	ignoreUnknownFlag commandType = 0x80

	// cmdSetDocument replaces the document. Payload: IfVersion as 8 bytes
	// big-endian (two's complement), then the document's data.
	cmdSetDocument commandType = 0x01
)

// snapshotFormat is the first byte of a snapshot: 1 = version as 8 bytes
// big-endian, then the data.
const snapshotFormat byte = 1

// fsm is the store's raft.FSM. Its whole state is one immutable *Document
// behind an atomic pointer: Apply and Restore (both on Raft's FSM
// goroutine) swap it, and Current, Snapshot and any reader load it without
// a lock, which is what keeps reads off the write path.
type fsm struct {
	doc      atomic.Pointer[Document]
	onApply  func(Document)
	log      *slog.Logger
	commands map[commandType]func(payload []byte) any
	// stopped is set, once, by the first entry this binary can't apply;
	// from then on Apply applies nothing. onStop hears of it (once).
	stopped atomic.Pointer[StoppedError]
	onStop  func(*StoppedError)
}

var _ raft.FSM = (*fsm)(nil)

// newFSM returns an empty FSM. onApply and onStop may be nil; onStop runs
// on the FSM goroutine and must not wait for Raft.
func newFSM(onApply func(Document), log *slog.Logger, onStop func(*StoppedError)) *fsm {
	f := &fsm{onApply: onApply, log: log, onStop: onStop}
	f.doc.Store(&Document{})
	// The dispatch table: one entry per command type this binary knows.
	f.commands = map[commandType]func([]byte) any{
		cmdSetDocument: f.applySetDocument,
	}
	return f
}

// current returns the applied document; never nil.
func (f *fsm) current() *Document { return f.doc.Load() }

// Apply routes a committed entry to its command. It is deterministic: the
// result depends only on the entry and the current document. It returns a
// Document, a *ConflictError or an error, which Propose hands back.
//
// An entry it can't apply (an unknown command type without the ignore
// flag, or an empty entry: a newer binary, or a foreign writer, wrote it)
// stops the FSM for good: skipping the entry would make this node's state
// differ from the others', and panicking would crash the process on every
// restart (Raft replays the same entry). The document stays at the last
// version applied, every later entry is refused with the same
// *StoppedError, and onStop hears of it so the store can stop Raft.
func (f *fsm) Apply(l *raft.Log) any {
	if st := f.stopped.Load(); st != nil {
		return st
	}
	if len(l.Data) == 0 {
		return f.stop(&StoppedError{Index: l.Index, Empty: true})
	}
	typ, payload := commandType(l.Data[0]), l.Data[1:]
	if fn, ok := f.commands[typ]; ok {
		return fn(payload)
	}
	if typ&ignoreUnknownFlag != 0 {
		f.log.Warn("ignoring unknown raft command type; upgrade this node",
			"type", fmt.Sprintf("%#x", uint8(typ)), "index", l.Index)
		return nil
	}
	return f.stop(&StoppedError{Index: l.Index, Type: uint8(typ)})
}

func (f *fsm) stop(st *StoppedError) *StoppedError {
	st.Version = f.current().Version
	if f.stopped.CompareAndSwap(nil, st) && f.onStop != nil {
		f.onStop(st)
	}
	return st
}

// encodeSetDocument builds a cmdSetDocument log entry.
func encodeSetDocument(data []byte, ifVersion int64) []byte {
	b := make([]byte, 1+8+len(data))
	b[0] = byte(cmdSetDocument)
	binary.BigEndian.PutUint64(b[1:9], uint64(ifVersion))
	copy(b[9:], data)
	return b
}

// applySetDocument applies SetDocument{IfVersion, Data}: IfVersion 0 writes
// unconditionally, -1 only if nothing was ever written, >0 only if it equals
// the current version. An unconditional write of the document already
// current makes no new version (it answers the current one): a PUT is
// idempotent, so a write retried after an unknown outcome, or one that
// reached the leader after its client gave up, can't stack versions.
func (f *fsm) applySetDocument(payload []byte) any {
	if len(payload) < 8 {
		// Every node sees the same bytes and refuses them the same way, so
		// this cannot diverge; it can only come from a foreign writer.
		return fmt.Errorf("applying set document: payload of %d bytes is too short", len(payload))
	}
	ifVersion := int64(binary.BigEndian.Uint64(payload[:8]))
	cur := f.current()
	if !versionMatches(cur.Version, ifVersion) {
		return &ConflictError{Current: cur.Version}
	}
	if ifVersion == 0 && cur.Version > 0 && bytes.Equal(cur.Data, payload[8:]) {
		return *cur
	}
	// Copy: the log store may reuse the entry's buffer.
	next := &Document{Version: cur.Version + 1, Data: append([]byte(nil), payload[8:]...)}
	f.doc.Store(next)
	if f.onApply != nil {
		f.onApply(*next)
	}
	return *next
}

// versionMatches reports whether a write conditioned on ifVersion may
// replace a document at version cur.
func versionMatches(cur, ifVersion int64) bool {
	switch {
	case ifVersion == 0:
		return true
	case ifVersion == -1:
		return cur == 0
	default:
		return cur == ifVersion
	}
}

// Snapshot captures the current document. The document is immutable, so
// loading the pointer is the copy; Persist may then run concurrently with
// later Applies.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{doc: f.current()}, nil
}

// Restore replaces the whole state with a snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("reading snapshot: %w", err)
	}
	doc, err := decodeSnapshot(b)
	if err != nil {
		return err
	}
	prev := f.doc.Swap(doc)
	if f.onApply != nil && doc.Version != prev.Version {
		f.onApply(*doc)
	}
	return nil
}

// decodeSnapshot parses what fsmSnapshot.Persist wrote.
func decodeSnapshot(b []byte) (*Document, error) {
	if len(b) < 9 || b[0] != snapshotFormat {
		return nil, errors.New("decoding snapshot: unknown format")
	}
	return &Document{
		Version: int64(binary.BigEndian.Uint64(b[1:9])),
		Data:    b[9:],
	}, nil
}

// fsmSnapshot is a point-in-time document, written out by Persist.
type fsmSnapshot struct {
	doc *Document
}

// Persist writes the snapshot and closes the sink, or cancels the sink on
// any error so Raft discards the partial file.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	err := func() error {
		var hdr [9]byte
		hdr[0] = snapshotFormat
		binary.BigEndian.PutUint64(hdr[1:], uint64(s.doc.Version))
		if _, err := sink.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := sink.Write(s.doc.Data); err != nil {
			return err
		}
		return sink.Close()
	}()
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persisting snapshot: %w", err)
	}
	return nil
}

// Release is a no-op: the snapshot holds no resources.
func (s *fsmSnapshot) Release() {}
