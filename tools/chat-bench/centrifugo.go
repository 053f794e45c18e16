package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	fastjson "github.com/goccy/go-json"
)

// centrifugo speaks Centrifugo v6's JSON client protocol over WebSocket (/connection/websocket),
// set up the way a chat on Centrifugo would be: every device of user U is subscribed by its
// connect token to the personal channel chat:U (server-side subscription, the `channels` claim),
// and a direct message from A to B is a client publish into chat:B. The namespace `chat` keeps
// history, so a reconnecting device could recover what it missed (scripts/bench-peers.sh writes
// the config). A delivery is a publication arriving at a device of the recipient; the "ack" is
// the reply to the publish. Centrifugo needs no users created, and has no per-user sequence
// numbers and no copy to the sender.
type centrifugo struct {
	wsURL    string
	secret   []byte
	tokenTTL time.Duration

	mu      sync.Mutex
	clients map[string]*http.Client // one per source address
}

func newCentrifugo(base *url.URL, secret []byte, tokenTTL time.Duration) *centrifugo {
	ws := *base
	ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[base.Scheme]
	ws.Path = strings.TrimSuffix(base.Path, "/") + "/connection/websocket"
	return &centrifugo{wsURL: ws.String(), secret: secret, tokenTTL: tokenTTL, clients: map[string]*http.Client{}}
}

func (s *centrifugo) Name() string                                      { return "centrifugo" }
func (s *centrifugo) Features() Features                                { return Features{} }
func (s *centrifugo) EnsureUser(ctx context.Context, user string) error { return nil }

// cfChannel is the personal channel of user.
func cfChannel(user string) string { return "chat:" + user }

func (s *centrifugo) Connect(ctx context.Context, user string, opt ConnectOptions, onEvent func(Event)) (Conn, error) {
	ws, _, err := websocket.Dial(ctx, s.wsURL, &websocket.DialOptions{
		HTTPClient:      clientFor(&s.mu, s.clients, opt.LocalAddr),
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", user, err)
	}
	ws.SetReadLimit(1 << 20)
	token := mintCentrifugoToken(s.secret, user, time.Now(), s.tokenTTL)
	if err := ws.Write(ctx, websocket.MessageText, cfConnectCommand(1, token)); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("connect %s: %w", user, err)
	}
	_, data, err := ws.Read(ctx)
	var replies []cfReply
	if err == nil {
		replies, err = cfDecodeFrame(data)
	}
	if err == nil && (len(replies) == 0 || replies[0].ID != 1) {
		err = fmt.Errorf("first frame %q is not the connect reply", data)
	}
	if err == nil && replies[0].Error != nil {
		err = fmt.Errorf("connect refused: %d %s", replies[0].Error.Code, replies[0].Error.Message)
	}
	if err == nil && replies[0].Connect == nil {
		err = fmt.Errorf("connect reply %q has no connect result", data)
	}
	if err == nil {
		if _, ok := replies[0].Connect.Subs[cfChannel(user)]; !ok {
			err = fmt.Errorf("not subscribed to %s: check the token's channels claim", cfChannel(user))
		}
	}
	if err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("connect %s: %w", user, err)
	}
	c := &cfConn{ws: ws, user: user, pending: map[uint32]string{}, nextID: 1}
	go c.readLoop(onEvent)
	return c, nil
}

// mintCentrifugoToken is a connect token: sub is the user, channels its personal channel.
func mintCentrifugoToken(secret []byte, user string, now time.Time, ttl time.Duration) string {
	claims, _ := json.Marshal(struct {
		Sub      string   `json:"sub"`
		Iat      int64    `json:"iat"`
		Exp      int64    `json:"exp"`
		Channels []string `json:"channels"`
	}{user, now.Unix(), now.Add(ttl).Unix(), []string{cfChannel(user)}})
	return signHS256(secret, claims)
}

// cfMessage is the publication's data: what chat-engine's message frame carries.
type cfMessage struct {
	From string `json:"from"`
	To   string `json:"to"`
	Body string `json:"body"`
}

func cfConnectCommand(id uint32, token string) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "connect": map[string]any{"token": token, "name": "chat-bench"}})
	return b
}

func cfPublishCommand(id uint32, from, to, body string) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "publish": map[string]any{
		"channel": cfChannel(to), "data": cfMessage{from, to, body}}})
	return b
}

