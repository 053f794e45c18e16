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
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, err
	}
	// The command name (field 2) may contain spaces and parentheses: split after the last ')'.
	end := strings.LastIndexByte(string(stat), ')')
	if end < 0 {
		return s, fmt.Errorf("%s/stat: no ')'", dir)
	}
	fields := strings.Fields(string(stat[end+1:]))
	// fields[0] is field 3 (state), so utime (field 14) and stime (15) are fields[11] and [12].
	if len(fields) < 13 {
		return s, fmt.Errorf("%s/stat: too few fields", dir)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("%s/stat: bad utime/stime", dir)
	}
	s.UserSec = float64(utime) / clockTicksPerSec
	s.SystemSec = float64(stime) / clockTicksPerSec
	return s, nil
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
