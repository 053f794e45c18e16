package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procSample is a process's resident memory and CPU time at one moment, read from /proc.
type procSample struct {
	RSSBytes  int64
	UserSec   float64
	SystemSec float64
}

func (s procSample) cpuSec() float64 { return s.UserSec + s.SystemSec }

// clockTicksPerSec is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. The kernel
// reports 100 to user space on every architecture Linux runs on, and reading sysconf would
// need cgo.
const clockTicksPerSec = 100

// readProc samples process pid; pid 0 means this process.
func readProc(pid int) (procSample, error) {
	dir := "/proc/self"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	var s procSample
	rss, err := readVmRSS(dir + "/status")
	if err != nil {
		return s, err
	}
	s.RSSBytes = rss
	st, err := readStat(dir + "/stat")
	if err != nil {
		return s, err
	}
	s.UserSec = float64(st.utime) / clockTicksPerSec
	s.SystemSec = float64(st.stime) / clockTicksPerSec
	return s, nil
}

// procStat holds the fields of /proc/<pid>/stat that chat-bench reads; times are in ticks.
type procStat struct {
	ppid                         int
	utime, stime, cutime, cstime int64
}

func readStat(path string) (procStat, error) {
	var st procStat
	stat, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	// The command name (field 2) may contain spaces and parentheses: split after the last ')'.
	end := strings.LastIndexByte(string(stat), ')')
	if end < 0 {
		return st, fmt.Errorf("%s: no ')'", path)
	}
	fields := strings.Fields(string(stat[end+1:]))
	// fields[0] is field 3 (state), so ppid (field 4) is fields[1], and utime, stime, cutime
	// and cstime (fields 14-17) are fields[11] to [14].
	if len(fields) < 15 {
		return st, fmt.Errorf("%s: too few fields", path)
	}
	var errs [5]error
	st.ppid, errs[0] = strconv.Atoi(fields[1])
	st.utime, errs[1] = strconv.ParseInt(fields[11], 10, 64)
	st.stime, errs[2] = strconv.ParseInt(fields[12], 10, 64)
	st.cutime, errs[3] = strconv.ParseInt(fields[13], 10, 64)
	st.cstime, errs[4] = strconv.ParseInt(fields[14], 10, 64)
	for _, err := range errs {
		if err != nil {
			return st, fmt.Errorf("%s: bad ppid or times", path)
		}
	}
	return st, nil
}

func readVmRSS(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: bad VmRSS %q", path, line)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("%s: no VmRSS line", path)
}

// serverProbe samples the server process when --pid was given and does nothing otherwise, so
// that workloads can sample unconditionally.
type serverProbe struct{ pid int }

func (p serverProbe) enabled() bool { return p.pid > 0 }

func (p serverProbe) sample() (procSample, bool) {
	if p.pid <= 0 {
		return procSample{}, false
	}
	s, err := readProc(p.pid)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chat-bench: cannot read server process %d: %v\n", p.pid, err)
		return procSample{}, false
	}
	return s, true
}

// sampleServers samples every probe; ok is false when there is none or one could not be read.
func sampleServers(probes []serverProbe) (samples []procSample, ok bool) {
	samples = make([]procSample, len(probes))
	ok = len(probes) > 0
	for i, p := range probes {
		var got bool
		samples[i], got = p.sample()
		ok = ok && got
	}
	return samples, ok
}

// readTreeCPU is the CPU time of process root and of every process below it, the ended ones
// included as far as their parents have reaped them (a PostgreSQL postmaster reaps its
// backends): the sum, over the live processes of the tree, of their own time and of their
// reaped children's (cutime, cstime). A process that ends between two samples moves its time
// from its own fields to its parent's, so the difference of two samples stays right.
func readTreeCPU(root int) (procSample, error) {
	rootStat, err := readStat("/proc/" + strconv.Itoa(root) + "/stat")
	if err != nil {
		return procSample{}, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return procSample{}, err
	}
	stats := map[int]procStat{root: rootStat}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == root {
			continue
		}
		st, err := readStat("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // it ended while /proc was read
		}
		stats[pid] = st
		children[st.ppid] = append(children[st.ppid], pid)
	}
	var user, sys int64
	for todo := []int{root}; len(todo) > 0; {
		pid := todo[len(todo)-1]
		todo = append(todo[:len(todo)-1], children[pid]...)
		st := stats[pid]
		user += st.utime + st.cutime
		sys += st.stime + st.cstime
	}
	return procSample{UserSec: float64(user) / clockTicksPerSec, SystemSec: float64(sys) / clockTicksPerSec}, nil
}

// processName is the command name of process pid ("java", "postgres"), or "?".
func processName(pid int) string {
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(comm))
}

// sampleTrees reads the CPU time of each process tree; ok is false when there is none or one
// could not be read.
func sampleTrees(roots []int) (samples []procSample, ok bool) {
	samples = make([]procSample, len(roots))
	ok = len(roots) > 0
	for i, pid := range roots {
		var err error
		if samples[i], err = readTreeCPU(pid); err != nil {
			fmt.Fprintf(os.Stderr, "chat-bench: cannot read process %d: %v\n", pid, err)
			ok = false
		}
	}
	return samples, ok
}

// readSockstatTCPMem is the kernel memory of all TCP sockets of the machine (the `mem` field of
// the TCP line of /proc/net/sockstat, in pages), in bytes. On loopback it counts both ends.
func readSockstatTCPMem() (int64, error) {
	data, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return 0, err
	}
	return parseSockstatTCPMem(string(data), int64(os.Getpagesize()))
}

func parseSockstatTCPMem(sockstat string, pageSize int64) (int64, error) {
	for _, line := range strings.Split(sockstat, "\n") {
		rest, ok := strings.CutPrefix(line, "TCP:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		for i := 0; i+1 < len(f); i += 2 {
			if f[i] == "mem" {
				pages, err := strconv.ParseInt(f[i+1], 10, 64)
				return pages * pageSize, err
			}
		}
	}
	return 0, fmt.Errorf("/proc/net/sockstat: no TCP mem")
}

// readSocketSlabBytes is the kernel slab memory of all TCP sockets of the machine (the TCP,
// TCPv6 and sock_inode_cache caches of /proc/slabinfo: active objects × object size), or an
// error where slabinfo is not readable (it needs root). On loopback it counts both ends.
func readSocketSlabBytes() (int64, error) {
	data, err := os.ReadFile("/proc/slabinfo")
	if err != nil {
		return 0, err
	}
	return parseSocketSlab(string(data)), nil
}

func parseSocketSlab(slabinfo string) int64 {
	var total int64
	for _, line := range strings.Split(slabinfo, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || (f[0] != "TCP" && f[0] != "TCPv6" && f[0] != "sock_inode_cache") {
			continue
		}
		active, err1 := strconv.ParseInt(f[1], 10, 64)
		size, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 == nil && err2 == nil {
			total += active * size
		}
	}
	return total
}
