package experimentationexporter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/experimentationexporter/experimentationexporter/internal/metadata"
	"github.com/experimentationexporter/experimentationexporter/internal/privacy"
)

// benchLogs is n impressions like the fixture's, each with visitor attributes and a user agent.
func benchLogs(n int) plog.Logs {
	fns := make([]func(plog.LogRecord), n)
	for i := range fns {
		fns[i] = with(impression(fmt.Sprintf("user-%d", i), "checkout_redesign", "checkout_redesign_ab", "treatment"), func(lr plog.LogRecord) {
			lr.Attributes().PutStr("feature_flag.result.reason", "split")
			lr.Attributes().PutStr("feature_flag.provider.name", "optimizely")
			lr.Attributes().PutStr("experiment.rule.type", "feature-test")
			lr.Attributes().PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)")
			m := lr.Attributes().PutEmptyMap("experiment.visitor.attributes")
			m.PutStr("plan", "pro")
			m.PutInt("age", 34)
			m.PutBool("is_beta", true)
		})
	}
	return logsOf(fns...)
}

// BenchmarkConvert measures mapping and JSON encoding: records → encoded events.
func BenchmarkConvert(b *testing.B) {
	benchmarkConvert(b, testConfig("http://127.0.0.1:1/v1/events"), benchLogs(benchRecords))
	b.ReportMetric(float64(benchRecords*b.N)/b.Elapsed().Seconds(), "events/s")
}

// benchRecords is how many records the convert benchmarks convert per operation.
const benchRecords = 500

// benchmarkConvert converts ld (benchRecords records, one event each) per operation.
func benchmarkConvert(b *testing.B, cfg *Config, ld plog.Logs) {
	e := startedExporter(b, cfg)
	const n = benchRecords
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req, err := e.convert(context.Background(), ld)
		if err != nil || req.ItemsCount() != n {
			b.Fatal(err, req.ItemsCount())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}

// sink is a loopback events API that reads each body and answers 204.
func sink(b *testing.B) (*httptest.Server, *atomic.Int64) {
	var events atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if n > 0 {
			events.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	return srv, &events
}

// BenchmarkPushPath measures records → events → JSON → HTTP POST to a loopback
// server, one request per batch_size records, without the queue.
func BenchmarkPushPath(b *testing.B) {
	for _, size := range []int{10, 500} {
		b.Run("batch_size="+strconv.Itoa(size), func(b *testing.B) {
			srv, _ := sink(b)
			cfg := testConfig(srv.URL)
			cfg.BatchSize = size
			e := startedExporter(b, cfg)
			ld := benchLogs(size)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				req, err := e.convert(context.Background(), ld)
				if err != nil {
					b.Fatal(err)
				}
				if err := e.push(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkExporter measures the whole exporter as the collector runs it: ConsumeLogs
// of 100-record pushes through the sending queue, the batcher and 10 consumers.
func BenchmarkExporter(b *testing.B) {
	for _, size := range []int{10, 500} {
		b.Run("batch_size="+strconv.Itoa(size), func(b *testing.B) {
			srv, requests := sink(b)
			cfg := testConfig(srv.URL)
			cfg.BatchSize = size
			cfg.FlushInterval = 100 * time.Millisecond
			exp, _, err := newLogsExporter(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
				b.Fatal(err)
			}
			const perPush = 100
			ld := benchLogs(perPush)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := exp.ConsumeLogs(context.Background(), ld); err != nil {
					b.Fatal(err)
				}
			}
			if err := exp.Shutdown(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(perPush*b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(requests.Load()), "requests")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkConvertPrivacy is BenchmarkConvert with the privacy gate on: a 10-entry
// allowlist (some globs) and the three detectors (issue #14: at most 10% more).
func BenchmarkConvertPrivacy(b *testing.B) {
	cfg := testConfig("http://127.0.0.1:1/v1/events")
	cfg.Privacy = privacy.Config{
		VisitorAttributes: privacy.AttributeRules{Allow: []string{
			"plan", "age", "is_beta", "country*", "locale", "tier", "device_*", "app_version", "$opt_user_agent", "segment",
		}},
		DropValuesMatching: []string{"email", "ip", "card"},
	}
	benchmarkConvert(b, cfg, benchLogs(benchRecords))
}

// BenchmarkConvertResolved is BenchmarkConvert with records as OpenFeature hooks emit
// them, without a rule key: "off" of free_shipping_banner sits in the holdout and in
// everyone else, so each record is resolved by bucketing (issue #11's cost per event).
func BenchmarkConvertResolved(b *testing.B) {
	cfg := testConfig("http://127.0.0.1:1/v1/events")
	cfg.Optimizely.SendFlagDecisions = "true"
	ld := benchLogs(benchRecords)
	rls := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < rls.Len(); i++ {
		a := rls.At(i).Attributes()
		a.Remove("experiment.rule.key")
		a.Remove("experiment.rule.type")
		a.PutStr("feature_flag.key", "free_shipping_banner")
		a.PutStr("feature_flag.result.variant", "off")
	}
	benchmarkConvert(b, cfg, ld)
}

// BenchmarkConvertDedup: the cost of dedup per record, with every impression a repeat
// (hit: left out) or a new window (miss: remembered and sent). BenchmarkConvert is dedup
// off.
func BenchmarkConvertDedup(b *testing.B) {
	for _, hit := range []bool{true, false} {
		name := "miss"
		if hit {
			name = "hit"
		}
		b.Run(name, func(b *testing.B) {
			cfg := testConfig("http://127.0.0.1:1/v1/events")
			cfg.Dedup.Window = time.Hour
			e := startedExporter(b, cfg)
			ld := benchLogs(benchRecords)
			_, _ = e.convert(context.Background(), ld) // remember every key once
			lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if !hit {
					at := pcommon.Timestamp(int64(i+1) * int64(2*time.Hour))
					for k := 0; k < lrs.Len(); k++ {
						lrs.At(k).SetTimestamp(at)
					}
				}
				if _, err := e.convert(context.Background(), ld); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRecords), "ns/record")
		})
	}
}
