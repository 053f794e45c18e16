module chat-engine/tools/chat-bench

go 1.23

require github.com/coder/websocket v1.8.15

require github.com/goccy/go-json v0.12.0
