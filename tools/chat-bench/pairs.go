package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// The pairs workload measures one-to-one messaging: P senders (bench-pair-s-<i>) each send M
// messages to their own recipient (bench-pair-r-<i>), keeping W sends unacknowledged at a time.
// Each recipient has D connections (devices), so D > 1 measures multi-device fan-out. Per
// message it records send -> ack (durable) and, on every device, send -> delivery; and it checks
// what the server promises: every acked message reaches every device once, in send order, with
// gapless seqs. With --urls the connections are spread over the instances of one cluster
// (targets.go), and the cluster workload, which is pairs under another name, adds what only
// matters there (pairs_cluster.go).

func runPairs(name string, args []string, defaultDevices int) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var cf commonFlags
	cf.register(fs)
	var tf targetFlags
	tf.register(fs)
	pairs := fs.Int("pairs", 50, "sender/recipient pairs")
	messages := fs.Int("messages", 200, "messages each sender sends")
	window := fs.Int("window", 10, "sends each sender keeps unacknowledged (pipelining)")
	devices := fs.Int("devices", defaultDevices, "connections per recipient")
	bodyBytes := fs.Int("body-bytes", 64, "message body size in bytes")
	rate := fs.Float64("rate", 0, "offered load in messages/s over all senders, sent on a fixed schedule whatever the\n"+
		"replies (open loop; latency counts from the scheduled time); 0: closed loop, --window per sender")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "chat-bench %s: --pairs senders each send --messages messages to their own recipient,\n"+
			"who has --devices connections. Reports ack and delivery latency percentiles, throughput\n"+
			"and deliveries per server CPU-second.\n", name)
		if name == "cluster" {
			fmt.Fprint(fs.Output(), "Over the instances of one cluster (--urls, --pids): the sender of pair p connects to\n"+
				"instance p mod N and its recipient's devices to the next ones, so messages cross instances.\n"+
				"Adds p99.9 latency, server CPU per message (summed over --pids, and per instance) and\n"+
				"chat-bench's own CPU.\n")
		}
		fmt.Fprint(fs.Output(), "\nFlags:\n")
		fs.PrintDefaults()
	}
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	tg, err := tf.resolve(fs, &cf)
	if err != nil {
		return setupFailed(name, err)
	}
	urls, pids := tg.urls, tg.pids
	urlFlag := "--url"
	if tf.urls != "" {
		urlFlag = "--urls"
	}
	srvs, src, err := cf.openServers(urlFlag, urls)
	if err != nil {
		return setupFailed(name, err)
	}
	srv := srvs[0] // users are created through the first instance: the store is shared
	// wide: report per instance and the cluster numbers. A pairs or fanout run against one
	// instance prints what it always printed.
	wide := name == "cluster" || len(urls) > 1 || len(pids) > 1 || len(tg.services) > 0
	p, m, w, d := *pairs, *messages, *window, *devices
	switch {
	case p < 1 || m < 1 || w < 1 || d < 1 || *bodyBytes < 1 || *bodyBytes > 60000:
		return setupFailed(name, fmt.Errorf("--pairs, --messages, --window, --devices must be positive and --body-bytes 1..60000"))
	case p*(d+1) > connsPerProcess:
		return setupFailed(name, fmt.Errorf("--pairs × (--devices + 1) = %d connections; at most %d", p*(d+1), connsPerProcess))
	case p*m*d > 10_000_000:
		return setupFailed(name, fmt.Errorf("--pairs × --messages × --devices = %d deliveries; at most 10 million", p*m*d))
	case *rate < 0 || *rate > 1e6:
		return setupFailed(name, fmt.Errorf("--rate must be 0..1000000"))
	}
	if *rate > 0 {
		w = m // open loop: the window never holds a send back
	}

	deadline := time.Now().Add(cf.duration)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	// Sending stops early enough to leave time for the replies still in flight.
	grace := min(5*time.Second, cf.duration/5)
	sendCtx, cancelSend := context.WithDeadline(ctx, deadline.Add(-grace))
	defer cancelSend()

	probes := make([]serverProbe, len(pids))
	for i, pid := range pids {
		probes[i] = serverProbe{pid}
	}
	probs := newProblems()
	res := newResult(srv.Name(), name)
	for k, v := range map[string]any{"pairs": p, "messages": m, "window": w, "devices": d,
		"body_bytes": *bodyBytes, "duration_sec": cf.duration.Seconds(), "rate": *rate} {
		res.Params[k] = v
	}
	where := urls[0]
	if wide {
		res.Params["instances"] = len(urls)
		res.Params["urls"] = urls
	}
	if len(urls) > 1 {
		where = fmt.Sprintf("%d instances (%s)", len(urls), strings.Join(urls, ", "))
	}
	met := res.Metrics
	fmt.Printf("chat-bench %s: %s at %s, %d pairs × %d messages, window %d, %d device(s) per recipient, body %d B\n",
		name, srv.Name(), where, p, m, w, d, *bodyBytes)

	// Set up users and connections: recipients' devices first, so that nothing is sent to a
	// recipient before all of its devices listen.
	t := time.Now()
	users := make([]string, 0, 2*p)
	for i := range p {
		users = append(users, fmt.Sprintf("bench-pair-s-%d", i), fmt.Sprintf("bench-pair-r-%d", i))
	}
	if err := ensureUsers(ctx, srv, users); err != nil {
		return setupFailed(name, err)
	}
	tag := messageTag{nonce: randomNonce()}
	clock := runClock{t0: time.Now()}
	senders := make([]*pairSender, p)
	var devs []*pairDevice
	var opens []func(context.Context, *net.TCPAddr) error
	connsOn := make([]int, len(srvs)) // connections per instance
	for i := range p {
		senders[i] = newPairSender(users[2*i], users[2*i+1], m, w, srv.Features(), tag, clock, probs)
		for j := range d {
			dv := newPairDevice(senders[i], m)
			devs = append(devs, dv)
			on := deviceInstance(i, j, len(srvs))
			connsOn[on]++
			opens = append(opens, func(ctx context.Context, local *net.TCPAddr) (err error) {
				dv.conn, err = srvs[on].Connect(ctx, dv.user, ConnectOptions{LocalAddr: local}, dv.onEvent)
				return err
			})
		}
	}
	for i, s := range senders {
		on := senderInstance(i, len(srvs))
		connsOn[on]++
		opens = append(opens, func(ctx context.Context, local *net.TCPAddr) (err error) {
			s.conn, err = srvs[on].Connect(ctx, s.user, ConnectOptions{LocalAddr: local}, s.onEvent)
			return err
		})
	}
	if err := openAllConns(ctx, src, opens); err != nil {
		closePairs(senders, devs)
		return setupFailed(name, err)
	}
	fmt.Printf("  setup:      %d users, %d connections in %.2f s\n", len(users), len(opens), time.Since(t).Seconds())

	// Send. Every sender is a goroutine; its window is filled by sends and drained by acks.
	instBefore, haveProc := sampleServers(probes)
	svcBefore, haveSvc := sampleTrees(tg.services)
	selfBefore, _ := readProc(0)
	start := time.Now()
	var sending sync.WaitGroup
	for i, s := range senders {
		sending.Add(1)
		go func() {
			defer sending.Done()
			if *rate > 0 {
				s.sendPaced(ctx, sendCtx, m, *bodyBytes, pace{index: i, senders: p, rate: *rate})
			} else {
				s.sendAll(ctx, sendCtx, m, *bodyBytes)
			}
		}()
	}
	sending.Wait()
	res.Truncated = sendCtx.Err() != nil
	waitForReplies(ctx, senders, devs)
	instAfter, _ := sampleServers(probes)
	svcAfter, _ := sampleTrees(tg.services)
	selfAfter, _ := readProc(0)

	// Count what never arrived, then close, so that the event goroutines end before their
	// fields are read.
	var sent, acked, refused, delivered, lost int64
	for _, s := range senders {
		sent += s.sent.Load()
		acked += s.acked.Load()
		refused += s.refused.Load()
		if missing := s.sent.Load() - s.acked.Load() - s.refused.Load(); missing > 0 {
			probs.addN("missing ack", int(missing), "%s: %d of %d sends never answered", s.user, missing, s.sent.Load())
		}
	}
	for _, dv := range devs {
		got, want := dv.delivered.Load(), dv.from.acked.Load()
		delivered += got
		if got < want {
			lost += want - got
			probs.addN("missing delivery", int(want-got), "a device of %s got %d of %d acked messages", dv.user, got, want)
		} else if got > want {
			probs.addN("extra delivery", int(got-want), "a device of %s got %d messages, %d acked", dv.user, got, want)
		}
	}
	closePairs(senders, devs)

	var ackLat, delivLat []time.Duration
	last := start
	for _, s := range senders {
		ackLat = append(ackLat, s.ackLat...)
		if s.lastAt.After(last) {
			last = s.lastAt
		}
	}
	for _, dv := range devs {
		delivLat = append(delivLat, dv.lat...)
		if dv.lastAt.After(last) {
			last = dv.lastAt
		}
	}
	elapsed := last.Sub(start).Seconds()

	fmt.Printf("  sent:       %d messages, %d acked, %d refused, %d deliveries in %.2f s\n", sent, acked, refused, delivered, elapsed)
	fmt.Printf("  throughput: %.0f messages/s, %.0f deliveries/s\n", perSec(acked, elapsed), perSec(delivered, elapsed))
	var ackSum, delivSum fmt.Stringer
	if wide {
		ackSum, delivSum = summarizeTail(ackLat), summarizeTail(delivLat)
	} else {
		ackSum, delivSum = summarize(ackLat), summarize(delivLat)
	}
	fmt.Printf("  ack      (send → sent):    %s\n", ackSum)
	fmt.Printf("  delivery (send → message): %s\n", delivSum)
	met["ack_latency"] = ackSum
	met["delivery_latency"] = delivSum
	// The same from a histogram, with its buckets, for the comparison report (compare.py).
	met["ack_hist"] = histogramOf(ackLat).summary()
	met["delivery_hist"] = histogramOf(delivLat).summary()
	met["lost"] = lost
	met["messages_sent"] = sent
	met["messages_acked"] = acked
	met["messages_refused"] = refused
	met["deliveries"] = delivered
	met["elapsed_sec"] = elapsed
	met["messages_per_sec"] = perSec(acked, elapsed)
	met["deliveries_per_sec"] = perSec(delivered, elapsed)
	selfCPU := selfAfter.cpuSec() - selfBefore.cpuSec()
	if wide {
		use := cpuUse{urls: urls, pids: pids, conns: connsOn, before: instBefore, after: instAfter, haveProc: haveProc,
			services: tg.services, svcBefore: svcBefore, svcAfter: svcAfter, haveSvc: haveSvc}
		use.report(met, acked, delivered, elapsed, selfCPU)
	} else {
		if haveProc {
			serverBefore, serverAfter := instBefore[0], instAfter[0]
			cpu := serverAfter.cpuSec() - serverBefore.cpuSec()
			fmt.Printf("  server CPU: %.2f s (user %.2f, sys %.2f): %.0f deliveries per CPU-second\n",
				cpu, serverAfter.UserSec-serverBefore.UserSec, serverAfter.SystemSec-serverBefore.SystemSec, perCPU(delivered, cpu))
			fmt.Printf("  server RSS: %.1f MiB before, %.1f MiB after\n", mib(serverBefore.RSSBytes), mib(serverAfter.RSSBytes))
			met["server_cpu_sec"] = cpu
			met["server_cores"] = perSec(1, elapsed) * cpu
			met["server_cpu_user_sec"] = serverAfter.UserSec - serverBefore.UserSec
			met["server_cpu_sys_sec"] = serverAfter.SystemSec - serverBefore.SystemSec
			met["deliveries_per_server_cpu_sec"] = perCPU(delivered, cpu)
			met["messages_per_server_cpu_sec"] = perCPU(acked, cpu)
			met["server_rss_before_bytes"] = serverBefore.RSSBytes
			met["server_rss_after_bytes"] = serverAfter.RSSBytes
		}
		fmt.Printf("  client CPU: %.2f s (chat-bench itself shares the machine with the server)\n", selfCPU)
		met["client_cpu_sec"] = selfCPU
		met["client_cores"] = perSec(1, elapsed) * selfCPU
	}
	if res.Truncated {
		fmt.Println("  (--duration stopped the sending early)")
	}
	return res.finish(os.Stdout, probs, cf.json)
}

