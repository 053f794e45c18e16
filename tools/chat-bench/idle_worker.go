package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// More idle connections than one process can hold (connsPerProcess) are spread over worker
// processes: chat-bench re-executes itself as `chat-bench idle --worker-range FIRST:COUNT`.
// The conversation is line-based:
//
//	worker -> parent  one idleStatus JSON line once its connections are open
//	parent -> worker  "status\n"; the worker answers with another idleStatus line
//	parent closes the worker's stdin: it closes its connections and exits
//
// The secret travels in the environment (CHAT_JWT_SECRET), never on a command line that ps shows.

// runIdleWorker is the worker side. It exits by itself at --duration, so a worker whose parent
// died does not hold connections forever.
func runIdleWorker(srv Server, src sourceAddrs, rangeSpec string, duration time.Duration) int {
	var first, count int
	if _, err := fmt.Sscanf(rangeSpec, "%d:%d", &first, &count); err != nil || first < 0 || count <= 0 {
		return setupFailed("idle worker", fmt.Errorf("--worker-range %q: want FIRST:COUNT", rangeSpec))
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	g := newIdleGroup(srv, src, first, count)
	g.openAll(ctx)

	out := json.NewEncoder(os.Stdout)
	_ = out.Encode(g.status())
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				g.closeAll(10 * time.Second)
				return exitOK
			}
			if line == "status" {
				_ = out.Encode(g.status())
			}
		case <-ctx.Done():
			g.closeAll(10 * time.Second)
			return exitOK
		}
	}
}

// idleWorker is the parent's handle on one worker process.
type idleWorker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Scanner
}

// startIdleWorker starts a worker for connections first..first+count-1; cf holds the flags to
// pass on, secret the resolved secret.
func startIdleWorker(cf commonFlags, secret string, first, count int) (*idleWorker, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "idle",
		"--worker-range", strconv.Itoa(first)+":"+strconv.Itoa(count),
		"--url", cf.url, "--server", cf.server, "--duration", cf.duration.String())
	cmd.Env = append(os.Environ(), "CHAT_JWT_SECRET="+secret)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &idleWorker{cmd: cmd, stdin: stdin, stdout: bufio.NewScanner(stdout)}, nil
}

// readStatus reads the worker's next status line.
func (w *idleWorker) readStatus() (idleStatus, error) {
	var st idleStatus
	if !w.stdout.Scan() {
		return st, fmt.Errorf("worker %d ended without a status: %v", w.cmd.Process.Pid, w.stdout.Err())
	}
	return st, json.Unmarshal(w.stdout.Bytes(), &st)
}

func (w *idleWorker) askStatus() (idleStatus, error) {
	if _, err := io.WriteString(w.stdin, "status\n"); err != nil {
		return idleStatus{}, err
	}
	return w.readStatus()
}

// stop asks the worker to close its connections and waits for it to exit.
func (w *idleWorker) stop() {
	w.stdin.Close()
	done := make(chan struct{})
	go func() { _ = w.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = w.cmd.Process.Kill()
		<-done
	}
}
