package membership

import (
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// eventKind is what memberlist (or its log) told us about a node.
type eventKind uint8

const (
	evJoin    eventKind = iota // alive after dead, left or unknown
	evUpdate                   // alive with new metadata
	evLeave                    // dead or left
	evSuspect                  // this node's probe of it failed
	evAnswer                   // it answered a probe or gossiped that it is alive
)

// event is a copy of what memberlist handed us: memberlist owns its *Node
// and changes it after the callback returns, so nothing keeps the pointer.
type event struct {
	kind eventKind
	name string
	addr string
	meta []byte
}

func nodeEvent(kind eventKind, n *memberlist.Node) event {
	return event{
		kind: kind,
		name: n.Name,
		addr: net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))),
		meta: append([]byte(nil), n.Meta...),
	}
}

// eventQueue is an unbounded FIFO between memberlist's callbacks, which run
// under memberlist's node lock and so must never block, and the one
// goroutine that applies events and calls OnChange, which may be slow.
type eventQueue struct {
	mu      sync.Mutex
	pending []event
	wake    chan struct{} // capacity 1: "pending is not empty"
}

func newEventQueue() *eventQueue {
	return &eventQueue{wake: make(chan struct{}, 1)}
}

func (q *eventQueue) push(e event) {
	q.mu.Lock()
	q.pending = append(q.pending, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default: // a wake-up is already pending; it will see this event too
	}
}

// take returns and clears everything queued so far.
func (q *eventQueue) take() []event {
	q.mu.Lock()
	defer q.mu.Unlock()
	evs := q.pending
	q.pending = nil
	return evs
}

// delegate receives memberlist's callbacks. Its methods run on memberlist's
// goroutines, often holding memberlist's node lock: they only copy and
// queue, and never call back into memberlist.
type delegate struct {
	queue *eventQueue
	// meta returns this node's current encoded metadata.
	meta func() []byte
}

var (
	_ memberlist.EventDelegate = (*delegate)(nil)
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.AliveDelegate = (*delegate)(nil)
	_ memberlist.PingDelegate  = (*delegate)(nil)
)

func (d *delegate) NotifyJoin(n *memberlist.Node)   { d.queue.push(nodeEvent(evJoin, n)) }
func (d *delegate) NotifyLeave(n *memberlist.Node)  { d.queue.push(nodeEvent(evLeave, n)) }
func (d *delegate) NotifyUpdate(n *memberlist.Node) { d.queue.push(nodeEvent(evUpdate, n)) }

// NotifyAlive sees every alive message, including a suspect node's
// refutation, for which memberlist raises no event of its own.
func (d *delegate) NotifyAlive(n *memberlist.Node) error {
	d.queue.push(event{kind: evAnswer, name: n.Name})
	return nil
}

// NotifyPingComplete means a direct probe of other was answered.
func (d *delegate) NotifyPingComplete(other *memberlist.Node, _ time.Duration, _ []byte) {
	d.queue.push(event{kind: evAnswer, name: other.Name})
}

func (d *delegate) AckPayload() []byte { return nil }

// NodeMeta returns the metadata gossiped in this node's alive messages;
// New and UpdateMeta keep it within MaxMetaSize.
func (d *delegate) NodeMeta(limit int) []byte { return d.meta() }

func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}
