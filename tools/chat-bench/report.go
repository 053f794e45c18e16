package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"sync"
)

// problems collects protocol errors (a seq gap, a missing ack, a connection the server closed)
// from many goroutines: a count per kind and the first few messages. Any problem makes the exit
// status 1. Safe for concurrent use.
type problems struct {
	mu      sync.Mutex
	byKind  map[string]int
	samples []string
}

const (
	maxProblemSamples = 10 // kept, and written to the JSON line
	printedSamples    = 3  // shown in the human-readable lines
)

// problemReport is the JSON form, also how a worker process hands its problems to the parent.
type problemReport struct {
	Total   int            `json:"total"`
	ByKind  map[string]int `json:"by_kind"`
	Samples []string       `json:"samples"`
}

func newProblems() *problems { return &problems{byKind: map[string]int{}} }

func (p *problems) add(kind, format string, args ...any) { p.addN(kind, 1, format, args...) }

// addN counts n occurrences of kind with one sample message.
func (p *problems) addN(kind string, n int, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byKind[kind] += n
	if len(p.samples) < maxProblemSamples {
		p.samples = append(p.samples, kind+": "+fmt.Sprintf(format, args...))
	}
}

func (p *problems) merge(r problemReport) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, n := range r.ByKind {
		p.byKind[k] += n
	}
	for _, s := range r.Samples {
		if len(p.samples) < maxProblemSamples {
			p.samples = append(p.samples, s)
		}
	}
}

func (p *problems) report() problemReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := problemReport{ByKind: map[string]int{}, Samples: append([]string{}, p.samples...)}
	for k, n := range p.byKind {
		r.ByKind[k] = n
		r.Total += n
	}
	return r
}

// result is everything one workload run measured. Metrics use snake_case keys with the unit
// as suffix (_ms, _bytes, _per_sec) so that a harness can line up servers without a schema.
type result struct {
	Tool           string         `json:"tool"`
	Server         string         `json:"server"`
	Workload       string         `json:"workload"`
	Params         map[string]any `json:"params"`
	Metrics        map[string]any `json:"metrics"`
	Truncated      bool           `json:"truncated"` // --duration ended the run early
	ProtocolErrors problemReport  `json:"protocol_errors"`
}

func newResult(server, workload string) *result {
	return &result{Tool: "chat-bench", Server: server, Workload: workload,
		Params: map[string]any{}, Metrics: map[string]any{}}
}

// finish prints the protocol errors and, with --json, the final JSON line; it returns the
// exit status.
func (r *result) finish(w io.Writer, probs *problems, asJSON bool) int {
	r.ProtocolErrors = probs.report()
	for k, v := range r.Metrics {
		if f, ok := v.(float64); ok {
			r.Metrics[k] = math.Round(f*1000) / 1000 // float noise such as 0.6399999999999999
		}
	}
	if r.ProtocolErrors.Total == 0 {
		fmt.Fprintln(w, "  protocol errors: none")
	} else {
		fmt.Fprintf(w, "  PROTOCOL ERRORS: %d\n", r.ProtocolErrors.Total)
		kinds := make([]string, 0, len(r.ProtocolErrors.ByKind))
		for k := range r.ProtocolErrors.ByKind {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fmt.Fprintf(w, "    %6d  %s\n", r.ProtocolErrors.ByKind[k], k)
		}
		for _, s := range r.ProtocolErrors.Samples[:min(printedSamples, len(r.ProtocolErrors.Samples))] {
			fmt.Fprintf(w, "    e.g. %s\n", s)
		}
	}
	if asJSON {
		line, _ := json.Marshal(r)
		fmt.Fprintln(w, string(line))
	}
	if r.ProtocolErrors.Total > 0 {
		return exitProtocolErrors
	}
	return exitOK
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
