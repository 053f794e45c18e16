package main

import (
	"testing"
	"time"
)

// The expected token was computed independently with Python's hmac and base64 modules.
func TestMintHS256MatchesAnIndependentImplementation(t *testing.T) {
	got := mintHS256([]byte("0123456789abcdef0123456789abcdef"), "kiran",
		time.Unix(1700000000, 0), time.Hour)
	want := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
		"eyJ1c2VybmFtZSI6ImtpcmFuIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2MDB9." +
		"Vp-Gz0WO_nakd4PGmw951ytZR2B9YasG7bb9R_NSUnU"
	if got != want {
		t.Fatalf("token\n got %s\nwant %s", got, want)
	}
}
