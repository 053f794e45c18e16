package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestReadStatSplitsAfterTheLastParenthesis(t *testing.T) {
	// A command name may hold spaces and parentheses; fields 3-17 follow the last ')'.
	line := "4242 (a) (b c) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 75 12 3 20 0 1 0 100 1000 50\n"
	path := filepath.Join(t.TempDir(), "stat")
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := readStat(path)
	want := procStat{ppid: 17, utime: 250, stime: 75, cutime: 12, cstime: 3}
	if err != nil || st != want {
		t.Fatalf("got %+v, %v; want %+v", st, err, want)
	}
}

// A child that burns CPU and is reaped still counts in its parent's tree.
func TestReadTreeCPUCountsReapedChildren(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	before, err := readTreeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run sh: %v", err)
	}
	child := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	after, err := readTreeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// /proc counts in 10 ms ticks, and the test process itself ran meanwhile too.
	if grew := after.cpuSec() - before.cpuSec(); grew < child-0.02 {
		t.Fatalf("the tree grew by %.2f s; the child alone used %.2f s", grew, child)
	}
}

func TestParseSockstatTCPMem(t *testing.T) {
	const s = "sockets: used 180\nTCP: inuse 10 orphan 0 tw 3 alloc 12 mem 7\nUDP: inuse 1 mem 2\n"
	got, err := parseSockstatTCPMem(s, 4096)
	if err != nil || got != 7*4096 {
		t.Errorf("got %d, %v; want %d", got, err, 7*4096)
	}
	if _, err := parseSockstatTCPMem("UDP: inuse 1 mem 2\n", 4096); err == nil {
		t.Error("no TCP line: want an error")
	}
}

func TestParseSocketSlabSumsTheSocketCaches(t *testing.T) {
	const s = "slabinfo - version: 2.1\n" +
		"TCPv6                 65     65   2496   13    8 : tunables 0 0 0 : slabdata 5 5 0\n" +
		"TCP                   79    130   2368   13    8 : tunables 0 0 0 : slabdata 10 10 0\n" +
		"sock_inode_cache     282    418    832   19    4 : tunables 0 0 0 : slabdata 22 22 0\n" +
		"kmalloc-cg-8k          8      8   8192    4    8 : tunables 0 0 0 : slabdata 2 2 0\n"
	if got, want := parseSocketSlab(s), int64(65*2496+79*2368+282*832); got != want {
		t.Errorf("got %d, want %d", got, want)
	}
}
