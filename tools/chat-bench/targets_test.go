package main

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOneInstanceHoldsEveryConnection(t *testing.T) {
	for p := range 10 {
		if senderInstance(p, 1) != 0 {
			t.Fatalf("pair %d: sender on instance %d", p, senderInstance(p, 1))
		}
		for j := range 3 {
			if deviceInstance(p, j, 1) != 0 {
				t.Fatalf("pair %d device %d: on instance %d", p, j, deviceInstance(p, j, 1))
			}
		}
	}
}

func TestThreeInstancesPutSenderAndRecipientApart(t *testing.T) {
	const n = 3
	senders, devices := make([]int, n), make([]int, n)
	for p := range 30 {
		s, d := senderInstance(p, n), deviceInstance(p, 0, n)
		if s != p%n || d != (p+1)%n {
			t.Fatalf("pair %d: sender on %d, device on %d; want %d and %d", p, s, d, p%n, (p+1)%n)
		}
		senders[s]++
		devices[d]++
	}
	if !slices.Equal(senders, []int{10, 10, 10}) || !slices.Equal(devices, []int{10, 10, 10}) {
		t.Fatalf("uneven: senders %v, devices %v", senders, devices)
	}
}

func TestDevicesBelowTheInstanceCountAreAllOnOtherInstances(t *testing.T) {
	const n = 4
	for p := range 8 {
		seen := map[int]bool{senderInstance(p, n): true}
		for j := range n - 1 {
			on := deviceInstance(p, j, n)
			if seen[on] {
				t.Fatalf("pair %d device %d: instance %d already holds the sender or another device", p, j, on)
			}
			seen[on] = true
		}
		// Device n-1 wraps round to the sender's instance.
		if deviceInstance(p, n-1, n) != senderInstance(p, n) {
			t.Fatalf("pair %d: device %d on %d, sender on %d", p, n-1, deviceInstance(p, n-1, n), senderInstance(p, n))
		}
	}
}

// resolveArgs parses args as a pairs run would and resolves its targets.
func resolveArgs(t *testing.T, args ...string) (targets, error) {
	t.Helper()
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cf commonFlags
	cf.register(fs)
	var tf targetFlags
	tf.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return tf.resolve(fs, &cf)
}

func TestResolveTargets(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		urls           []string
		pids, services []int
	}{
		{nil, []string{"http://127.0.0.1:8000"}, nil, nil},
		{[]string{"--url", "http://127.0.0.1:9000", "--pid", "7"}, []string{"http://127.0.0.1:9000"}, []int{7}, nil},
		{[]string{"--urls", "http://127.0.0.1:9000"}, []string{"http://127.0.0.1:9000"}, nil, nil},
		{[]string{"--urls", "http://127.0.0.1:1, http://127.0.0.1:2,http://127.0.0.1:3", "--pids", "11,12, 13", "--service-pids", "20,21"},
			[]string{"http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"}, []int{11, 12, 13}, []int{20, 21}},
		{[]string{"--urls", "http://127.0.0.1:1", "--pid", "5"}, []string{"http://127.0.0.1:1"}, []int{5}, nil},
	} {
		tg, err := resolveArgs(t, tc.args...)
		if err != nil || !slices.Equal(tg.urls, tc.urls) || !slices.Equal(tg.pids, tc.pids) || !slices.Equal(tg.services, tc.services) {
			t.Errorf("%v: got %+v, %v; want %v %v %v", tc.args, tg, err, tc.urls, tc.pids, tc.services)
		}
	}
}

func TestResolveTargetsRefusesInconsistentFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "http://127.0.0.1:1", "--urls", "http://127.0.0.1:2"}, "not both"},
		{[]string{"--pid", "1", "--pids", "1"}, "not both"},
		{[]string{"--urls", "http://127.0.0.1:1,,http://127.0.0.1:2"}, "empty item"},
		{[]string{"--urls", ""}, "empty item"},
		{[]string{"--urls", "http://127.0.0.1:1,http://127.0.0.1:1"}, "listed twice"},
		{[]string{"--urls", "http://127.0.0.1:1,http://127.0.0.1:2", "--pids", "3"}, "1 process ids for 2 URLs"},
		{[]string{"--urls", "http://127.0.0.1:1,http://127.0.0.1:2", "--pids", "3,x"}, `"x" is not a process id`},
		{[]string{"--urls", "http://127.0.0.1:1,http://127.0.0.1:2", "--pids", "3,-4"}, `"-4" is not a process id`},
		{[]string{"--urls", "http://127.0.0.1:1,http://127.0.0.1:2", "--pid", "3"}, "give --pids"},
		{[]string{"--service-pids", "1,0"}, `--service-pids: "0" is not a process id`},
	} {
		_, err := resolveArgs(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got error %v; want one containing %q", tc.args, err, tc.want)
		}
	}
}

func TestOpenServersChecksEveryURL(t *testing.T) {
	cf := commonFlags{secret: "s", duration: time.Minute, server: "chat-engine"}
	srvs, src, err := cf.openServers("--urls", []string{"http://127.0.0.1:1", "http://localhost:2"})
	if err != nil || len(srvs) != 2 || !src.spread {
		t.Fatalf("got %d servers, spread %v, %v", len(srvs), src.spread, err)
	}
	if _, src, err := cf.openServers("--urls", []string{"http://127.0.0.1:1", "http://[::1]:2"}); err != nil || src.spread {
		t.Fatalf("an IPv6 instance: spread %v, %v; want no spread", src.spread, err)
	}
	if _, _, err := cf.openServers("--urls", []string{"http://127.0.0.1:1", "http://10.0.0.1:2"}); err == nil {
		t.Fatal("a non-loopback instance was accepted")
	}
	if _, _, err := cf.openServers("--urls", []string{"127.0.0.1:1"}); err == nil || !strings.Contains(err.Error(), "--urls") {
		t.Fatalf("a URL without a scheme: %v", err)
	}
}
