package main

import (
	"testing"
	"time"
)

func TestSummarizeUsesNearestRankPercentiles(t *testing.T) {
	var samples []time.Duration
	for i := 100; i >= 1; i-- { // 1..100 ms, unsorted
		samples = append(samples, time.Duration(i)*time.Millisecond)
	}
	s := summarize(samples)
	if s.Count != 100 || s.P50 != 50 || s.P90 != 90 || s.P99 != 99 || s.Max != 100 || s.Mean != 50.5 {
		t.Fatalf("got %+v", s)
	}
	if samples[0] != 100*time.Millisecond {
		t.Fatal("summarize sorted the caller's slice")
	}
}

func TestSummarizeOfOneSampleIsThatSample(t *testing.T) {
	s := summarize([]time.Duration{1500 * time.Microsecond})
	if s.P50 != 1.5 || s.P99 != 1.5 || s.Max != 1.5 {
		t.Fatalf("got %+v", s)
	}
}

func TestSummarizeTailAddsP999ByNearestRank(t *testing.T) {
	var samples []time.Duration
	for i := 2000; i >= 1; i-- { // 1..2000 µs, unsorted
		samples = append(samples, time.Duration(i)*time.Microsecond)
	}
	s := summarizeTail(samples)
	// rank ceil(0.999 × 2000) = 1998
	if s.Count != 2000 || s.P50 != 1 || s.P99 != 1.98 || s.P999 != 1.998 || s.Max != 2 {
		t.Fatalf("got %+v", s)
	}
	if samples[0] != 2000*time.Microsecond {
		t.Fatal("summarizeTail sorted the caller's slice")
	}
	if got := summarizeTail(nil); got.Count != 0 || got.String() != "no samples" {
		t.Fatalf("empty: got %+v", got)
	}
}
