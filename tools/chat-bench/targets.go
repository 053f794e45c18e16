package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// A pairs run may spread its connections over the instances of one cluster. The instances
// share one store, so users are created through the first; each pair's sender and recipient
// are then put on different instances, so that every message crosses from one to another.

// targetFlags are the flags that name several instances instead of one --url and --pid, and
// the services they share.
type targetFlags struct {
	urls     string
	pids     string
	services string
}

// targets are the resolved targetFlags.
type targets struct {
	urls     []string
	pids     []int // in urls order; none without --pid or --pids
	services []int // --service-pids
}

func (t *targetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.urls, "urls", "", "comma-separated base URLs of the instances of one cluster, instead of --url; users are created through the first")
	fs.StringVar(&t.pids, "pids", "", "comma-separated process ids of the instances, in --urls order, instead of --pid: server CPU and RSS per instance and summed")
	fs.StringVar(&t.services, "service-pids", "", "comma-separated process ids of the services the instances share (Kafka, PostgreSQL's postmaster): their CPU, child processes included, is reported apart")
}

// resolve returns the instances' URLs (--urls, else --url), their process ids (--pids, else
// --pid; none when neither was given) and the services'. fs must have been parsed.
func (t *targetFlags) resolve(fs *flag.FlagSet, cf *commonFlags) (targets, error) {
	var tg targets
	var err error
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case set["urls"] && set["url"]:
		return targets{}, errors.New("give --url or --urls, not both")
	case set["pids"] && set["pid"]:
		return targets{}, errors.New("give --pid or --pids, not both")
	}

	tg.urls = []string{cf.url}
	if set["urls"] {
		if tg.urls, err = splitList("--urls", t.urls); err != nil {
			return targets{}, err
		}
		seen := map[string]bool{}
		for _, u := range tg.urls {
			if seen[u] {
				return targets{}, fmt.Errorf("--urls: %s is listed twice", u)
			}
			seen[u] = true
		}
	}

	switch {
	case set["pids"]:
		if tg.pids, err = splitPids("--pids", t.pids); err != nil {
			return targets{}, err
		}
		if len(tg.pids) != len(tg.urls) {
			return targets{}, fmt.Errorf("--pids has %d process ids for %d URLs; give one per instance, in the same order", len(tg.pids), len(tg.urls))
		}
	case cf.pid > 0 && len(tg.urls) > 1:
		return targets{}, errors.New("--pid with several --urls: give --pids, one per instance")
	case cf.pid > 0:
		tg.pids = []int{cf.pid}
	}
	if set["service-pids"] {
		if tg.services, err = splitPids("--service-pids", t.services); err != nil {
			return targets{}, err
		}
	}
	return tg, nil
}

// splitList splits a comma-separated flag value; an empty item is an error.
func splitList(flagName, value string) ([]string, error) {
	items := strings.Split(value, ",")
	for i, s := range items {
		items[i] = strings.TrimSpace(s)
		if items[i] == "" {
			return nil, fmt.Errorf("%s %q: an empty item", flagName, value)
		}
	}
	return items, nil
}

// splitPids splits a comma-separated list of process ids.
func splitPids(flagName, value string) ([]int, error) {
	items, err := splitList(flagName, value)
	if err != nil {
		return nil, err
	}
	pids := make([]int, len(items))
	for i, s := range items {
		pid, err := strconv.Atoi(s)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("%s: %q is not a process id", flagName, s)
		}
		pids[i] = pid
	}
	return pids, nil
}

// senderInstance and deviceInstance place pair p's connections on n instances, round-robin:
// its sender on instance p mod n, and its recipient's device j on the instances after that
// one. Devices 0 … n-2 are thus on other instances than their sender (device n-1 wraps round
// to the sender's), so with fewer devices than instances every message crosses instances; and
// over n consecutive pairs each instance holds as many senders as devices.
func senderInstance(p, n int) int    { return p % n }
func deviceInstance(p, j, n int) int { return (p + 1 + j) % n }