// sendAll sends the sender's messages in order, each once a window slot is free, until stop
// ends. Writes use the run's ctx: a websocket write cut short by its context closes the
// connection, and the replies to the sends already made are still wanted.
func (s *pairSender) sendAll(ctx, stop context.Context, messages, bodyBytes int) {
	for k := range messages {
		select {
		case s.window <- struct{}{}:
		case <-stop.Done():
			return
		}
		if s.broken.Load() {
			return
		}
		s.sentAt[k].Store(s.clock.now())
		if err := s.conn.Send(ctx, s.tag.id(k), s.to, s.tag.body(k, bodyBytes)); err != nil {
			if ctx.Err() == nil {
				s.probs.add("send failed", "%s: %v", s.user, err)
			}
			return
		}
		s.sent.Add(1)
	}
}

// pace is one sender's share of an open-loop schedule: rate messages/s over senders senders,
// spread evenly, sender index's k-th message due at (k·senders + index) / rate after the start.
type pace struct {
	index, senders int
	rate           float64
}

func (p pace) due(k int) time.Duration {
	return time.Duration(float64(k*p.senders+p.index) / p.rate * float64(time.Second))
}

// sendPaced sends message k when it is due, late ones at once, and stores the due time as its
// send time, so that a server falling behind shows as latency instead of a slower schedule.
func (s *pairSender) sendPaced(ctx, stop context.Context, messages, bodyBytes int, p pace) {
	start := s.clock.now()
	for k := range messages {
		due := start + int64(p.due(k))
		if wait := time.Duration(due - s.clock.now()); wait > 0 {
			select {
			case <-time.After(wait):
			case <-stop.Done():
				return
			}
		}
		if stop.Err() != nil || s.broken.Load() {
			return
		}
		s.window <- struct{}{} // never blocks: the window holds every message
		s.sentAt[k].Store(due)
		if err := s.conn.Send(ctx, s.tag.id(k), s.to, s.tag.body(k, bodyBytes)); err != nil {
			if ctx.Err() == nil {
				s.probs.add("send failed", "%s: %v", s.user, err)
			}
			return
		}
		s.sent.Add(1)
	}
}

// waitForReplies returns when every send was answered and every acked message reached every
// device, when a connection broke, or when ctx ends.
func waitForReplies(ctx context.Context, senders []*pairSender, devs []*pairDevice) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		complete := true
		for _, s := range senders {
			if s.broken.Load() {
				return
			}
			complete = complete && s.acked.Load()+s.refused.Load() == s.sent.Load()
		}
		for _, dv := range devs {
			if dv.broken.Load() {
				return
			}
			complete = complete && dv.delivered.Load() >= dv.from.acked.Load()
		}
		if complete {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// closePairs closes every open connection and waits (bounded) for its event goroutine to end.
func closePairs(senders []*pairSender, devs []*pairDevice) {
	var wg sync.WaitGroup
	closeOne := func(c Conn, done chan struct{}) {
		if c == nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Close()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
			}
		}()
	}
	for _, s := range senders {
		closeOne(s.conn, s.done)
	}
	for _, dv := range devs {
		closeOne(dv.conn, dv.done)
	}
	wg.Wait()
}

func randomNonce() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func perSec(n int64, sec float64) float64 {
	if sec <= 0 {
		return 0
	}
	return float64(n) / sec
}

func perCPU(n int64, cpuSec float64) float64 { return perSec(n, cpuSec) }
