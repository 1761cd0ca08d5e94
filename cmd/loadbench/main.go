// Command loadbench measures the exporter end to end: OTLP/HTTP in, the collector built
// with ocb, the Event API replica out. It prints events/s from the first emitted record to
// the last event received, the collector's CPU seconds and peak RSS, and whether anything
// was lost. It is a measurement, not a test.
package main

import (
	"bytes"
	"context"
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
	"github.com/experimentationexporter/experimentationexporter/internal/harness"
)

func main() {
	collector := flag.String("collector", "_build/otelcol-experimentation", "collector binary")
	events := flag.Int("events", 500000, "impressions to emit")
	clients := flag.Int("clients", 4, "parallel OTLP clients")
	batch := flag.Int("batch-size", 500, "exporter batch_size")
	sdk := flag.Bool("sdk", false, "emit with the OpenTelemetry Go SDK instead of pre-encoded OTLP/HTTP requests")
	validate := flag.Bool("validate", false, "receive with the validating Event API replica instead of a counting sink")
	flag.Parse()
	if err := run(*collector, *events, *clients, *batch, *sdk, *validate); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

// sink is a cheap events API: it counts impressions and answers 204, so that on a
// 2-core machine the measurement is not bound by the replica's JSON validation.
type sink struct{ impressions, requests atomic.Int64 }

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.impressions.Add(int64(bytes.Count(body, []byte(`"campaign_activated"`))))
	s.requests.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

func run(collector string, events, clients, batch int, sdk, validate bool) error {
	api := eventsapi.New(eventsapi.Options{})
	received := func() (int, int) { st := api.Stats(); return st.Impressions, st.Accepted }
	var apiURL string
	if validate {
		u, err := api.Start("127.0.0.1:0")
		if err != nil {
			return err
		}
		apiURL = u
		defer api.Close()
	} else {
		s := &sink{}
		srv := httptest.NewServer(s)
		defer srv.Close()
		apiURL = srv.URL
		received = func() (int, int) { return int(s.impressions.Load()), int(s.requests.Load()) }
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
	datafile, _ := filepath.Abs("testdata/datafile.json")
	cfg, err := harness.WriteConfig(dir, fmt.Sprintf(`receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
exporters:
  experimentation:
    endpoint: %s/v1/events
    batch_size: %d
    flush_interval: 1s
    optimizely:
      datafile_path: %s
    sending_queue:
      queue_size: 200000
service:
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [experimentation]
`, port, apiURL, batch, datafile))
	if err != nil {
		return err
	}
	col := &harness.Collector{Binary: collector, ConfigPath: cfg, OTLPPort: port}
	if err := col.Start(30 * time.Second); err != nil {
		return err
	}
	defer col.Stop(30 * time.Second)

	ctx := context.Background()
	var peakRSS int64
	stopSampling := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
				if _, rss, err := harness.ProcStats(col.Pid()); err == nil && rss > peakRSS {
					peakRSS = rss
				}
			}
		}
	}()
	per := events / clients
	otlpURL := "http://127.0.0.1:" + strconv.Itoa(port) + "/v1/logs"
	// Pre-encoded requests of 1000 records: the client then costs almost nothing.
	const perRequest = 1000
	var bodies [][]byte
	if !sdk {
		at := time.Now()
		for i := 0; i < per*clients; i += perRequest {
			b, err := harness.RawImpressions(i, min(i+perRequest, per*clients), at)
			if err != nil {
				return err
			}
			bodies = append(bodies, b)
		}
	}
	cpu0, _, _ := harness.ProcStats(col.Pid())
	start := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	for c := 0; c < clients; c++ {
		wg.Go(func() {
			if !sdk {
				for {
					k := int(next.Add(1)) - 1
					if k >= len(bodies) {
						return
					}
					for {
						resp, err := http.Post(otlpURL, "application/x-protobuf", bytes.NewReader(bodies[k]))
						if err == nil {
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if resp.StatusCode == http.StatusOK {
								break
							}
						}
						time.Sleep(10 * time.Millisecond) // pushed back: retry, as OTLP clients do
					}
				}
			}
			em, err := harness.NewEmitter(ctx, "127.0.0.1:"+strconv.Itoa(port), per+16)
			if err != nil {
				panic(err)
			}
			at := time.Now()
			for i := c * per; i < (c+1)*per; i++ {
				em.Impression(ctx, i, at)
			}
			_ = em.Shutdown(ctx)
		})
	}
	wg.Wait()
	emitted := time.Since(start)
	ok := harness.WaitFor(ctx, 5*time.Minute, func() bool { n, _ := received(); return n >= per*clients })
	elapsed := time.Since(start)
	cpu1, _, _ := harness.ProcStats(col.Pid())
	close(stopSampling)
	got, requests := received()
	fmt.Printf("events=%d batch_size=%d clients=%d validate=%v received=%d lost=%d requests=%d elapsed=%s emit=%s events/s=%.0f collector_cpu=%.2fs (%.0f%% of one core) peak_rss=%dMiB complete=%v\n",
		per*clients, batch, clients, validate, got, per*clients-got, requests, elapsed.Round(time.Millisecond),
		emitted.Round(time.Millisecond), float64(got)/elapsed.Seconds(), (cpu1 - cpu0).Seconds(),
		100*(cpu1-cpu0).Seconds()/elapsed.Seconds(), peakRSS/1024, ok)
	return nil
}
