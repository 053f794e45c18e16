package main

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestCentrifugoPublishCommandTargetsTheRecipientsChannel(t *testing.T) {
	var got struct {
		ID      uint32 `json:"id"`
		Publish struct {
			Channel string    `json:"channel"`
			Data    cfMessage `json:"data"`
		} `json:"publish"`
	}
	if err := json.Unmarshal(cfPublishCommand(7, "alice", "bob", "hi"), &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != 7 || got.Publish.Channel != "chat:bob" || got.Publish.Data != (cfMessage{"alice", "bob", "hi"}) {
		t.Errorf("publish command = %+v", got)
	}
}

func TestCentrifugoConnectCommandCarriesTheToken(t *testing.T) {
	var got struct {
		ID      uint32            `json:"id"`
		Connect map[string]string `json:"connect"`
	}
	if err := json.Unmarshal(cfConnectCommand(1, "tok"), &got); err != nil || got.ID != 1 || got.Connect["token"] != "tok" {
		t.Errorf("connect command = %+v, %v", got, err)
	}
}

func TestCentrifugoDecodeFrame(t *testing.T) {
	for _, c := range []struct {
		name  string
		frame string
		check func(t *testing.T, rs []cfReply)
	}{
		{"a connect reply lists the server-side subscriptions",
			`{"id":1,"connect":{"client":"c1","subs":{"chat:bob":{"recoverable":true}},"ping":25,"pong":true}}`,
			func(t *testing.T, rs []cfReply) {
				if len(rs) != 1 || rs[0].ID != 1 || rs[0].Connect == nil || rs[0].Connect.Subs["chat:bob"] == nil {
					t.Errorf("%+v", rs)
				}
			}},
		{"several replies in one frame, one per line",
			"{\"id\":2,\"publish\":{}}\n{\"push\":{\"channel\":\"chat:bob\",\"pub\":{\"data\":{\"from\":\"a\",\"to\":\"bob\",\"body\":\"x\"},\"offset\":3}}}",
			func(t *testing.T, rs []cfReply) {
				if len(rs) != 2 || rs[0].Publish == nil || rs[1].Push.Pub.Data.Body != "x" || rs[1].Push.Pub.Offset != 3 {
					t.Errorf("%+v", rs)
				}
			}},
		{"an empty object is a ping",
			`{}`,
			func(t *testing.T, rs []cfReply) {
				if len(rs) != 1 || !rs[0].isPing() {
					t.Errorf("%+v", rs)
				}
			}},
		{"an error reply keeps its code",
			`{"id":3,"error":{"code":103,"message":"permission denied"}}`,
			func(t *testing.T, rs []cfReply) {
				if len(rs) != 1 || rs[0].isPing() || rs[0].Error.Code != 103 {
					t.Errorf("%+v", rs)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs, err := cfDecodeFrame([]byte(c.frame))
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, rs)
		})
	}
	if _, err := cfDecodeFrame([]byte("{not json")); err == nil {
		t.Error("undecodable frame: want an error")
	}
}

func TestCentrifugoTokenSubscribesThePersonalChannel(t *testing.T) {
	tok := mintCentrifugoToken([]byte("s"), "bob", time.Unix(1000, 0), time.Minute)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", tok)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Sub      string   `json:"sub"`
		Exp      int64    `json:"exp"`
		Channels []string `json:"channels"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || claims.Sub != "bob" || claims.Exp != 1060 ||
		len(claims.Channels) != 1 || claims.Channels[0] != "chat:bob" {
		t.Errorf("claims %s", raw)
	}
}
