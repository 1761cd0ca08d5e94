package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// gcStats summarises the collector's GODEBUG=gctrace=1 lines: how large the heap grew
// (at the start and end of a cycle), how much of it was live, and the largest goal.
type gcStats struct {
	cycles                       int
	peakStart, peakEnd, peakLive int // MB
	peakGoal                     int // MB
}

// gctraceRE matches "4->5->1 MB, 8 MB goal" of a gctrace line.
var gctraceRE = regexp.MustCompile(`(\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

func parseGCTrace(out string) gcStats {
	var s gcStats
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "gc ") {
			continue
		}
		m := gctraceRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s.cycles++
		v := func(i int) int { n, _ := strconv.Atoi(m[i]); return n }
		s.peakStart = max(s.peakStart, v(1))
		s.peakEnd = max(s.peakEnd, v(2))
		s.peakLive = max(s.peakLive, v(3))
		s.peakGoal = max(s.peakGoal, v(4))
	}
	return s
}

func (s gcStats) String() string {
	return fmt.Sprintf("gc_cycles=%d peak_heap=%dMB peak_live_heap=%dMB peak_goal=%dMB", s.cycles, max(s.peakStart, s.peakEnd), s.peakLive, s.peakGoal)
}

// queueSampler polls the collector's own metrics for otelcol_exporter_queue_size (items
// or requests, as the exporter's sizer counts) and keeps the largest value.
type queueSampler struct {
	url  string
	peak float64
}

func (q *queueSampler) sample(client *http.Client) {
	resp, err := client.Get(q.url)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range bytes.Split(body, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("otelcol_exporter_queue_size")) {
			continue
		}
		f := bytes.Fields(line)
		if v, err := strconv.ParseFloat(string(f[len(f)-1]), 64); err == nil {
			sum += v
		}
	}
	q.peak = max(q.peak, sum)
}

// run polls every interval until stop is closed.
func (q *queueSampler) run(interval time.Duration, stop <-chan struct{}) {
	client := &http.Client{Timeout: time.Second}
	for {
		q.sample(client)
		select {
		case <-stop:
			return
		case <-time.After(interval):
		}
	}
}
