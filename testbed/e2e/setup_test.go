//go:build e2e

// Package e2e runs the collector built with ocb (make collector) against the Event API
// replica, fed by a real OTLP client (the OpenTelemetry Go SDK). Every test writes its
// own collector config with free ports into t.TempDir().
//
//	cd testbed && go test -count=1 -timeout 20m -tags e2e ./e2e/... -collector=$PWD/../_build/otelcol-experimentation
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
	"github.com/experimentationexporter/experimentationexporter/testbed/harness"
)

var (
	collectorBin = flag.String("collector", "", "path to the collector built with ocb; the tests skip without it")
	collectorLog = flag.Bool("collector-log", false, "log the tail of the collector's output even when a test passes")
)

// env is one test's replica, collector and OTLP endpoint.
type env struct {
	t         *testing.T
	api       *eventsapi.Server
	collector *harness.Collector
	otlp      string // host:port of the OTLP/HTTP receiver
	dir       string
}

// options of the collector config a test needs; zero values take the defaults below.
type options struct {
	batchSize     int
	flushInterval string // default 200ms
	persistent    bool   // sending_queue on the file_storage extension
	consumers     int    // default 10 (the exporter's default)
	queueSize     int    // default 100000 (more than the exporter's default 30000: bursts in tests)
	metricsPort   int    // Prometheus reader of the collector's own telemetry
	traces        bool   // also a traces pipeline: otlp → experimentation (span events)
	// sdkKeyCDN, when set, is the base URL of a datafile CDN: the exporter polls
	// <sdkKeyCDN>/datafiles/<sdk_key>.json every second (sdk_key cdnSDKKey) instead of
	// reading testdata/datafile.json.
	sdkKeyCDN string
	// datafile is the Optimizely datafile (repository-relative) the exporter reads;
	// default testdata/datafile.json.
	datafile string
	// timeoutInterval bounds the shutdown drain (the exporter's default 30s when empty).
	timeoutInterval string
	// vwo sends to VWO instead of Optimizely: destination vwo, the replica's
	// /server-side/batch-events, account vwoAccountID with sdk key vwoSDKKey and the
	// settings file testdata/vwo_settings.json. batchSize 0 keeps VWO's default (100).
	vwo bool
}

// The VWO account of the config newEnv writes for options.vwo.
const (
	vwoAccountID = 12345
	vwoSDKKey    = "e2eVwoSdkKey"
)

// cdnSDKKey is the sdk_key of the config newEnv writes for options.sdkKeyCDN.
const cdnSDKKey = "e2eSdkKey"

// binary returns the collector binary, or skips the test.
func binary(t *testing.T) string {
	t.Helper()
	if *collectorBin == "" {
		t.Skip("-collector not set (make e2e builds the collector and sets it)")
	}
	if _, err := os.Stat(*collectorBin); err != nil {
		t.Skipf("collector binary: %v", err)
	}
	return *collectorBin
}

// repoPath resolves rel against the repository root (this package is testbed/e2e).
func repoPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", rel))
	require.NoError(t, err)
	return p
}

