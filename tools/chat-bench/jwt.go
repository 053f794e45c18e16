package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"time"
)

// mintHS256 returns an HS256 JWT with the claims jwt.py writes: {"username", "iat", "exp"}.
// Minting here, instead of calling jwt.py once per user, keeps thousands of connections cheap.
// iat matters: chat-engine refuses tokens minted before the second the account was created, so
// mint after EnsureUser.
func mintHS256(secret []byte, username string, now time.Time, ttl time.Duration) string {
	claims, _ := json.Marshal(struct {
		Username string `json:"username"`
		Iat      int64  `json:"iat"`
		Exp      int64  `json:"exp"`
	}{username, now.Unix(), now.Add(ttl).Unix()})
	return signHS256(secret, claims)
}

// signHS256 returns the HS256 JWT of claims (a JSON object).
func signHS256(secret, claims []byte) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	signingInput := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signingInput))
	return signingInput + "." + enc.EncodeToString(mac.Sum(nil))
}
