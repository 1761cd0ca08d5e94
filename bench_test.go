package experimentationexporter

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
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
	e := startedExporter(b, testConfig("http://127.0.0.1:1/v1/events"))
	const n = 500
	ld := benchLogs(n)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req, err := e.convert(context.Background(), ld)
		if err != nil || req.ItemsCount() != n {
			b.Fatal(err, req.ItemsCount())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}
