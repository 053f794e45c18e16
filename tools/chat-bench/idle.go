package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

// The idle workload measures what an open connection costs the server when nothing happens on
// it: users bench-idle-<i> each open one connection, and the server's RSS is read before and
// after. It also reports how fast the server accepts connections, and whether it keeps all of
// them for --hold (it pings every 25 s; the client answers, so none should be closed).

const idleSettle = 2 * time.Second // lets the server finish handshake bookkeeping before RSS is read

// The connect workload is idle with no hold by default, read for its handshake numbers:
// handshakes per second and server CPU per handshake.
func runIdle(name string, args []string, defaultHold time.Duration) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var cf commonFlags
	cf.register(fs)
	conns := fs.Int("conns", 5000, fmt.Sprintf("connections to open and hold, one user each (bench-idle-<i>); at most %d", maxConnections))
	hold := fs.Duration("hold", defaultHold, "how long to hold the connections once they are open")
	steps := fs.String("steps", "", "open the connections in steps, e.g. 1000,5000,15000, sampling the server after each\n"+
		"(replaces --conns; at most one process's worth)")
	pause := fs.Bool("pause", false, "with --steps: after each step print a JSON line {\"paused_at\": N} and wait for a\n"+
		"line on stdin, so that another workload can run while the connections are held")
	workerRange := fs.String("worker-range", "", "internal: run as the worker process for connections FIRST:COUNT")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "chat-bench idle: open --conns connections, hold them for --hold, and report the server's RSS per\n"+
			"connection. Over %d connections are spread over worker processes, and every %d over another\n"+
			"source address 127.0.0.x.\n\nFlags:\n", connsPerProcess, connsPerSourceAddr)
		fs.PrintDefaults()
	}
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	srv, src, err := cf.openServer()
	if err != nil {
		return setupFailed("idle", err)
	}
	if *steps != "" {
		counts, err := parseSteps(*steps)
		if err != nil {
			return setupFailed(name, err)
		}
		return runIdleSteps(srv, src, cf, counts, *pause, *hold)
	}
	if *workerRange != "" {
		return runIdleWorker(srv, src, *workerRange, cf.duration)
	}
	n := *conns
	if n < 1 || n > maxConnections || *hold < 0 {
		return setupFailed("idle", fmt.Errorf("--conns must be 1..%d and --hold not negative", maxConnections))
	}

	deadline := time.Now().Add(cf.duration)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	probe := serverProbe{cf.pid}
	probs := newProblems()
	res := newResult(srv.Name(), name)
	res.Params["conns"] = n
	res.Params["hold_sec"] = hold.Seconds()
	res.Params["duration_sec"] = cf.duration.Seconds()
	m := res.Metrics
	fmt.Printf("chat-bench %s: %s at %s, %d connections, hold %s\n", name, srv.Name(), cf.url, n, *hold)

	users := make([]string, n)
	for i := range users {
		users[i] = idleUser(i)
	}
	t := time.Now()
	if err := ensureUsers(ctx, srv, users); err != nil {
		return setupFailed("idle", err)
	}
	userSec := time.Since(t).Seconds()
	fmt.Printf("  users:   %d ensured in %.1f s (%.0f/s)\n", n, userSec, float64(n)/userSec)
	m["users_per_sec"] = float64(n) / userSec

	before, haveProc := probe.sample()
	sockBefore, _ := readSockstatTCPMem()
	t = time.Now()
	holders, opened, failed := openIdleHolders(ctx, srv, src, cf, deadline, n)
	openSec := time.Since(t).Seconds()
	afterOpen, _ := probe.sample()
	procs := len(holders)
	addrs := 1
	if src.spread {
		addrs = (n + connsPerSourceAddr - 1) / connsPerSourceAddr
	}
	fmt.Printf("  open:    %d of %d accepted in %.1f s (%.0f/s), %d failed; %d process(es), %d source address(es)\n",
		opened, n, openSec, float64(opened)/openSec, failed, procs, addrs)
	m["conns_opened"] = opened
	m["conns_failed"] = failed
	m["open_sec"] = openSec
	m["opens_per_sec"] = float64(opened) / openSec
	m["processes"] = procs
	m["source_addrs"] = addrs

	sleepCtx(ctx, min(idleSettle, *hold))
	withConns, _ := probe.sample()
	sockWith, sockErr := readSockstatTCPMem()
	if sockErr == nil && opened > 0 {
		perConn := float64(sockWith-sockBefore) / float64(opened)
		fmt.Printf("  kernel TCP memory: %.1f KiB per connection, both ends (/proc/net/sockstat)\n", perConn/1024)
		m["kernel_tcp_mem_per_conn_bytes"] = perConn
	}
	sleepCtx(ctx, *hold-idleSettle)
	res.Truncated = ctx.Err() != nil
	held := 0
	for _, h := range holders {
		st, err := h.status()
		if err != nil {
			probs.add("worker failed", "%v", err)
			continue
		}
		held += st.Open
		probs.merge(st.Problems)
	}
	afterHold, _ := probe.sample()
	fmt.Printf("  held:    %d still open after %.1f s\n", held, time.Since(t).Seconds()-openSec)
	m["conns_held"] = held

	for _, h := range holders {
		h.stop()
	}
	sleepCtx(context.Background(), time.Second) // the server frees sessions after the close handshakes
	afterClose, _ := probe.sample()

	if haveProc {
		perConn := 0.0
		if opened > 0 {
			perConn = float64(withConns.RSSBytes-before.RSSBytes) / float64(opened)
		}
		fmt.Printf("  server RSS: %.1f MiB before, %.1f MiB with connections, %.1f MiB after hold, %.1f MiB after close\n",
			mib(before.RSSBytes), mib(withConns.RSSBytes), mib(afterHold.RSSBytes), mib(afterClose.RSSBytes))
		fmt.Printf("  server RSS per idle connection: %.1f KiB\n", perConn/1024)
		fmt.Printf("  server CPU: %.2f s while opening (%.0f us per connection), %.2f s while holding\n",
			afterOpen.cpuSec()-before.cpuSec(), 1e6*(afterOpen.cpuSec()-before.cpuSec())/float64(max(opened, 1)),
			afterHold.cpuSec()-afterOpen.cpuSec())
		m["server_rss_before_bytes"] = before.RSSBytes
		m["server_rss_with_conns_bytes"] = withConns.RSSBytes
		m["server_rss_after_hold_bytes"] = afterHold.RSSBytes
		m["server_rss_after_close_bytes"] = afterClose.RSSBytes
		m["server_rss_per_conn_bytes"] = perConn
		m["server_cpu_open_sec"] = afterOpen.cpuSec() - before.cpuSec()
		m["handshakes_per_server_cpu_sec"] = perCPU(int64(opened), afterOpen.cpuSec()-before.cpuSec())
		m["server_cpu_hold_sec"] = afterHold.cpuSec() - afterOpen.cpuSec()
	}
	if res.Truncated {
		fmt.Println("  (--duration ended the hold early)")
	}
	return res.finish(os.Stdout, probs, cf.json)
}

