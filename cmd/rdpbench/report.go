package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

type bench struct {
	brokerBin        string
	haproxyBin       string
	clients          []int
	duration, warmup time.Duration
	repeat, servers  int
	logins           int
}

// run starts the farm and the targets, measures every cell, and returns
// the markdown report.
func (b *bench) run() (string, error) {
	var farm []string
	for i := 0; i < b.servers; i++ {
		s, err := rdptest.Start(rdptest.Config{Name: fmt.Sprintf("ts%02d", i+1)})
		if err != nil {
			return "", fmt.Errorf("farm: %w", err)
		}
		defer s.Close()
		farm = append(farm, s.Addr())
	}
	dir, err := os.MkdirTemp("", "rdpbench-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	broker, err := startBroker(b.brokerBin, dir, farm)
	if err != nil {
		return "", err
	}
	defer broker.Stop()
	// direct: the client talks to one farm server, the physical limit.
	targets := []target{direct{addr: farm[0]}}
	if b.haproxyBin != "" {
		hp, err := startHAProxy(b.haproxyBin, dir, farm)
		if err != nil {
			return "", err
		}
		defer hp.Stop()
		targets = append(targets, hp)
	}
	targets = append(targets, broker)
	logins := crs(b.logins)

	results := map[string]map[int][]cell{}
	for _, n := range b.clients {
		for r := 0; r < b.repeat; r++ {
			for _, t := range targets { // interleaved so drift hits every target alike
				if results[t.Name()] == nil {
					results[t.Name()] = map[int][]cell{}
				}
				c := connRate(t, n, b.warmup, b.duration, logins)
				fmt.Fprintf(os.Stderr, "%-10s clients=%-3d rep=%d  %8.0f conn/s  p50=%v p99=%v errors=%d\n",
					t.Name(), n, r+1, c.rate(), c.p50, c.p99, c.errors)
				results[t.Name()][n] = append(results[t.Name()][n], c)
			}
		}
	}
	return format(b, targets, results), nil
}

func format(b *bench, targets []target, res map[string]map[int][]cell) string {
	var s strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&s, "### Connection rate (rdpbench, %s)\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&s, "Machine: %s, %d CPUs, %s. Farm: %d fake RDP servers (in the bench process). "+
		"Each cell: %v measured after %v warm-up, %d repetitions, median [min-max]. "+
		"Closed loop: each client dials, sends a Connection Request with an mstshash cookie, reads the Connection Confirm, closes.\n\n",
		host, runtime.NumCPU(), runtime.Version(), b.servers, b.duration, b.warmup, b.repeat)
	s.WriteString("| target | clients | conn/s | ratio to direct | ratio to haproxy | CC p50 | CC p99 | errors | proxy CPU s / 1k conn |\n")
	s.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range b.clients {
		rateOf := func(c cell) float64 { return c.rate() }
		directRate := median(res["direct"][n], rateOf)
		haproxyRate := median(res["haproxy"][n], rateOf)
		for _, t := range targets {
			cells := res[t.Name()][n]
			rate := median(cells, func(c cell) float64 { return c.rate() })
			lo, hi := minmax(cells, func(c cell) float64 { return c.rate() })
			p50 := median(cells, func(c cell) float64 { return float64(c.p50) })
			p99 := median(cells, func(c cell) float64 { return float64(c.p99) })
			var errs int64
			for _, c := range cells {
				errs += c.errors
			}
			cpu := "-"
			if t.Name() != "direct" {
				cpu = fmt.Sprintf("%.3f", median(cells, func(c cell) float64 { return 1000 * c.cpu / float64(max(c.conns, 1)) }))
			}
			vsHAProxy := "-"
			if haproxyRate > 0 {
				vsHAProxy = fmt.Sprintf("%.2f", rate/haproxyRate)
			}
			fmt.Fprintf(&s, "| %s | %d | %.0f [%.0f-%.0f] | %.2f | %s | %v | %v | %d | %s |\n", t.Name(), n, rate, lo, hi,
				rate/directRate, vsHAProxy, time.Duration(p50).Round(time.Microsecond), time.Duration(p99).Round(time.Microsecond), errs, cpu)
		}
	}
	return s.String()
}

func median(cells []cell, f func(cell) float64) float64 {
	if len(cells) == 0 {
		return 0
	}
	v := make([]float64, len(cells))
	for i, c := range cells {
		v[i] = f(c)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func minmax(cells []cell, f func(cell) float64) (float64, float64) {
	if len(cells) == 0 {
		return 0, 0
	}
	lo, hi := f(cells[0]), f(cells[0])
	for _, c := range cells[1:] {
		lo, hi = min(lo, f(c)), max(hi, f(c))
	}
	return lo, hi
}

// writeReport replaces the section between the rdpbench markers in path
// (creating the file or the section as needed), so hand-written notes
// around it survive.
func writeReport(path, report string) error {
	const begin, end = "<!-- rdpbench:begin -->", "<!-- rdpbench:end -->"
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("report: %w", err)
	}
	section := begin + "\n" + report + end + "\n"
	doc := string(old)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i >= 0 && j > i {
		doc = doc[:i] + section + strings.TrimPrefix(doc[j+len(end):], "\n")
	} else {
		doc += "\n" + section
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
