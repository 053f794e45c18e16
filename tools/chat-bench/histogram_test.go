package main

import (
	"testing"
	"time"
)

func TestHistogramPercentilesAreWithinOnePercent(t *testing.T) {
	h := newHistogram()
	for i := 1; i <= 10000; i++ {
		h.add(time.Duration(i) * 10 * time.Microsecond) // 10 µs .. 100 ms
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {90, 90 * time.Millisecond}, {99, 99 * time.Millisecond}, {99.9, 99900 * time.Microsecond}} {
		got := h.percentile(c.p)
		if got < c.want || float64(got) > 1.02*float64(c.want) {
			t.Errorf("p%v = %v, want %v to +2%%", c.p, got, c.want)
		}
	}
	if h.percentile(100) != 100*time.Millisecond {
		t.Errorf("p100 = %v, want the exact maximum", h.percentile(100))
	}
}

func TestHistogramSummaryListsNonEmptyBucketsInOrder(t *testing.T) {
	h := histogramOf([]time.Duration{time.Millisecond, time.Millisecond, 3 * time.Millisecond})
	s := h.summary()
	if s.Count != 3 || len(s.Buckets) != 2 || s.Buckets[0][1] != 2 || s.Buckets[1][1] != 1 {
		t.Fatalf("summary = %+v", s)
	}
	if s.Buckets[1][0] != 3 || s.Max != 3 {
		t.Errorf("last bucket edge %v, max %v: want both capped at 3 ms", s.Buckets[1][0], s.Max)
	}
}

func TestEmptyHistogramSummaryIsZero(t *testing.T) {
	if s := newHistogram().summary(); s.Count != 0 || s.P99 != 0 || len(s.Buckets) != 0 {
		t.Errorf("summary of nothing = %+v", s)
	}
}

func TestPaceSpreadsSendersEvenlyOverTheSchedule(t *testing.T) {
	// 1000 msg/s over 4 senders: one message every ms, the senders taking turns.
	for _, c := range []struct {
		index, k int
		want     time.Duration
	}{{0, 0, 0}, {1, 0, time.Millisecond}, {3, 0, 3 * time.Millisecond}, {0, 1, 4 * time.Millisecond}, {2, 250, 1002 * time.Millisecond}} {
		p := pace{index: c.index, senders: 4, rate: 1000}
		if got := p.due(c.k); got != c.want {
			t.Errorf("sender %d message %d due at %v, want %v", c.index, c.k, got, c.want)
		}
	}
}
