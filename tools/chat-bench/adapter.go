package main

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// Server is what a workload needs from a chat server: users, device connections, one-to-one
// messages. Each server product under test (chat-engine now; Centrifugo and a Node.js server
// later) gets one adapter, so that every workload runs unchanged against each of them and the
// numbers can be compared side by side. Implementations are safe for concurrent use.
type Server interface {
	// Name labels the results ("chat-engine").
	Name() string
	// Features says which guarantees the workloads may check.
	Features() Features
	// EnsureUser creates the user, or does nothing if it exists already.
	EnsureUser(ctx context.Context, user string) error
	// Connect opens one device connection of user and returns once the server has accepted it
	// (for chat-engine: after its hello). onEvent is then called for every event, in arrival
	// order, from one goroutine per connection; it must not block for long. The first call is
	// an EventOpen, the last an EventClosed.
	Connect(ctx context.Context, user string, opt ConnectOptions, onEvent func(Event)) (Conn, error)
}

// Features are the delivery guarantees a server makes beyond "every acknowledged message
// reaches every device of its recipient once", which every adapter must provide.
type Features struct {
	// Seqs: every entry of a user's inbox carries seq = previous + 1, on every device, so a
	// gap or a repeat is a protocol error.
	Seqs bool
	// SenderCopy: every device of the sender also gets the message, and on the sending
	// connection that copy arrives before the ack.
	SenderCopy bool
}

// ConnectOptions are per-connection dial settings.
type ConnectOptions struct {
	// LocalAddr is the source address, or nil for the kernel's choice. Spreading connections
	// over 127.0.0.x lifts the per-address limit on ephemeral ports.
	LocalAddr *net.TCPAddr
}

// Conn is one open device connection. Send and Close are safe to call from any goroutine.
type Conn interface {
	// Send asks the server to deliver body to user `to`. The answer comes later as an
	// EventAck or EventError carrying the same id.
	Send(ctx context.Context, id, to, body string) error
	// Close ends the connection; its EventClosed then has ByClient set.
	Close()
}

// EventKind tells which fields of an Event are set.
type EventKind int

const (
	EventOpen    EventKind = iota // the connection was accepted: Seq is the newest seq of the inbox
	EventMessage                  // a message entry: Seq, From, To, Body
	EventAck                      // a send is durable: ID, Seq (the sender's entry)
	EventError                    // a frame was refused: Code, Reason, and ID when it answers a send
	EventClosed                   // the connection ended: Code (close code, if any), Reason, ByClient
)

// Event is one thing the server told a connection.
type Event struct {
	Kind EventKind
	// At is when the frame was read, taken before decoding so that the client's JSON work does
	// not count as server latency.
	At       time.Time
	ID       string
	Seq      int64 // 0 when the server has no per-user sequence numbers
	From     string
	To       string
	Body     string
	Code     string
	Reason   string
	ByClient bool
}

// closedEvent is the EventClosed for a connection whose read ended with err.
func closedEvent(err error, at time.Time, byClient bool) Event {
	ev := Event{Kind: EventClosed, At: at, Reason: err.Error(), ByClient: byClient}
	if code := websocket.CloseStatus(err); code != -1 {
		ev.Code = strconv.Itoa(int(code))
	}
	if byClient && errors.Is(err, net.ErrClosed) {
		ev.Reason = "closed by client"
	}
	return ev
}

// closeText describes an EventClosed for a report.
func closeText(ev Event) string {
	if ev.Code == "" {
		return "no close code: " + ev.Reason
	}
	return "close code " + ev.Code + ": " + ev.Reason
}
