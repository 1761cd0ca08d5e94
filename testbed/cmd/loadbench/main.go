// Command loadbench measures the exporter end to end: OTLP/HTTP in, the collector built
// with ocb (a separate process, in-memory sending queue), a loopback events API out. It
// prints one line: events/s from the first emitted record to the last event received,
// the collector's CPU seconds and peak RSS, this process's CPU (client and events API),
// and whether anything was lost (it exits non-zero then). It is a measurement, not a test.
//
// With -floor the same collector build gets the same OTLP load but exports it with the
// core otlp_http exporter (its default settings) to an OTLP/HTTP sink that counts log
// records: the collector's own cost of receiving, queueing and sending that load, which
// the exporter is compared with. -compare N runs the exporter and the floor N times each,
// alternating, and prints them side by side with the ratios of their medians.
//
// It runs from testbed/ (its own Go module; make loadbench does that), so the default
// paths are relative to testbed/:
//
//	cd testbed
//	go run ./cmd/loadbench -collector ../_build/otelcol-experimentation                 # counting sink
//	go run ./cmd/loadbench -collector ../_build/otelcol-experimentation -compare 3      # vs the otlp_http floor
//	go run ./cmd/loadbench -collector ../_build/otelcol-experimentation -validate       # Event API replica
//	go run ./cmd/loadbench -collector ../_build/otelcol-experimentation -sdk -clients 2 # OpenTelemetry Go SDK client
//
// To see where memory goes: -memstats runs the collector with GODEBUG=gctrace=1 and
// polls its otelcol_exporter_queue_size, printing the GC cycles, peak heap, peak live
// heap, peak queue and body bytes per event; -env GOGC=50 (repeatable) sets the
// collector's environment; -queue-size, -consumers and -batch-size vary the exporter's
// settings. -sink-latency 100ms makes the sinks answer as a remote API would, so the
// queues fill (the worst case of memory); -plain 9 puts plain log lines among the
// impressions. -heap-profiles DIR (every 200ms) and -cpu-profile FILE (2s) need a
// collector built with the contrib pprofextension (add it to a copy of
// builder-config.yaml); read them with go tool pprof.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
	"github.com/experimentationexporter/experimentationexporter/testbed/harness"
)

// options are one run's settings.
type options struct {
	collector, datafile string
	events, clients     int
	batch, consumers    int // exporter batch_size; sending_queue::num_consumers (0: default)
	queueSize           int // sending_queue::queue_size (0: the exporter's default)
	perRequest          int
	plain               int // plain log lines before each impression
	sdk, validate       bool
	floor               bool     // otlp_http to an OTLP sink instead of the exporter
	env                 []string // the collector's extra environment
	memstats            bool
	heapProfiles        string
	cpuProfile          string
	sinkLatency         time.Duration // how long the receiving end takes to answer
}

// envFlags collects repeated -env KEY=VALUE.
type envFlags []string

func (e *envFlags) String() string { return strings.Join(*e, " ") }
func (e *envFlags) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

