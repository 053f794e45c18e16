package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

func idleUser(i int) string { return fmt.Sprintf("bench-idle-%d", i) }

// idleStatus is a snapshot of a set of idle connections; a worker process sends it to the
// parent as one JSON line.
type idleStatus struct {
	Opened   int           `json:"opened"` // accepted by the server (hello received)
	Failed   int           `json:"failed"` // refused or broken during the handshake
	Open     int           `json:"open"`   // still open now
	Problems problemReport `json:"problems"`
}

// idleGroup holds the idle workload's connections first..first+count-1 (user bench-idle-<i>,
// one connection each) in this process. It counts the ones the server closes: nothing is sent
// on an idle connection, so the server has no reason to close one while it is held. Safe for
// concurrent use.
type idleGroup struct {
	srv          Server
	src          sourceAddrs
	first, count int
	probs        *problems

	opened, failed, open atomic.Int64

	mu    sync.Mutex
	conns []Conn
}

func newIdleGroup(srv Server, src sourceAddrs, first, count int) *idleGroup {
	return &idleGroup{srv: srv, src: src, first: first, count: count, probs: newProblems()}
}

// openAll opens the group's connections, dialParallelism at a time, and returns when each has
// been accepted or has failed, or ctx ended.
func (g *idleGroup) openAll(ctx context.Context) { g.openRange(ctx, g.first, g.count) }

// openRange opens connections first..first+count-1 of the group, like openAll.
func (g *idleGroup) openRange(ctx context.Context, first, count int) {
	sem := make(chan struct{}, dialParallelism)
	var wg sync.WaitGroup
	for i := first; i < first+count && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			// Counted open before Connect: the close event may race Connect's return.
			g.open.Add(1)
			c, err := g.srv.Connect(ctx, idleUser(i), ConnectOptions{LocalAddr: g.src.forConn(i)}, g.onEvent)
			if err != nil {
				g.open.Add(-1)
				g.failed.Add(1)
				g.probs.add("connect failed", "%v", err)
				return
			}
			g.opened.Add(1)
			g.mu.Lock()
			g.conns = append(g.conns, c)
			g.mu.Unlock()
		}()
	}
	wg.Wait()
}

func (g *idleGroup) onEvent(ev Event) {
	switch ev.Kind {
	case EventClosed:
		g.open.Add(-1)
		if !ev.ByClient {
			g.probs.add("idle connection closed by the server", "%s", closeText(ev))
		}
	case EventError:
		g.probs.add("error "+ev.Code, "on an idle connection: %s", ev.Reason)
	}
}

func (g *idleGroup) status() idleStatus {
	return idleStatus{Opened: int(g.opened.Load()), Failed: int(g.failed.Load()),
		Open: int(g.open.Load()), Problems: g.probs.report()}
}

// closeAll closes every connection with a close handshake, giving up after timeout.
func (g *idleGroup) closeAll(timeout time.Duration) {
	g.mu.Lock()
	conns := g.conns
	g.conns = nil
	g.mu.Unlock()
	done := make(chan struct{})
	go func() {
		sem := make(chan struct{}, 256)
		var wg sync.WaitGroup
		for _, c := range conns {
			sem <- struct{}{}
			wg.Add(1)
			go func() { defer func() { <-sem; wg.Done() }(); c.Close() }()
		}
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
	}
}
