package main

import (
	"fmt"
	"math"
	"strings"
)

// What a pairs run over several instances (and every cluster run) reports beyond a pairs run:
// server CPU summed over the instances and per instance, CPU per message, the CPU of the
// services the instances share (--service-pids), and how much of the machine chat-bench itself
// took. Every instance, Kafka, PostgreSQL and chat-bench share one machine, so a cluster's CPU
// per message is the number to compare, not its throughput.

// cpuUse is what the instances and services of a run used.
type cpuUse struct {
	urls          []string
	pids          []int // in urls order; none without --pid or --pids
	conns         []int // connections opened on each instance
	before, after []procSample
	haveProc      bool

	services            []int // process tree roots
	svcBefore, svcAfter []procSample
	haveSvc             bool
}

// instanceReport is one instance in the JSON line; instanceProc is nil without process ids.
type instanceReport struct {
	URL         string `json:"url"`
	PID         int    `json:"pid,omitempty"`
	Connections int    `json:"connections"`
	*instanceProc
}

type instanceProc struct {
	CPUSec         float64 `json:"cpu_sec"`
	CPUUserSec     float64 `json:"cpu_user_sec"`
	CPUSysSec      float64 `json:"cpu_sys_sec"`
	Cores          float64 `json:"cores"` // CPU seconds per second of the run
	RSSBeforeBytes int64   `json:"rss_before_bytes"`
	RSSAfterBytes  int64   `json:"rss_after_bytes"`
}

// serviceReport is one service in the JSON line.
type serviceReport struct {
	PID    int     `json:"pid"`
	Name   string  `json:"name"`
	CPUSec float64 `json:"cpu_sec"`
}

// report prints the CPU lines of the run and records them in met.
func (u cpuUse) report(met map[string]any, acked, delivered int64, elapsed, clientCPU float64) {
	var total procSample
	var rssBefore, rssAfter int64
	instances := make([]instanceReport, len(u.urls))
	for i, url := range u.urls {
		instances[i] = instanceReport{URL: url, Connections: u.conns[i]}
		if !u.haveProc {
			continue
		}
		b, a := u.before[i], u.after[i]
		instances[i].PID = u.pids[i]
		instances[i].instanceProc = &instanceProc{
			CPUSec:         round3(a.cpuSec() - b.cpuSec()),
			CPUUserSec:     round3(a.UserSec - b.UserSec),
			CPUSysSec:      round3(a.SystemSec - b.SystemSec),
			Cores:          round3(cores(a.cpuSec()-b.cpuSec(), elapsed)),
			RSSBeforeBytes: b.RSSBytes,
			RSSAfterBytes:  a.RSSBytes,
		}
		total.UserSec += a.UserSec - b.UserSec
		total.SystemSec += a.SystemSec - b.SystemSec
		rssBefore += b.RSSBytes
		rssAfter += a.RSSBytes
	}

	if u.haveProc {
		cpu := total.cpuSec()
		fmt.Printf("  server CPU: %.2f s on %d instance(s) (user %.2f, sys %.2f): %.3f ms per message, %.2f cores, %.0f deliveries per CPU-second\n",
			cpu, len(u.urls), total.UserSec, total.SystemSec, msPer(cpu, acked), cores(cpu, elapsed), perCPU(delivered, cpu))
		met["server_cpu_sec"] = cpu
		met["server_cpu_user_sec"] = total.UserSec
		met["server_cpu_sys_sec"] = total.SystemSec
		met["server_cpu_ms_per_message"] = msPer(cpu, acked)
		met["server_cores"] = cores(cpu, elapsed)
		met["deliveries_per_server_cpu_sec"] = perCPU(delivered, cpu)
		met["messages_per_server_cpu_sec"] = perCPU(acked, cpu)
		met["server_rss_before_bytes"] = rssBefore
		met["server_rss_after_bytes"] = rssAfter
	}
	for i, in := range instances {
		line := fmt.Sprintf("    instance %d: %s, %d connections", i+1, in.URL, in.Connections)
		if p := in.instanceProc; p != nil {
			line += fmt.Sprintf(", pid %d: CPU %.2f s (%.2f cores), RSS %.1f → %.1f MiB",
				in.PID, p.CPUSec, p.Cores, mib(p.RSSBeforeBytes), mib(p.RSSAfterBytes))
		}
		fmt.Println(line)
	}
	met["instances"] = instances

	if u.haveSvc {
		var cpu float64
		services := make([]serviceReport, len(u.services))
		parts := make([]string, len(u.services))
		for i, pid := range u.services {
			used := u.svcAfter[i].cpuSec() - u.svcBefore[i].cpuSec()
			cpu += used
			services[i] = serviceReport{PID: pid, Name: processName(pid), CPUSec: round3(used)}
			parts[i] = fmt.Sprintf("%s %d %.2f s", services[i].Name, pid, used)
		}
		fmt.Printf("  services CPU: %.2f s: %.3f ms per message, %.2f cores (%s; child processes included)\n",
			cpu, msPer(cpu, acked), cores(cpu, elapsed), strings.Join(parts, ", "))
		met["services_cpu_sec"] = cpu
		met["services_cpu_ms_per_message"] = msPer(cpu, acked)
		met["services_cores"] = cores(cpu, elapsed)
		met["services"] = services
	}

	fmt.Printf("  client CPU: %.2f s: %.3f ms per message, %.2f cores (chat-bench itself shares the machine with the servers)\n",
		clientCPU, msPer(clientCPU, acked), cores(clientCPU, elapsed))
	met["client_cpu_sec"] = clientCPU
	met["client_cpu_ms_per_message"] = msPer(clientCPU, acked)
	met["client_cores"] = cores(clientCPU, elapsed)
}

// msPer is CPU milliseconds per message.
func msPer(cpuSec float64, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return cpuSec * 1000 / float64(n)
}

// cores is CPU seconds per second of the run: 1 is one core kept busy.
func cores(cpuSec, elapsed float64) float64 {
	if elapsed <= 0 {
		return 0
	}
	return cpuSec / elapsed
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
