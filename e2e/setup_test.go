//go:build e2e

// Package e2e runs the collector built with ocb (make collector) against the Event API
// replica, fed by a real OTLP client.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
	"github.com/experimentationexporter/experimentationexporter/internal/harness"
)

var collectorBin = flag.String("collector", "", "path to the collector built with ocb")

// env is one test's replica, collector and OTLP client.
type env struct {
	t         *testing.T
	api       *eventsapi.Server
	collector *harness.Collector
	otlp      string // host:port of the OTLP/HTTP receiver
	dir       string
}

// options of the collector config a test needs.
type options struct {
	batchSize     int
	flushInterval string
	persistent    bool
	consumers     int
	queueSize     int
	metricsPort   int
}

func datafilePath(t *testing.T) string {
	p, err := filepath.Abs("../testdata/datafile.json")
	require.NoError(t, err)
	return p
}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	if *collectorBin == "" {
		t.Skip("-collector not set")
	}
	if _, err := os.Stat(*collectorBin); err != nil {
		t.Skipf("collector binary: %v", err)
	}
	api := eventsapi.New(eventsapi.Options{})
	url, err := api.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = api.Close() })
	port, err := harness.FreePort()
	require.NoError(t, err)
	e := &env{t: t, api: api, otlp: "127.0.0.1:" + strconv.Itoa(port), dir: t.TempDir()}

	if o.flushInterval == "" {
		o.flushInterval = "200ms"
	}
	if o.consumers == 0 {
		o.consumers = 10
	}
	if o.queueSize == 0 {
		o.queueSize = 100000
	}
	var b strings.Builder
	fmt.Fprintf(&b, "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: %s\n", e.otlp)
	if o.persistent {
		fmt.Fprintf(&b, "extensions:\n  file_storage:\n    directory: %s\n", filepath.Join(e.dir, "queue"))
		require.NoError(t, os.MkdirAll(filepath.Join(e.dir, "queue"), 0o700))
	}
	fmt.Fprintf(&b, `exporters:
  experimentation:
    endpoint: %s/v1/events
    batch_size: %d
    flush_interval: %s
    optimizely:
      datafile_path: %s
    sending_queue:
      num_consumers: %d
      queue_size: %d
`, url, o.batchSize, o.flushInterval, datafilePath(t), o.consumers, o.queueSize)
	if o.persistent {
		b.WriteString("      storage: file_storage\n")
	}
	b.WriteString("    retry_on_failure:\n      initial_interval: 100ms\n      max_interval: 500ms\n      max_elapsed_time: 0s\n")
	b.WriteString("service:\n")
	if o.persistent {
		b.WriteString("  extensions: [file_storage]\n")
	}
	b.WriteString("  telemetry:\n    logs:\n      level: info\n")
	if o.metricsPort != 0 {
		fmt.Fprintf(&b, "    metrics:\n      readers:\n        - pull:\n            exporter:\n              prometheus:\n                host: 127.0.0.1\n                port: %d\n", o.metricsPort)
	}
	b.WriteString("  pipelines:\n    logs:\n      receivers: [otlp]\n      exporters: [experimentation]\n")
	cfgPath, err := harness.WriteConfig(e.dir, b.String())
	require.NoError(t, err)
	e.collector = &harness.Collector{Binary: *collectorBin, ConfigPath: cfgPath, OTLPPort: port}
	require.NoError(t, e.collector.Start(30*time.Second))
	t.Cleanup(func() {
		_ = e.collector.Stop(40 * time.Second)
		if t.Failed() {
			t.Logf("collector output:\n%s", tail(e.collector.Output(), 4000))
		}
	})
	return e
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// emit sends impressions and conversions for users [from, to) and flushes the client.
func (e *env) emit(from, to int, conversions bool) {
	e.t.Helper()
	ctx := context.Background()
	em, err := harness.NewEmitter(ctx, e.otlp, 2*(to-from)+16)
	require.NoError(e.t, err)
	at := time.Now()
	for i := from; i < to; i++ {
		em.Impression(ctx, i, at)
		if conversions {
			em.Conversion(ctx, i, at)
		}
	}
	em.Plain(ctx, "GET /cart 200")
	sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	require.NoError(e.t, em.Shutdown(sctx))
}

// waitEvents waits until the replica accepted n distinct event uuids.
func (e *env) waitEvents(n int, timeout time.Duration) map[string]int {
	e.t.Helper()
	var uuids map[string]int
	ok := harness.WaitFor(context.Background(), timeout, func() bool {
		uuids = e.api.UUIDs()
		return len(uuids) >= n
	})
	if !ok {
		for _, r := range e.api.Requests() {
			if !r.Accepted() {
				e.t.Logf("rejected request: %d %s", r.Status, r.Error)
				break
			}
		}
		e.t.Logf("stats: %+v", e.api.Stats())
	}
	require.True(e.t, ok, "the events API received %d of %d events", len(uuids), n)
	return uuids
}

func duplicates(uuids map[string]int) int {
	d := 0
	for _, c := range uuids {
		d += c - 1
	}
	return d
}
