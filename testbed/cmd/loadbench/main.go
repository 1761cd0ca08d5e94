// Command loadbench measures the exporter end to end: OTLP/HTTP in, the collector built
// with ocb (a separate process, in-memory sending queue), a loopback events API out. It
// prints one line: events/s from the first emitted record to the last event received,
// the collector's CPU seconds and peak RSS, this process's CPU (client and events API),
// and whether anything was lost (it exits non-zero then). It is a measurement, not a test.
//
// It runs from testbed/ (its own Go module; make loadbench does that), so the default
// paths are relative to testbed/:
//
//	cd testbed
//	go run ./cmd/loadbench -collector ../_build/otelcol-experimentation                 # counting sink
//	go run ./cmd/loadbench -collector ../_build/otelcol-experimentation -validate       # Event API replica
//	go run ./cmd/loadbench -collector ../_build/otelcol-experimentation -sdk -clients 2 # OpenTelemetry Go SDK client
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
	"sync"
	"sync/atomic"
	"time"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
	"github.com/experimentationexporter/experimentationexporter/testbed/harness"
)

func main() {
	collector := flag.String("collector", "../_build/otelcol-experimentation", "collector binary built with ocb (make collector)")
	events := flag.Int("events", 500000, "impressions to emit")
	clients := flag.Int("clients", 4, "parallel OTLP clients")
	batch := flag.Int("batch-size", 500, "exporter batch_size")
	consumers := flag.Int("consumers", 10, "exporter sending_queue::num_consumers")
	perRequest := flag.Int("records-per-request", 1000, "log records per pre-encoded OTLP/HTTP request")
	sdk := flag.Bool("sdk", false, "emit with the OpenTelemetry Go SDK (harness.Emitter) instead of pre-encoded OTLP/HTTP requests")
	validate := flag.Bool("validate", false, "receive with the validating Event API replica instead of a counting sink")
	datafile := flag.String("datafile", "../testdata/datafile.json", "Optimizely datafile")
	flag.Parse()
	err := run(*collector, *datafile, *events, *clients, *batch, *consumers, *perRequest, *sdk, *validate)
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
	requests, unique, dups atomic.Int64

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
	w.WriteHeader(http.StatusNoContent)
}

// counts are what the events API received so far.
type counts struct{ unique, dups, requests int }

func run(collector, datafile string, events, clients, batch, consumers, perRequest int, sdk, validate bool) error {
	if _, err := os.Stat(collector); err != nil {
		return fmt.Errorf("collector binary (build it with make collector): %w", err)
	}
	datafile, err := filepath.Abs(datafile)
	if err != nil {
		return err
	}
	if clients < 1 || events < clients || perRequest < 1 {
		return errors.New("need events >= clients >= 1 and records-per-request >= 1")
	}

	// The events API: the replica, or the counting sink.
	var (
		apiURL   string
		progress func() int // events received, duplicates included; cheap to poll
		final    func() counts
	)
	if validate {
		api := eventsapi.New(eventsapi.Options{})
		u, err := api.Start("127.0.0.1:0")
		if err != nil {
			return err
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
			return counts{len(uuids), d, api.Stats().Accepted}
		}
	} else {
		s := &sink{uuids: make(map[string]struct{}, events)}
		srv := httptest.NewServer(s)
		defer srv.Close()
		apiURL = srv.URL
		progress = func() int { return int(s.unique.Load() + s.dups.Load()) }
		final = func() counts { return counts{int(s.unique.Load()), int(s.dups.Load()), int(s.requests.Load())} }
	}

	port, err := harness.FreePort()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "loadbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	queueSize := max(100000, 2*batch)
	cfg, err := harness.WriteConfig(dir, fmt.Sprintf(`receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
exporters:
  experimentation:
    endpoint: %s%s
    batch_size: %d
    flush_interval: 1s
    optimizely:
      datafile_path: %s
    sending_queue:
      queue_size: %d
      num_consumers: %d
service:
  telemetry:
    logs:
      level: warn
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [experimentation]
`, port, apiURL, eventsapi.OptimizelyPath, batch, datafile, queueSize, consumers))
	if err != nil {
		return err
	}
	col := &harness.Collector{Binary: collector, ConfigPath: cfg, OTLPPort: port}
	if err := col.Start(30 * time.Second); err != nil {
		return err
	}
	defer col.Stop(30 * time.Second)
	otlp := "127.0.0.1:" + strconv.Itoa(port)

	// Pre-encode the requests: the client then costs almost nothing.
	at := time.Now()
	var bodies [][]byte
	if !sdk {
		for i := 0; i < events; i += perRequest {
			b, err := harness.RawImpressions(i, min(i+perRequest, events), at)
			if err != nil {
				return err
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

	colCPU0, _, err := harness.ProcStats(col.Pid())
	if err != nil {
		return err
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
			if sdk {
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
			return err
		}
	}
	emitted := time.Since(start)
	complete := harness.WaitFor(ctx, 5*time.Minute, func() bool { return progress() >= events })
	elapsed := time.Since(start)
	colCPU1, _, _ := harness.ProcStats(col.Pid())
	ownCPU1, _, _ := harness.ProcStats(os.Getpid())
	close(stopSampling)
	sampler.Wait()
	got := final()

	clientKind := "pre-encoded OTLP/HTTP"
	if sdk {
		clientKind = "OTel Go SDK"
	}
	api := "counting sink"
	if validate {
		api = "Event API replica"
	}
	colCPU, ownCPU := (colCPU1 - colCPU0).Seconds(), (ownCPU1 - ownCPU0).Seconds()
	fmt.Printf("events=%d batch_size=%d client=%q x%d api=%q: received=%d lost=%d duplicates=%d requests=%d emit=%s elapsed=%s events/s=%.0f collector_cpu=%.2fs (%.0f%% of a core) collector_peak_rss=%dMiB client+api_cpu=%.2fs (%.0f%% of a core)\n",
		events, batch, clientKind, clients, api, got.unique, events-got.unique, got.dups, got.requests,
		emitted.Round(time.Millisecond), elapsed.Round(time.Millisecond), float64(got.unique)/elapsed.Seconds(),
		colCPU, 100*colCPU/elapsed.Seconds(), peakRSS.Load()/1024, ownCPU, 100*ownCPU/elapsed.Seconds())
	if !complete || got.unique != events {
		return fmt.Errorf("lost %d of %d events", events-got.unique, events)
	}
	return nil
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