// idleHolder is a share of the idle connections, held in this process or in a worker.
type idleHolder interface {
	status() (idleStatus, error)
	stop()
}

type localHolder struct{ g *idleGroup }

func (h localHolder) status() (idleStatus, error) { return h.g.status(), nil }
func (h localHolder) stop()                       { h.g.closeAll(10 * time.Second) }

type workerHolder struct{ w *idleWorker }

func (h workerHolder) status() (idleStatus, error) { return h.w.askStatus() }
func (h workerHolder) stop()                       { h.w.stop() }

// openIdleHolders opens n connections, in this process when one can hold them and otherwise in
// worker processes, and returns once every connection was accepted or failed.
func openIdleHolders(ctx context.Context, srv Server, src sourceAddrs, cf commonFlags, deadline time.Time, n int) (holders []idleHolder, opened, failed int) {
	if n <= connsPerProcess {
		g := newIdleGroup(srv, src, 0, n)
		g.openAll(ctx)
		st := g.status()
		return []idleHolder{localHolder{g}}, st.Opened, st.Failed
	}
	secret := cf.secret
	if secret == "" {
		secret = os.Getenv("CHAT_JWT_SECRET")
	}
	wcf := cf
	wcf.duration = time.Until(deadline) // a worker must not outlive the run
	var workers []*idleWorker
	var shares []int
	for first := 0; first < n; first += connsPerProcess {
		share := min(connsPerProcess, n-first)
		w, err := startIdleWorker(wcf, secret, first, share)
		if err != nil {
			fmt.Fprintf(os.Stderr, "chat-bench idle: cannot start a worker: %v\n", err)
			failed += share
			continue
		}
		workers = append(workers, w)
		shares = append(shares, share)
		holders = append(holders, workerHolder{w})
	}
	// Workers open their connections in parallel; each reports once it is done.
	for i, w := range workers {
		st, err := w.readStatus()
		if err != nil {
			fmt.Fprintf(os.Stderr, "chat-bench idle: %v\n", err)
			failed += shares[i]
			continue
		}
		opened += st.Opened
		failed += st.Failed
	}
	return holders, opened, failed
}

// sleepCtx sleeps for d, or less if ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