// cfReply is one reply or push of the JSON protocol; a frame holds one or more, one per line.
// An empty object is the server's ping, which wants an empty object back.
type cfReply struct {
	ID    uint32 `json:"id"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Connect *struct {
		Client string                     `json:"client"`
		Subs   map[string]json.RawMessage `json:"subs"`
	} `json:"connect"`
	Publish *struct{} `json:"publish"`
	Push    *struct {
		Channel string `json:"channel"`
		Pub     *struct {
			Data   cfMessage `json:"data"`
			Offset int64     `json:"offset"`
		} `json:"pub"`
		Disconnect *struct {
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		} `json:"disconnect"`
	} `json:"push"`
}

func (r cfReply) isPing() bool {
	return r.ID == 0 && r.Error == nil && r.Connect == nil && r.Publish == nil && r.Push == nil
}

// cfDecodeFrame decodes with go-json: decoding is most of the load generator's own CPU, and the
// generator must not be what limits a run.
func cfDecodeFrame(data []byte) ([]cfReply, error) {
	var out []cfReply
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r cfReply
		if err := fastjson.Unmarshal(line, &r); err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

type cfConn struct {
	ws   *websocket.Conn
	user string

	mu       sync.Mutex
	nextID   uint32
	pending  map[uint32]string // command id -> the workload's send id
	byClient bool
}

func (c *cfConn) Send(ctx context.Context, id, to, body string) error {
	c.mu.Lock()
	c.nextID++
	cmd := c.nextID
	c.pending[cmd] = id
	c.mu.Unlock()
	return c.ws.Write(ctx, websocket.MessageText, cfPublishCommand(cmd, c.user, to, body))
}

func (c *cfConn) Close() {
	c.mu.Lock()
	c.byClient = true
	c.mu.Unlock()
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
}

func (c *cfConn) readLoop(onEvent func(Event)) {
	onEvent(Event{Kind: EventOpen, At: time.Now()})
	for {
		_, data, err := c.ws.Read(context.Background())
		at := time.Now()
		if err != nil {
			c.mu.Lock()
			byClient := c.byClient
			c.mu.Unlock()
			onEvent(closedEvent(err, at, byClient))
			return
		}
		replies, err := cfDecodeFrame(data)
		if err != nil {
			onEvent(Event{Kind: EventError, At: at, Code: "client", Reason: "undecodable frame: " + err.Error()})
		}
		for _, r := range replies {
			c.dispatch(r, at, onEvent)
		}
	}
}

func (c *cfConn) dispatch(r cfReply, at time.Time, onEvent func(Event)) {
	switch {
	case r.isPing():
		_ = c.ws.Write(context.Background(), websocket.MessageText, []byte("{}"))
	case r.ID != 0:
		c.mu.Lock()
		id, ok := c.pending[r.ID]
		delete(c.pending, r.ID)
		c.mu.Unlock()
		if !ok {
			onEvent(Event{Kind: EventError, At: at, Code: "client", Reason: fmt.Sprintf("reply to unknown command %d", r.ID)})
			return
		}
		if r.Error != nil {
			onEvent(Event{Kind: EventError, At: at, ID: id, Code: strconv.Itoa(r.Error.Code), Reason: r.Error.Message})
			return
		}
		onEvent(Event{Kind: EventAck, At: at, ID: id})
	case r.Push != nil && r.Push.Pub != nil:
		m := r.Push.Pub.Data
		onEvent(Event{Kind: EventMessage, At: at, From: m.From, To: m.To, Body: m.Body})
	case r.Push != nil && r.Push.Disconnect != nil:
		onEvent(Event{Kind: EventError, At: at, Code: strconv.Itoa(r.Push.Disconnect.Code), Reason: "disconnect: " + r.Push.Disconnect.Reason})
	}
}

// clientFor returns the HTTP client whose dialer binds to local (nil: any address), one per
// address, from cache (guarded by mu).
func clientFor(mu *sync.Mutex, cache map[string]*http.Client, local *net.TCPAddr) *http.Client {
	key := ""
	if local != nil {
		key = local.IP.String()
	}
	mu.Lock()
	defer mu.Unlock()
	if c, ok := cache[key]; ok {
		return c
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	if local != nil {
		dialer.LocalAddr = &net.TCPAddr{IP: local.IP} // port 0: the kernel picks one
	}
	c := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	cache[key] = c
	return c
}
