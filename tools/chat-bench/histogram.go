package main

import (
	"math"
	"time"
)

// histogram counts latencies in logarithmic buckets: bucket i holds the latencies in
// (histBase·histGrowth^(i-1), histBase·histGrowth^i], so every percentile read from it is within
// 1% of the exact one, whatever the range. Runs can be merged by adding counts, which is how the
// report draws one latency CDF per server from several runs. Not safe for concurrent use.
type histogram struct {
	counts []int64
	total  int64
	max    time.Duration
}

const (
	histBase   = time.Microsecond // everything at or below falls in bucket 0
	histGrowth = 1.02
)

// histBuckets covers up to about 2 minutes: histGrowth^940 ≈ 1.3e8 µs.
const histBuckets = 940

func newHistogram() *histogram { return &histogram{counts: make([]int64, histBuckets)} }

func histBucket(d time.Duration) int {
	if d <= histBase {
		return 0
	}
	i := int(math.Ceil(math.Log(float64(d)/float64(histBase)) / math.Log(histGrowth)))
	return min(max(i, 0), histBuckets-1)
}

// histUpper is the upper edge of bucket i.
func histUpper(i int) time.Duration {
	return time.Duration(float64(histBase) * math.Pow(histGrowth, float64(i)))
}

func (h *histogram) add(d time.Duration) {
	h.counts[histBucket(d)]++
	h.total++
	h.max = max(h.max, d)
}

// percentile is the upper edge of the bucket holding the nearest-rank p-th percentile, capped
// at the largest latency seen, so that p100 is the exact maximum.
func (h *histogram) percentile(p float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := max(int64(math.Ceil(p*float64(h.total)/100)), 1)
	var seen int64
	for i, n := range h.counts {
		seen += n
		if seen >= rank {
			return min(histUpper(i), h.max)
		}
	}
	return h.max
}

// histSummary is what the JSON line holds: the percentiles the report prints, and the
// non-empty buckets as [upper edge in ms, count] pairs for CDF plots and merging.
type histSummary struct {
	Count   int64        `json:"count"`
	P50     float64      `json:"p50_ms"`
	P90     float64      `json:"p90_ms"`
	P99     float64      `json:"p99_ms"`
	P999    float64      `json:"p99_9_ms"`
	Max     float64      `json:"max_ms"`
	Buckets [][2]float64 `json:"buckets"`
}

func (h *histogram) summary() histSummary {
	s := histSummary{Count: h.total, P50: ms(h.percentile(50)), P90: ms(h.percentile(90)),
		P99: ms(h.percentile(99)), P999: ms(h.percentile(99.9)), Max: ms(h.max), Buckets: [][2]float64{}}
	for i, n := range h.counts {
		if n > 0 {
			s.Buckets = append(s.Buckets, [2]float64{ms(min(histUpper(i), h.max)), float64(n)})
		}
	}
	return s
}

func histogramOf(samples []time.Duration) *histogram {
	h := newHistogram()
	for _, d := range samples {
		h.add(d)
	}
	return h
}
