package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// latencySummary is the distribution of one kind of latency, in milliseconds.
type latencySummary struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// summarize keeps every sample rather than a histogram: runs are bounded to a few hundred
// thousand samples, and exact percentiles avoid arguing about bucket edges between servers.
func summarize(samples []time.Duration) latencySummary {
	if len(samples) == 0 {
		return latencySummary{}
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	return latencySummary{
		Count: len(sorted),
		P50:   ms(percentile(sorted, 50)),
		P90:   ms(percentile(sorted, 90)),
		P99:   ms(percentile(sorted, 99)),
		Max:   ms(sorted[len(sorted)-1]),
		Mean:  ms(sum / time.Duration(len(sorted))),
	}
}

// percentile uses the nearest-rank method: the smallest sample with at least p% of the samples
// at or below it, so every reported value is a latency that was actually observed. p is
// multiplied before it is divided: 99.9 / 100 × 2000 is 1998.0000000000002 in floating point,
// one rank too many.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p * float64(len(sorted)) / 100))
	return sorted[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func (s latencySummary) String() string {
	if s.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms  (n=%d)",
		s.P50, s.P90, s.P99, s.Max, s.Count)
}

// tailSummary is a latencySummary with p99.9, which the cluster workload reports: across
// instances the rare slow path (a batch retried after a lock conflict, a late Kafka record)
// shows there first.
type tailSummary struct {
	latencySummary
	P999 float64 `json:"p99_9_ms"`
}

func summarizeTail(samples []time.Duration) tailSummary {
	if len(samples) == 0 {
		return tailSummary{}
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	return tailSummary{latencySummary: summarize(sorted), P999: ms(percentile(sorted, 99.9))}
}

func (s tailSummary) String() string {
	if s.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  p99.9 %7.2f ms  max %7.2f ms  (n=%d)",
		s.P50, s.P90, s.P99, s.P999, s.Max, s.Count)
}
