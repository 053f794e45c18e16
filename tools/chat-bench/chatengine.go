package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	fastjson "github.com/goccy/go-json"
)

// chatEngine speaks chat-engine's protocol (docs/protocol.md): users through the REST user
// API, devices through GET /ws with a bearer token minted here from the shared secret.
type chatEngine struct {
	baseURL  string // http://host:port, no trailing slash
	wsURL    string
	secret   []byte
	apiKey   string        // X-API-Key for the user API, when the server sets CHAT_API_KEY
	tokenTTL time.Duration // longer than the run, so no connection needs a refresh
	rest     *http.Client

	mu      sync.Mutex
	clients map[string]*http.Client // one per source address: a Transport dials from one address

	// relay: the server is tools/chat-bench/peers/node-relay, which speaks a subset of the same
	// frames (hello, send, sent, message, error) but keeps no users, no inbox and no seqs, and
	// takes the token as the query parameter `token`.
	relay bool
}

// newNodeRelay is the adapter for the Node.js relay (peers/node-relay/server.js).
func newNodeRelay(base *url.URL, secret []byte, tokenTTL time.Duration) *chatEngine {
	s := newChatEngine(base, secret, "", tokenTTL)
	s.relay = true
	return s
}

func newChatEngine(base *url.URL, secret []byte, apiKey string, tokenTTL time.Duration) *chatEngine {
	ws := *base
	ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[base.Scheme]
	ws.Path = strings.TrimSuffix(base.Path, "/") + "/ws"
	return &chatEngine{
		baseURL:  strings.TrimSuffix(base.String(), "/"),
		wsURL:    ws.String(),
		secret:   secret,
		apiKey:   apiKey,
		tokenTTL: tokenTTL,
		rest:     &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		clients:  map[string]*http.Client{},
	}
}

func (s *chatEngine) Name() string {
	if s.relay {
		return "node-relay"
	}
	return "chat-engine"
}

// Features: docs/protocol.md §2.7 (gapless inbox seqs; carbons before sent).
func (s *chatEngine) Features() Features {
	if s.relay {
		return Features{}
	}
	return Features{Seqs: true, SenderCopy: true}
}

func (s *chatEngine) EnsureUser(ctx context.Context, user string) error {
	if s.relay {
		return nil // the relay knows users only by their tokens
	}
	body, _ := json.Marshal(map[string]string{"username": user})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.baseURL+"/api/user/v1/create", bytes.NewReader(body))
	if err != nil {
		return err
	}
	if s.apiKey != "" {
		req.Header.Set("X-API-Key", s.apiKey)
	}
	resp, err := s.rest.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusConflict: // 409: it exists, which is all we need
		return nil
	default:
		return fmt.Errorf("create user %s: HTTP %d %s", user, resp.StatusCode, bytes.TrimSpace(reply))
	}
}

// httpClient returns the client whose dialer binds to local (nil: any address).
func (s *chatEngine) httpClient(local *net.TCPAddr) *http.Client {
	return clientFor(&s.mu, s.clients, local)
}

func (s *chatEngine) Connect(ctx context.Context, user string, opt ConnectOptions, onEvent func(Event)) (Conn, error) {
	token := mintHS256(s.secret, user, time.Now(), s.tokenTTL)
	wsURL, header := s.wsURL, http.Header{"Authorization": {"Bearer " + token}}
	if s.relay {
		wsURL, header = s.wsURL+"?token="+url.QueryEscape(token), nil
	}
	ws, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{
		HTTPClient:      s.httpClient(opt.LocalAddr),
		HTTPHeader:      header,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil {
			reply, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return nil, fmt.Errorf("connect %s: HTTP %d %s", user, resp.StatusCode, bytes.TrimSpace(reply))
		}
		return nil, fmt.Errorf("connect %s: %w", user, err)
	}
	// A sync answer may be up to half of the server's 1 MiB outbound cap; the library's
	// default limit (32 KiB) would cut a single 64 KiB message.
	ws.SetReadLimit(1 << 20)

	_, data, err := ws.Read(ctx)
	var hello ceFrame
	if err == nil {
		err = json.Unmarshal(data, &hello)
	}
	if err == nil && hello.Type != "hello" {
		err = fmt.Errorf("first frame is %q, not hello", hello.Type)
	}
	if err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("connect %s: %w", user, err)
	}
	c := &ceConn{ws: ws}
	go c.readLoop(hello.LastSeq, onEvent)
	return c, nil
}

// ceFrame is any frame the server sends; fields absent from a type stay zero.
type ceFrame struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Seq     int64  `json:"seq"`
	From    string `json:"from"`
	To      string `json:"to"`
	Body    string `json:"body"`
	Code    string `json:"code"`
	Message string `json:"message"`
	LastSeq int64  `json:"last_seq"`
}

type ceConn struct {
	ws       *websocket.Conn
	closeMu  sync.Mutex
	byClient bool
}

func (c *ceConn) Send(ctx context.Context, id, to, body string) error {
	frame, _ := json.Marshal(struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		To   string `json:"to"`
		Body string `json:"body"`
	}{"send", id, to, body})
	return c.ws.Write(ctx, websocket.MessageText, frame)
}

func (c *ceConn) Close() {
	c.closeMu.Lock()
	c.byClient = true
	c.closeMu.Unlock()
	// The close handshake waits for the server's close frame, read by readLoop.
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
}

func (c *ceConn) readLoop(lastSeq int64, onEvent func(Event)) {
	onEvent(Event{Kind: EventOpen, At: time.Now(), Seq: lastSeq})
	for {
		_, data, err := c.ws.Read(context.Background())
		at := time.Now()
		if err != nil {
			c.closeMu.Lock()
			byClient := c.byClient
			c.closeMu.Unlock()
			onEvent(closedEvent(err, at, byClient))
			return
		}
		var f ceFrame
		if err := fastjson.Unmarshal(data, &f); err != nil { // see cfDecodeFrame
			onEvent(Event{Kind: EventError, At: at, Code: "client", Reason: "undecodable frame: " + err.Error()})
			continue
		}
		switch f.Type {
		case "message":
			onEvent(Event{Kind: EventMessage, At: at, Seq: f.Seq, From: f.From, To: f.To, Body: f.Body})
		case "sent":
			onEvent(Event{Kind: EventAck, At: at, ID: f.ID, Seq: f.Seq})
		case "error":
			onEvent(Event{Kind: EventError, At: at, ID: f.ID, Code: f.Code, Reason: f.Message})
		}
		// pong, typing, refreshed, synced: no workload here asks for them.
	}
}