// newEnv starts the replica and a collector configured by o. Both stop at the end of
// the test; a failed test logs the tail of the collector's output.
func newEnv(t *testing.T, o options) *env {
	t.Helper()
	bin := binary(t)
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
	if o.datafile == "" {
		o.datafile = "testdata/datafile.json"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: %s\n", e.otlp)
	if o.persistent {
		queueDir := filepath.Join(e.dir, "queue")
		require.NoError(t, os.MkdirAll(queueDir, 0o700))
		fmt.Fprintf(&b, "extensions:\n  file_storage:\n    directory: %s\n", queueDir)
	}
	if o.vwo {
		fmt.Fprintf(&b, "exporters:\n  experimentation:\n    destination: vwo\n    endpoint: %s%s\n", url, eventsapi.VWOPath)
		if o.batchSize != 0 {
			fmt.Fprintf(&b, "    batch_size: %d\n", o.batchSize)
		}
		fmt.Fprintf(&b, "    flush_interval: %s\n    vwo:\n      account_id: %d\n      sdk_key: %s\n      settings_file_path: %s\n      push_custom_dimensions: false\n",
			o.flushInterval, vwoAccountID, vwoSDKKey, repoPath(t, "testdata/vwo_settings.json"))
	} else {
		fmt.Fprintf(&b, `exporters:
  experimentation:
    endpoint: %s/v1/events
    batch_size: %d
    flush_interval: %s
    optimizely:
`, url, o.batchSize, o.flushInterval)
		if o.sdkKeyCDN != "" {
			fmt.Fprintf(&b, "      sdk_key: %s\n      datafile_url: %s/datafiles/%%s.json\n      polling_interval: 1s\n", cdnSDKKey, o.sdkKeyCDN)
		} else {
			fmt.Fprintf(&b, "      datafile_path: %s\n", repoPath(t, o.datafile))
		}
	}
	if o.timeoutInterval != "" {
		fmt.Fprintf(&b, "    timeout_interval: %s\n", o.timeoutInterval)
	}
	fmt.Fprintf(&b, "    sending_queue:\n      num_consumers: %d\n      queue_size: %d\n", o.consumers, o.queueSize)
	if o.persistent {
		b.WriteString("      storage: file_storage\n")
	}
	b.WriteString("    retry_on_failure:\n      initial_interval: 100ms\n      max_interval: 500ms\n      max_elapsed_time: 0s\n")
	b.WriteString("service:\n")
	if o.persistent {
		b.WriteString("  extensions: [file_storage]\n")
	}
	b.WriteString("  telemetry:\n    logs:\n      level: info\n")
	if o.metricsPort == 0 {
		// Never the collector's default 8888: runs on one machine would collide.
		o.metricsPort, err = harness.FreePort()
		require.NoError(t, err)
	}
	fmt.Fprintf(&b, "    metrics:\n      readers:\n        - pull:\n            exporter:\n              prometheus:\n                host: 127.0.0.1\n                port: %d\n", o.metricsPort)
	b.WriteString("  pipelines:\n    logs:\n      receivers: [otlp]\n      exporters: [experimentation]\n")
	if o.traces {
		b.WriteString("    traces:\n      receivers: [otlp]\n      exporters: [experimentation]\n")
	}
	cfgPath, err := harness.WriteConfig(e.dir, b.String())
	require.NoError(t, err)
	e.collector = &harness.Collector{Binary: bin, ConfigPath: cfgPath, OTLPPort: port}
	require.NoError(t, e.collector.Start(30*time.Second))
	t.Cleanup(func() {
		if err := e.collector.Stop(40 * time.Second); err != nil {
			t.Errorf("stopping the collector: %v", err)
		}
		if t.Failed() || *collectorLog {
			t.Logf("collector output (tail):\n%s", tail(e.collector.Output(), 4000))
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

// emit sends impressions (and conversions) for users [from, to) plus a few ordinary log
// lines, and flushes the client: when it returns, the collector has answered every
// OTLP request with success.
func (e *env) emit(from, to int, conversions bool) time.Duration {
	e.t.Helper()
	ctx := context.Background()
	records := to - from
	if conversions {
		records *= 2
	}
	em, err := harness.NewEmitter(ctx, e.otlp, records+1024)
	require.NoError(e.t, err)
	start := time.Now()
	at := start
	for i := from; i < to; i++ {
		em.Impression(ctx, i, at)
		if conversions {
			em.Conversion(ctx, i, at)
		}
		if i%1000 == 0 {
			em.Plain(ctx, "GET /cart 200 12ms")
		}
	}
	em.Plain(ctx, "POST /checkout 201 40ms")
	sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	require.NoError(e.t, em.Shutdown(sctx))
	return time.Since(start)
}

// wantIDs returns the uuids of the events emit(from, to, conversions) sends.
func wantIDs(from, to int, conversions bool) []string {
	var ids []string
	for i := from; i < to; i++ {
		ids = append(ids, harness.ImpressionID(i))
		if conversions {
			ids = append(ids, harness.ConversionID(i))
		}
	}
	return ids
}

// waitEvents waits until the replica accepted n distinct event uuids and returns the
// count of each.
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
				e.t.Logf("a rejected request: %d %s", r.Status, r.Error)
				break
			}
		}
		e.t.Logf("stats: %+v", e.api.Stats())
	}
	require.True(e.t, ok, "the events API received %d of %d events within %s", len(uuids), n, timeout)
	return uuids
}

// missing lists the wanted uuids that never arrived (at most 10) and counts them.
func missing(uuids map[string]int, want []string) (int, []string) {
	n := 0
	var some []string
	for _, id := range want {
		if uuids[id] == 0 {
			n++
			if len(some) < 10 {
				some = append(some, id)
			}
		}
	}
	return n, some
}

// duplicates counts deliveries beyond the first of each uuid.
func duplicates(uuids map[string]int) int {
	d := 0
	for _, c := range uuids {
		d += c - 1
	}
	return d
}
