package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// idle --steps opens the connections in steps (1000, then up to 5000, then up to 15000) and
// samples the server after each: a curve of memory against connections, read on one fresh
// server. With --pause it stops after each step until the harness (compare.py) writes a line
// on stdin, so that a direct-message workload can run while that many users are connected.

// idleStep is what one step measured.
type idleStep struct {
	Conns          int     `json:"conns"`  // connections asked for so far
	Opened         int     `json:"opened"` // accepted so far
	Failed         int     `json:"failed"`
	OpensPerSec    float64 `json:"opens_per_sec"`
	RSSBytes       int64   `json:"server_rss_bytes"`
	RSSPerConn     float64 `json:"server_rss_per_conn_bytes"` // (RSS - RSS before the first step) / opened
	KernelTCPMem   int64   `json:"kernel_tcp_mem_bytes"`      // whole machine, both ends of each connection
	KernelPerConn  float64 `json:"kernel_tcp_mem_per_conn_bytes"`
	SlabPerConn    float64 `json:"kernel_socket_slab_per_conn_bytes"` // TCP + sock_inode_cache slabs, both ends`
	ServerCPUOpen  float64 `json:"server_cpu_open_sec"`
	HandshakesPerS float64 `json:"handshakes_per_server_cpu_sec"`
}

func parseSteps(spec string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || (len(counts) > 0 && n <= counts[len(counts)-1]) {
			return nil, fmt.Errorf("--steps %q: want increasing positive counts, e.g. 1000,5000,15000", spec)
		}
		counts = append(counts, n)
	}
	if counts[len(counts)-1] > connsPerProcess {
		return nil, fmt.Errorf("--steps: at most %d connections (one process)", connsPerProcess)
	}
	return counts, nil
}

func runIdleSteps(srv Server, src sourceAddrs, cf commonFlags, counts []int, pause bool, hold time.Duration) int {
	deadline := time.Now().Add(cf.duration)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	n := counts[len(counts)-1]
	probe := serverProbe{cf.pid}
	probs := newProblems()
	res := newResult(srv.Name(), "idle")
	res.Params["steps"] = counts
	res.Params["hold_sec"] = hold.Seconds()
	res.Params["duration_sec"] = cf.duration.Seconds()
	fmt.Printf("chat-bench idle: %s at %s, steps %v, hold %s\n", srv.Name(), cf.url, counts, hold)

	users := make([]string, n)
	for i := range users {
		users[i] = idleUser(i)
	}
	t := time.Now()
	if err := ensureUsers(ctx, srv, users); err != nil {
		return setupFailed("idle", err)
	}
	fmt.Printf("  users:   %d ensured in %.1f s\n", n, time.Since(t).Seconds())

	before, haveProc := probe.sample()
	sockBefore, _ := readSockstatTCPMem()
	slabBefore, _ := readSocketSlabBytes()
	g := newIdleGroup(srv, src, 0, n)
	stdin := bufio.NewScanner(os.Stdin)
	var steps []idleStep
	prev := 0
	for _, c := range counts {
		cpu0, _ := probe.sample()
		t := time.Now()
		g.openRange(ctx, prev, c-prev)
		openSec := time.Since(t).Seconds()
		cpu1, _ := probe.sample()
		prev = c
		sleepCtx(ctx, idleSettle)
		st := g.status()
		s, _ := probe.sample()
		sock, _ := readSockstatTCPMem()
		slab, _ := readSocketSlabBytes()
		step := idleStep{Conns: c, Opened: st.Opened, Failed: st.Failed,
			RSSBytes: s.RSSBytes, KernelTCPMem: sock - sockBefore}
		opensNow := st.Opened
		if len(steps) > 0 {
			opensNow -= steps[len(steps)-1].Opened
		}
		step.OpensPerSec = perSec(int64(opensNow), openSec)
		step.ServerCPUOpen = cpu1.cpuSec() - cpu0.cpuSec()
		step.HandshakesPerS = perCPU(int64(opensNow), step.ServerCPUOpen)
		if st.Opened > 0 {
			step.RSSPerConn = float64(s.RSSBytes-before.RSSBytes) / float64(st.Opened)
			step.KernelPerConn = float64(sock-sockBefore) / float64(st.Opened)
			step.SlabPerConn = float64(slab-slabBefore) / float64(st.Opened)
		}
		steps = append(steps, step)
		fmt.Printf("  step %6d: %d open, %d failed, %.0f/s; server RSS %.1f MiB, %.2f KiB per connection; kernel: TCP buffers %.2f KiB, socket slabs %.2f KiB per connection (both ends)\n",
			c, st.Opened, st.Failed, step.OpensPerSec, mib(s.RSSBytes), step.RSSPerConn/1024, step.KernelPerConn/1024, step.SlabPerConn/1024)
		if pause {
			line, _ := json.Marshal(map[string]int{"paused_at": c, "open": st.Open})
			fmt.Println(string(line))
			if !stdin.Scan() {
				break // the harness is gone: stop
			}
		}
	}
	sleepCtx(ctx, hold)
	res.Truncated = ctx.Err() != nil
	st := g.status()
	probs.merge(st.Problems)
	g.closeAll(10 * time.Second)
	m := res.Metrics
	m["steps"] = steps
	m["conns_held"] = st.Open
	m["conns_failed"] = st.Failed
	if haveProc {
		m["server_rss_before_bytes"] = before.RSSBytes
	}
	return res.finish(os.Stdout, probs, cf.json)
}
