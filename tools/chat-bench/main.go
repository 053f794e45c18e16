// chat-bench is a load generator for chat servers. It prints numbers (latency percentiles,
// throughput, server memory and CPU) and asserts nothing about speed; it exits non-zero only
// when the server breaks the protocol. Servers are reached through the Server interface
// (adapter.go), so that chat-engine, Centrifugo and a Node.js server can run the same workloads.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime/pprof"
	"time"
)

const (
	exitOK             = 0
	exitProtocolErrors = 1
	exitSetup          = 2 // bad flags, or the server could not be reached or set up
)

const usage = `chat-bench: a load generator for chat servers. It prints numbers and asserts nothing
about speed. Traffic goes only to 127.0.0.0/8 and every run is bounded by --duration.

Usage:
  chat-bench idle   [flags]   open N idle connections and hold them: server RSS per connection
                              (--steps 1000,5000,15000: a memory curve; --pause: hold them
                              while another workload runs)
  chat-bench connect [flags]  open N connections and close them: handshakes per second and
                              server CPU per handshake
  chat-bench pairs  [flags]   P senders each send M messages to their own recipient, who has
                              D devices: ack and delivery latency, throughput, server CPU;
                              --rate R: open loop at R messages/s in total
  chat-bench fanout [flags]   pairs with --devices 3 by default (multi-device fan-out)
  chat-bench cluster [flags]  pairs over the instances of one cluster (--urls, --pids): each
                              sender on one instance, its recipient on another; adds p99.9
                              latency and server CPU per message, per instance and summed
  chat-bench <workload> -h    the flags of a workload

Every workload needs --url, --secret (or env CHAT_JWT_SECRET) and, for server memory and
CPU numbers, --pid. pairs, fanout and cluster take --urls and --pids instead for several
instances. Output: human-readable lines, then with --json one JSON line with every
number.

Exit status: 0 done; 1 the server broke the protocol (the errors are listed); 2 bad flags or
the server could not be reached. What each number means: docs/benchmarks.md.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(exitSetup)
	}
	// CHAT_BENCH_CPUPROFILE=file writes a CPU profile of this process, to check that the load
	// generator is not what limits a run (go tool pprof chat-bench file).
	if path := os.Getenv("CHAT_BENCH_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	status := runWorkload()
	pprof.StopCPUProfile() // os.Exit skips deferred calls
	os.Exit(status)
}

func runWorkload() int {
	var status int
	switch os.Args[1] {
	case "idle":
		status = runIdle("idle", os.Args[2:], 10*time.Second)
	case "connect":
		status = runIdle("connect", os.Args[2:], 0)
	case "pairs":
		status = runPairs("pairs", os.Args[2:], 1)
	case "fanout":
		status = runPairs("fanout", os.Args[2:], 3)
	case "cluster":
		status = runPairs("cluster", os.Args[2:], 1)
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "chat-bench: unknown workload %q\n\n%s", os.Args[1], usage)
		status = exitSetup
	}
	return status
}

// commonFlags are the flags every workload takes.
type commonFlags struct {
	url      string
	secret   string
	pid      int
	duration time.Duration
	json     bool
	server   string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8000", "server base URL (http://127.x.y.z:port); only loopback hosts are allowed")
	fs.StringVar(&c.secret, "secret", "", "HS256 secret to mint tokens with (default: env CHAT_JWT_SECRET)")
	fs.IntVar(&c.pid, "pid", 0, "server process id, to read its RSS and CPU time from /proc (optional)")
	fs.DurationVar(&c.duration, "duration", 60*time.Second, "upper bound on the whole run, setup included")
	fs.BoolVar(&c.json, "json", false, "end with one JSON line holding every number")
	fs.StringVar(&c.server, "server", "chat-engine", "server protocol adapter: chat-engine, centrifugo or node-relay")
}

// parseFlags parses args. When they are unusable, or were -h, it has printed why and returns
// ok false with the exit status.
func parseFlags(fs *flag.FlagSet, args []string) (status int, ok bool) {
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitSetup, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "chat-bench %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitSetup, false
	}
	return exitOK, true
}

// openServer checks the common flags and builds the adapter.
func (c *commonFlags) openServer() (Server, sourceAddrs, error) {
	srvs, src, err := c.openServers("--url", []string{c.url})
	if err != nil {
		return nil, sourceAddrs{}, err
	}
	return srvs[0], src, nil
}

// openServers checks the common flags and builds one adapter per instance URL. flagName is
// the flag the URLs came from, for the error messages.
func (c *commonFlags) openServers(flagName string, urls []string) ([]Server, sourceAddrs, error) {
	if c.duration <= 0 || c.duration > time.Hour {
		return nil, sourceAddrs{}, errors.New("--duration must be between 0 and 1h")
	}
	src := sourceAddrs{spread: true}
	bases := make([]*url.URL, len(urls))
	for i, u := range urls {
		base, err := url.Parse(u)
		if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
			return nil, sourceAddrs{}, fmt.Errorf("%s %q: want http://host:port", flagName, u)
		}
		ip, err := loopbackTarget(base.Hostname())
		if err != nil {
			return nil, sourceAddrs{}, err
		}
		bases[i] = base
		src.spread = src.spread && ip.To4() != nil
	}
	secret := c.secret
	if secret == "" {
		secret = os.Getenv("CHAT_JWT_SECRET")
	}
	if secret == "" {
		return nil, sourceAddrs{}, errors.New("no secret: pass --secret or set CHAT_JWT_SECRET")
	}
	// Tokens outlive the run, so that no workload has to refresh them.
	ttl := c.duration + 10*time.Minute
	srvs := make([]Server, len(bases))
	for i, base := range bases {
		switch c.server {
		case "chat-engine":
			srvs[i] = newChatEngine(base, []byte(secret), os.Getenv("CHAT_API_KEY"), ttl)
		case "centrifugo":
			srvs[i] = newCentrifugo(base, []byte(secret), ttl)
		case "node-relay":
			srvs[i] = newNodeRelay(base, []byte(secret), ttl)
		default:
			return nil, sourceAddrs{}, fmt.Errorf("--server %q: want chat-engine, centrifugo or node-relay", c.server)
		}
	}
	return srvs, src, nil
}

// loopbackTarget refuses anything outside the loopback range: this tool generates load, and
// the only server it may load is one on this machine. Only "localhost" and literal addresses
// are accepted, so that no name lookup leaves the machine either.
func loopbackTarget(host string) (net.IP, error) {
	if host == "localhost" {
		return net.IPv4(127, 0, 0, 1), nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--url host %q: want localhost or a loopback address (127.0.0.0/8, ::1)", host)
	}
	return ip, nil
}

func setupFailed(workload string, err error) int {
	fmt.Fprintf(os.Stderr, "chat-bench %s: %v\n", workload, err)
	return exitSetup
}
