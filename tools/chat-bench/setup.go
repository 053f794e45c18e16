package main

import (
	"context"
	"net"
	"sync"
)

const (
	// connsPerSourceAddr: a connection from a bound source address takes one of its ~28000
	// ephemeral ports (32768-60999), so each 10000 connections get their own 127.0.0.x.
	connsPerSourceAddr = 10000
	// connsPerProcess: a process may hold about 20000 descriptors (ulimit -Hn), so the idle
	// workload spreads larger counts over worker processes.
	connsPerProcess = 15000
	// dialParallelism bounds handshakes in flight per process: enough to keep the server's
	// accept loop busy without overflowing its listen backlog.
	dialParallelism = 32
	// maxConnections bounds any workload's total, whatever the flags say.
	maxConnections = 100000
)

// sourceAddrs picks the source address of the i-th connection of a run: 127.0.0.1 for the first
// connsPerSourceAddr, then 127.0.0.2, and so on. Linux answers on all of 127.0.0.0/8. spread is
// false for an IPv6 target, which then gets the kernel's choice.
type sourceAddrs struct{ spread bool }

func (s sourceAddrs) forConn(i int) *net.TCPAddr {
	if !s.spread {
		return nil
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i/connsPerSourceAddr))}
}

// ensureUsers creates every user, a few requests at a time, and returns the first error.
func ensureUsers(ctx context.Context, srv Server, users []string) error {
	const parallel = 16 // concurrent creates let a group-committing store batch its fsyncs
	work := make(chan string)
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				if err := srv.EnsureUser(ctx, u); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for _, u := range users {
		select {
		case work <- u:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

// openAllConns runs the opens, dialParallelism at a time, each from the source address of its
// index, and returns the first error.
func openAllConns(ctx context.Context, src sourceAddrs, opens []func(context.Context, *net.TCPAddr) error) error {
	sem := make(chan struct{}, dialParallelism)
	errs := make(chan error, len(opens))
	var wg sync.WaitGroup
	for i, open := range opens {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := open(ctx, src.forConn(i)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs // nil when the channel is empty
}
