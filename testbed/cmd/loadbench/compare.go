package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// runCompare runs the exporter and the otlp_http floor n times each on the same load,
// alternating (ABBA...) so a slow phase of the shared machine hits both, and prints
// them side by side: median and range of each, and the ratios of the medians.
func runCompare(o options, n int) error {
	ours, floor := o, o
	ours.floor, floor.floor = false, true
	var rs [2][]result
	var errs []error
	for i := 0; i < n; i++ {
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		for _, k := range order {
			opt := []options{ours, floor}[k]
			r, err := run(opt)
			fmt.Println(r.line(opt))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s run %d: %w", []string{"experimentation", "otlp_http"}[k], i+1, err))
				continue
			}
			rs[k] = append(rs[k], r)
		}
	}
	if len(rs[0]) == 0 || len(rs[1]) == 0 {
		return errors.Join(append(errs, errors.New("no complete run of one side to compare"))...)
	}

	type row struct {
		name string
		f    func(result) float64
		unit string
	}
	rows := []row{
		{"events/s", func(r result) float64 { return r.eventsPerSec }, ""},
		{"collector peak RSS", func(r result) float64 { return float64(r.peakRSSKiB) / 1024 }, " MiB"},
		{"collector CPU", func(r result) float64 { return r.colCPU }, " s"},
		{"collector CPU per 100k events", func(r result) float64 { return r.colCPU / float64(o.events) * 1e5 }, " s"},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d impressions, %d clients, %d records per OTLP request; experimentation batch_size %d; median (min-max) of %d and %d runs:\n",
		o.events, o.clients, o.perRequest, o.batch, len(rs[0]), len(rs[1]))
	fmt.Fprintf(&b, "%-30s %-28s %-28s %s\n", "", "experimentation", "otlp_http floor", "ratio of medians")
	for _, rw := range rows {
		var cells [2]string
		var med [2]float64
		for k := range rs {
			vs := make([]float64, len(rs[k]))
			for i, r := range rs[k] {
				vs[i] = rw.f(r)
			}
			slices.Sort(vs)
			med[k] = median(vs)
			cells[k] = fmt.Sprintf("%s (%s-%s)%s", num(med[k]), num(vs[0]), num(vs[len(vs)-1]), rw.unit)
		}
		fmt.Fprintf(&b, "%-30s %-28s %-28s %.2fx\n", rw.name, cells[0], cells[1], med[0]/med[1])
	}
	fmt.Print(b.String())
	return errors.Join(errs...)
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// num prints large numbers without decimals and small ones with two.
func num(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
