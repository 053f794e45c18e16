package main

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The pairs workload's two kinds of connection. Each has exactly one writer of its plain
// fields, the connection's event goroutine; the workload reads them only after that goroutine
// has ended (done is closed). Counters that the workload polls while the run goes on are atomic.

// messageTag names message k of one run. It is both the send id (unique per sender across runs,
// because the nonce is random, so chat-engine's idempotency never answers from an older run) and
// the first word of the body, which is how a recipient finds the send time of what it got.
type messageTag struct{ nonce string }

func (t messageTag) id(k int) string { return t.nonce + "-" + strconv.Itoa(k) }

func (t messageTag) body(k, size int) string {
	b := t.id(k) + " "
	if len(b) < size {
		b += strings.Repeat("x", size-len(b))
	}
	return b
}

// index parses a send id, or a body's first word, back to k; ok is false for anything this
// run did not send.
func (t messageTag) index(s string) (k int, ok bool) {
	s, _, _ = strings.Cut(s, " ")
	rest, found := strings.CutPrefix(s, t.nonce+"-")
	if !found {
		return 0, false
	}
	k, err := strconv.Atoi(rest)
	return k, err == nil && k >= 0
}

// runClock is the run's time base: send times are stored as offsets from t0 so that they fit
// in an atomic int64 and keep Go's monotonic clock. t0 is fixed before any connection opens.
type runClock struct{ t0 time.Time }

func (c runClock) now() int64 { return int64(time.Since(c.t0)) }
func (c runClock) since(sentAt int64, at time.Time) time.Duration {
	return at.Sub(c.t0) - time.Duration(sentAt)
}

// pairSender is the one connection of a sending user.
type pairSender struct {
	user, to string
	conn     Conn
	feat     Features
	tag      messageTag
	clock    runClock
	probs    *problems

	sentAt []atomic.Int64 // per message: runClock offset, stored before the send is written
	window chan struct{}  // one token per unacknowledged send

	sent, acked, refused atomic.Int64
	broken               atomic.Bool // the server closed the connection
	done                 chan struct{}

	nextSeq int64
	ownSeen []bool
	ownSeq  []int64
	isAcked []bool
	ackLat  []time.Duration
	lastAt  time.Time
}

func newPairSender(user, to string, messages, window int, feat Features, tag messageTag, clock runClock, probs *problems) *pairSender {
	return &pairSender{user: user, to: to, feat: feat, tag: tag, clock: clock, probs: probs,
		sentAt: make([]atomic.Int64, messages), window: make(chan struct{}, window),
		done: make(chan struct{}), ownSeen: make([]bool, messages), ownSeq: make([]int64, messages),
		isAcked: make([]bool, messages), ackLat: make([]time.Duration, 0, messages)}
}

func (s *pairSender) onEvent(ev Event) {
	switch ev.Kind {
	case EventOpen:
		s.nextSeq = ev.Seq + 1
	case EventMessage:
		if ev.From != s.user || ev.To != s.to {
			s.probs.add("unexpected message", "%s got a message from %s to %s", s.user, ev.From, ev.To)
			return
		}
		checkSeq(s.probs, s.user, s.feat, &s.nextSeq, ev.Seq)
		k, ok := s.tag.index(ev.Body)
		if !ok || k >= len(s.ownSeen) {
			s.probs.add("unexpected message", "%s got its own copy of a message this run did not send", s.user)
			return
		}
		s.ownSeen[k], s.ownSeq[k] = true, ev.Seq
	case EventAck:
		k, ok := s.tag.index(ev.ID)
		switch {
		case !ok || k >= len(s.isAcked):
			s.probs.add("ack for an unknown id", "%s: id %q", s.user, ev.ID)
			return
		case s.isAcked[k]:
			s.probs.add("duplicate ack", "%s: id %q", s.user, ev.ID)
			return
		}
		if s.feat.SenderCopy && !s.ownSeen[k] {
			s.probs.add("ack before the sender's own copy", "%s: id %q", s.user, ev.ID)
		} else if s.feat.SenderCopy && s.feat.Seqs && ev.Seq != s.ownSeq[k] {
			s.probs.add("ack seq differs from the sender's entry", "%s: id %q: ack seq %d, entry seq %d", s.user, ev.ID, ev.Seq, s.ownSeq[k])
		}
		s.isAcked[k] = true
		s.ackLat = append(s.ackLat, s.clock.since(s.sentAt[k].Load(), ev.At))
		s.lastAt = ev.At
		s.acked.Add(1)
		<-s.window
	case EventError:
		k, ok := s.tag.index(ev.ID)
		if ok && k < len(s.isAcked) && !s.isAcked[k] {
			s.isAcked[k] = true // answered: it no longer holds a window slot
			s.refused.Add(1)
			<-s.window
		}
		s.probs.add("error "+ev.Code, "%s: %s (id %q)", s.user, ev.Reason, ev.ID)
	case EventClosed:
		if !ev.ByClient {
			s.broken.Store(true)
			s.probs.add("connection closed by the server", "%s: %s", s.user, closeText(ev))
		}
		close(s.done)
	}
}

// pairDevice is one connection of a receiving user.
type pairDevice struct {
	from   *pairSender
	user   string
	conn   Conn
	broken atomic.Bool
	done   chan struct{}

	delivered atomic.Int64

	nextSeq int64
	lastK   int
	lat     []time.Duration
	lastAt  time.Time
}

func newPairDevice(from *pairSender, messages int) *pairDevice {
	return &pairDevice{from: from, user: from.to, done: make(chan struct{}), lastK: -1,
		lat: make([]time.Duration, 0, messages)}
}

func (d *pairDevice) onEvent(ev Event) {
	s := d.from
	switch ev.Kind {
	case EventOpen:
		d.nextSeq = ev.Seq + 1
	case EventMessage:
		k, ok := s.tag.index(ev.Body)
		if ev.From != s.user || ev.To != d.user || !ok || k >= len(s.sentAt) {
			s.probs.add("unexpected message", "%s got a message from %s to %s", d.user, ev.From, ev.To)
			return
		}
		checkSeq(s.probs, d.user, s.feat, &d.nextSeq, ev.Seq)
		if k <= d.lastK {
			s.probs.add("message out of send order", "%s: message %d after %d", d.user, k, d.lastK)
		}
		d.lastK = k
		d.lat = append(d.lat, s.clock.since(s.sentAt[k].Load(), ev.At))
		d.lastAt = ev.At
		d.delivered.Add(1)
	case EventError:
		s.probs.add("error "+ev.Code, "%s: %s", d.user, ev.Reason)
	case EventClosed:
		if !ev.ByClient {
			d.broken.Store(true)
			s.probs.add("connection closed by the server", "%s: %s", d.user, closeText(ev))
		}
		close(d.done)
	}
}

// checkSeq checks that seq continues a connection's inbox without a gap or a repeat; next is
// the seq expected, and moves past seq whatever happened so that one gap is reported once.
func checkSeq(probs *problems, user string, feat Features, next *int64, seq int64) {
	if !feat.Seqs {
		return
	}
	switch {
	case seq > *next:
		probs.addN("seq gap", int(seq-*next), "%s: expected seq %d, got %d", user, *next, seq)
	case seq < *next:
		probs.add("seq repeated or out of order", "%s: expected seq %d, got %d", user, *next, seq)
	}
	*next = max(*next, seq+1)
}
