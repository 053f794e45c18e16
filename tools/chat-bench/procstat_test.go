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