func main() {
	var o options
	var env envFlags
	flag.StringVar(&o.collector, "collector", "../_build/otelcol-experimentation", "collector binary built with ocb (make collector)")
	flag.IntVar(&o.events, "events", 500000, "impressions to emit")
	flag.IntVar(&o.clients, "clients", 4, "parallel OTLP clients")
	flag.IntVar(&o.batch, "batch-size", 500, "exporter batch_size")
	flag.IntVar(&o.consumers, "consumers", 0, "exporter sending_queue::num_consumers (0: the exporter's default, 10)")
	flag.IntVar(&o.queueSize, "queue-size", 0, "exporter sending_queue::queue_size (0: the exporter's default)")
	flag.IntVar(&o.perRequest, "records-per-request", 1000, "log records per pre-encoded OTLP/HTTP request")
	flag.IntVar(&o.plain, "plain", 0, "plain log lines (skipped by the exporter) before each impression, in the same requests; records-per-request counts them")
	flag.BoolVar(&o.sdk, "sdk", false, "emit with the OpenTelemetry Go SDK (harness.Emitter) instead of pre-encoded OTLP/HTTP requests")
	flag.BoolVar(&o.validate, "validate", false, "receive with the validating Event API replica instead of a counting sink")
	flag.BoolVar(&o.floor, "floor", false, "export with the core otlp_http exporter (default settings) to an OTLP/HTTP counting sink instead")
	flag.StringVar(&o.datafile, "datafile", "../testdata/datafile.json", "Optimizely datafile")
	flag.Var(&env, "env", "KEY=VALUE for the collector's environment, e.g. GOGC=50 or GOMEMLIMIT=64MiB (repeatable)")
	flag.BoolVar(&o.memstats, "memstats", false, "GODEBUG=gctrace=1 for the collector and poll its queue size: print peak heap, live heap and queue")
	flag.StringVar(&o.heapProfiles, "heap-profiles", "", "save heap profiles every 200ms to this directory (needs a collector built with the contrib pprofextension)")
	flag.DurationVar(&o.sinkLatency, "sink-latency", 0, "the counting sinks answer each request after this long (a remote events API's round trip)")
	flag.StringVar(&o.cpuProfile, "cpu-profile", "", "save a 2s CPU profile of the collector from the start of the load to this file (pprofextension, as -heap-profiles)")
	compare := flag.Int("compare", 0, "run the exporter and the otlp_http floor this many times each, alternating, and compare them")
	flag.Parse()
	o.env = env
	var err error
	if *compare > 0 {
		err = runCompare(o, *compare)
	} else {
		var r result
		r, err = run(o)
		if err == nil || r.received > 0 {
			fmt.Println(r.line(o))
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

// sink is a cheap events API: it answers 204 and records each event's uuid by scanning
// the body for "uuid":"…" instead of decoding it, so that on a 2-core machine the
// measurement is not bound by the replica's JSON validation, yet still proves that
// every event arrived (and counts duplicates).
type sink struct {
	requests, unique, dups, bytes atomic.Int64

	mu    sync.Mutex
	uuids map[string]struct{}
}

var uuidKey = []byte(`"uuid":"`)

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.URL.Path != eventsapi.OptimizelyPath {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var ids []string
	for rest := body; ; {
		i := bytes.Index(rest, uuidKey)
		if i < 0 {
			break
		}
		rest = rest[i+len(uuidKey):]
		j := bytes.IndexByte(rest, '"')
		if j < 0 {
			break
		}
		ids = append(ids, string(rest[:j]))
		rest = rest[j:]
	}
	s.mu.Lock()
	var u, d int64
	for _, id := range ids {
		if _, ok := s.uuids[id]; ok {
			d++
		} else {
			s.uuids[id] = struct{}{}
			u++
		}
	}
	s.mu.Unlock()
	s.unique.Add(u)
	s.dups.Add(d)
	s.requests.Add(1)
	s.bytes.Add(int64(len(body)))
	w.WriteHeader(http.StatusNoContent)
}

// delayed answers each request after d, as a remote endpoint's round trip would.
func delayed(h http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(d)
		h.ServeHTTP(w, r)
	})
}

// counts are what the events API received so far.
type counts struct{ unique, dups, requests, bytes int }

// result is what one run measured.
type result struct {
	received, dups, requests int
	bodyBytes                int // request bodies as received (the floor's: compressed)
	emit, elapsed            time.Duration
	eventsPerSec             float64
	colCPU, ownCPU           float64 // seconds
	peakRSSKiB               int64
	gc                       *gcStats // with -memstats
	peakQueue                float64  // with -memstats: otelcol_exporter_queue_size
}

func (r result) line(o options) string {
	clientKind := "pre-encoded OTLP/HTTP"
	if o.sdk {
		clientKind = "OTel Go SDK"
	}
	api := "counting sink"
	if o.validate {
		api = "Event API replica"
	}
	what := fmt.Sprintf("exporter=experimentation batch_size=%d", o.batch)
	if o.floor {
		what, api = "exporter=otlp_http(defaults)", "OTLP counting sink"
	}
	extra := ""
	if len(o.env) > 0 {
		extra += " env=" + strings.Join(o.env, ",")
	}
	if o.queueSize > 0 {
		extra += fmt.Sprintf(" queue_size=%d", o.queueSize)
	}
	if o.consumers > 0 {
		extra += fmt.Sprintf(" num_consumers=%d", o.consumers)
	}
	if o.sinkLatency > 0 {
		extra += fmt.Sprintf(" sink_latency=%s", o.sinkLatency)
	}
	if o.plain > 0 {
		extra += fmt.Sprintf(" plain_lines_per_impression=%d", o.plain)
	}
	if r.gc != nil {
		extra += fmt.Sprintf(" %s peak_queue=%.0f body_bytes/event=%.0f", r.gc, r.peakQueue, float64(r.bodyBytes)/float64(max(r.received, 1)))
	}
	el := r.elapsed.Seconds()
	return fmt.Sprintf("%s%s events=%d client=%q x%d api=%q: received=%d lost=%d duplicates=%d requests=%d emit=%s elapsed=%s events/s=%.0f collector_cpu=%.2fs (%.0f%% of a core) collector_peak_rss=%dMiB client+api_cpu=%.2fs (%.0f%% of a core)",
		what, extra, o.events, clientKind, o.clients, api, r.received, o.events-r.received, r.dups, r.requests,
		r.emit.Round(time.Millisecond), r.elapsed.Round(time.Millisecond), r.eventsPerSec,
		r.colCPU, 100*r.colCPU/el, r.peakRSSKiB/1024, r.ownCPU, 100*r.ownCPU/el)
}

// collectorConfig is the collector's configuration for one run: the exporter (or the
// otlp_http floor) sending to apiURL, the collector's own metrics on metricsPort (never
// the default 8888: runs on one machine would collide).
func collectorConfig(o options, otlpPort, metricsPort, pprofPort int, apiURL, datafile string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:%d\n", otlpPort)
	exporter := "experimentation"
	if o.floor {
		exporter = "otlp_http"
		fmt.Fprintf(&b, "exporters:\n  otlp_http:\n    endpoint: %s\n", apiURL)
	} else {
		fmt.Fprintf(&b, "exporters:\n  experimentation:\n    endpoint: %s%s\n    batch_size: %d\n    flush_interval: 1s\n    optimizely:\n      datafile_path: %s\n",
			apiURL, eventsapi.OptimizelyPath, o.batch, datafile)
		if o.queueSize > 0 || o.consumers > 0 {
			b.WriteString("    sending_queue:\n")
			if o.queueSize > 0 {
				fmt.Fprintf(&b, "      queue_size: %d\n", o.queueSize)
			}
			if o.consumers > 0 {
				fmt.Fprintf(&b, "      num_consumers: %d\n", o.consumers)
			}
		}
	}
	if pprofPort > 0 {
		fmt.Fprintf(&b, "extensions:\n  pprof:\n    endpoint: 127.0.0.1:%d\n", pprofPort)
	}
	b.WriteString("service:\n")
	if pprofPort > 0 {
		b.WriteString("  extensions: [pprof]\n")
	}
	fmt.Fprintf(&b, "  telemetry:\n    logs:\n      level: warn\n    metrics:\n      readers:\n        - pull:\n            exporter:\n              prometheus:\n                host: 127.0.0.1\n                port: %d\n", metricsPort)
	fmt.Fprintf(&b, "  pipelines:\n    logs:\n      receivers: [otlp]\n      exporters: [%s]\n", exporter)
	return b.String()
}

func run(o options) (result, error) {
	var res result
	if _, err := os.Stat(o.collector); err != nil {
		return res, fmt.Errorf("collector binary (build it with make collector): %w", err)
	}
	datafile, err := filepath.Abs(o.datafile)
	if err != nil {
		return res, err
	}
	events, clients := o.events, o.clients
	if clients < 1 || events < clients || o.perRequest < 1 {
		return res, errors.New("need events >= clients >= 1 and records-per-request >= 1")
	}
	if o.validate && o.sinkLatency > 0 {
		return res, errors.New("-sink-latency is for the counting sinks, not the Event API replica")
	}
	if o.floor && o.validate {
		return res, errors.New("-floor sends OTLP: it has no Event API replica to validate with")
	}

	// The receiving end: the replica, the counting sink, or the floor's OTLP sink.
	var (
		apiURL   string
		progress func() int // events received, duplicates included; cheap to poll
		final    func() counts
	)
	switch {
	case o.floor:
		s, err := newOTLPSink()
		if err != nil {
			return res, err
		}
		srv := httptest.NewServer(delayed(s, o.sinkLatency))
		defer srv.Close()
		apiURL = srv.URL
		// Records carry no ids to deduplicate: more than were emitted counts as
		// duplicates. With -plain the plain lines arrive too: counted per impression.
		progress = func() int { return int(s.records.Load()) / (o.plain + 1) }
		final = func() counts {
			n := int(s.records.Load()) / (o.plain + 1)
			return counts{min(n, events), max(n-events, 0), int(s.requests.Load()), int(s.bytes.Load())}
		}
	case o.validate:
		api := eventsapi.New(eventsapi.Options{})
		u, err := api.Start("127.0.0.1:0")
		if err != nil {
			return res, err
		}
		defer api.Close()
		apiURL = u
		progress = func() int { return api.Stats().Impressions }
		final = func() counts {
			uuids := api.UUIDs()
			d := 0
			for _, c := range uuids {
				d += c - 1
			}
			return counts{len(uuids), d, api.Stats().Accepted, int(api.Stats().Bytes)}
		}
	default:
		s := &sink{uuids: make(map[string]struct{}, events)}
		srv := httptest.NewServer(delayed(s, o.sinkLatency))
		defer srv.Close()
		apiURL = srv.URL
		progress = func() int { return int(s.unique.Load() + s.dups.Load()) }
		final = func() counts {
			return counts{int(s.unique.Load()), int(s.dups.Load()), int(s.requests.Load()), int(s.bytes.Load())}
		}
	}

	var ports [3]int
	for i := range ports {
		if ports[i], err = harness.FreePort(); err != nil {
			return res, err
		}
	}
	port, metricsPort, pprofPort := ports[0], ports[1], 0
	if o.heapProfiles != "" || o.cpuProfile != "" {
		pprofPort = ports[2]
	}
	if o.heapProfiles != "" {
		if err := os.MkdirAll(o.heapProfiles, 0o755); err != nil {
			return res, err
		}
	}
	dir, err := os.MkdirTemp("", "loadbench")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	if !o.floor && o.queueSize > 0 && o.queueSize < o.batch {
		return res, fmt.Errorf("queue-size %d is below batch-size %d", o.queueSize, o.batch)
	}
	cfg, err := harness.WriteConfig(dir, collectorConfig(o, port, metricsPort, pprofPort, apiURL, datafile))
	if err != nil {
		return res, err
	}
	env := append([]string(nil), o.env...)
	if o.memstats {
		env = append(env, "GODEBUG=gctrace=1")
	}
	col := &harness.Collector{Binary: o.collector, ConfigPath: cfg, OTLPPort: port, Env: env}
	if err := col.Start(30 * time.Second); err != nil {
		return res, err
	}
	defer col.Stop(30 * time.Second)
	otlp := "127.0.0.1:" + strconv.Itoa(port)

	// Pre-encode the requests: the client then costs almost nothing.
	at := time.Now()
	var bodies [][]byte
	if !o.sdk {
		step := max(o.perRequest/(o.plain+1), 1) // impressions per request
		for i := 0; i < events; i += step {
			var b []byte
			var err error
			if o.plain > 0 {
				b, err = harness.RawImpressionsAmongLogs(i, min(i+step, events), o.plain, at)
			} else {
				b, err = harness.RawImpressions(i, min(i+step, events), at)
			}
			if err != nil {
				return res, err
			}
			bodies = append(bodies, b)
		}
	}

	ctx := context.Background()
	var peakRSS atomic.Int64
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for {
			if _, rss, err := harness.ProcStats(col.Pid()); err == nil && rss > peakRSS.Load() {
				peakRSS.Store(rss)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	var queue *queueSampler
	if o.memstats {
		queue = &queueSampler{url: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)}
		sampler.Go(func() { queue.run(50*time.Millisecond, stopSampling) })
	}
	if o.heapProfiles != "" {
		sampler.Go(func() { saveHeapProfiles(pprofPort, o.heapProfiles, stopSampling) })
	}
	if o.cpuProfile != "" {
		sampler.Go(func() {
			saveProfile(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=2", pprofPort), o.cpuProfile)
		})
	}

	colCPU0, _, err := harness.ProcStats(col.Pid())
	if err != nil {
		return res, err
	}
	ownCPU0, _, _ := harness.ProcStats(os.Getpid())
	start := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	errs := make(chan error, clients)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	otlpURL := "http://" + otlp + "/v1/logs"
	for c := 0; c < clients; c++ {
		wg.Go(func() {
			if o.sdk {
				errs <- emitSDK(ctx, otlp, c*events/clients, (c+1)*events/clients, at)
				return
			}
			for {
				k := int(next.Add(1)) - 1
				if k >= len(bodies) {
					return
				}
				if err := post(client, otlpURL, bodies[k]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			close(stopSampling)
			sampler.Wait()
			return res, err
		}
	}
	res.emit = time.Since(start)
	complete := harness.WaitFor(ctx, 5*time.Minute, func() bool { return progress() >= events })
	res.elapsed = time.Since(start)
	colCPU1, _, _ := harness.ProcStats(col.Pid())
	ownCPU1, _, _ := harness.ProcStats(os.Getpid())
	close(stopSampling)
	sampler.Wait()
	got := final()
	res.received, res.dups, res.requests, res.bodyBytes = got.unique, got.dups, got.requests, got.bytes
	res.eventsPerSec = float64(got.unique) / res.elapsed.Seconds()
	res.colCPU, res.ownCPU = (colCPU1 - colCPU0).Seconds(), (ownCPU1 - ownCPU0).Seconds()
	res.peakRSSKiB = peakRSS.Load()
	if o.memstats {
		gc := parseGCTrace(col.Output())
		res.gc = &gc
		res.peakQueue = queue.peak
	}
	if !complete || got.unique != events {
		return res, fmt.Errorf("lost %d of %d events", events-got.unique, events)
	}
	return res, nil
}

// saveProfile saves what url answers to path.
func saveProfile(url, path string) {
	resp, err := (&http.Client{Timeout: time.Minute}).Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench: profile:", err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	_ = os.WriteFile(path, body, 0o644)
}

// saveHeapProfiles fetches the collector's heap profile (pprofextension) every 200ms
// until stop is closed, into dir/heap-NNN.pb.gz.
func saveHeapProfiles(port int, dir string, stop <-chan struct{}) {
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; ; i++ {
		if resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap", port)); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("heap-%03d.pb.gz", i)), body, 0o644)
		}
		select {
		case <-stop:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// post sends one OTLP/HTTP request, retrying while the collector pushes back, as OTLP
// clients do.
func post(client *http.Client, url string, body []byte) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := client.Post(url, "application/x-protobuf", bytes.NewReader(body))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("OTLP receiver answered %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// emitSDK emits impressions for users [from, to) through the OpenTelemetry Go SDK.
func emitSDK(ctx context.Context, otlp string, from, to int, at time.Time) error {
	em, err := harness.NewEmitter(ctx, otlp, to-from+1024)
	if err != nil {
		return err
	}
	for i := from; i < to; i++ {
		em.Impression(ctx, i, at)
	}
	return em.Shutdown(ctx)
}
