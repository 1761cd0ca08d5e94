package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"

	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// logsSignal and tracesSignal wrap exporterhelper's exporter of each signal. Consume
// queues a push larger than the sending queue in parts (the queue refuses an item
// larger than itself, forever); Shutdown tells the exporter that the drain begins
// before exporterhelper drains the queue, so what is queued in memory is still retried
// until the drain deadline.
type logsSignal struct {
	exporter.Logs
	exp *experimentationExporter
}

func (s *logsSignal) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	limit := recordsPerQueueItem(s.exp.cfg)
	if limit <= 0 || ld.LogRecordCount() <= limit {
		return s.Logs.ConsumeLogs(ctx, ld)
	}
	for _, part := range splitLogs(ld, limit) {
		if err := s.Logs.ConsumeLogs(ctx, part); err != nil {
			return err
		}
	}
	return nil
}

func (s *logsSignal) Shutdown(ctx context.Context) error {
	return s.exp.drain.then(ctx, s.Logs.Shutdown)
}

type tracesSignal struct {
	exporter.Traces
	exp *experimentationExporter
}

// ConsumeTraces cuts by flag span events, as ConsumeLogs cuts by records.
func (s *tracesSignal) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	limit := recordsPerQueueItem(s.exp.cfg)
	if limit <= 0 || spanEventCount(td) <= limit {
		return s.Traces.ConsumeTraces(ctx, td)
	}
	for _, part := range splitTraces(td, limit) {
		if err := s.Traces.ConsumeTraces(ctx, part); err != nil {
			return err
		}
	}
	return nil
}

func (s *tracesSignal) Shutdown(ctx context.Context) error {
	return s.exp.drain.then(ctx, s.Traces.Shutdown)
}

// recordsPerQueueItem is the most records one queue item may hold (0: no limit): the
// queue counts events, and a record may become several (VWO custom dimensions).
func recordsPerQueueItem(cfg *Config) int {
	q := cfg.QueueConfig.Get()
	if q == nil || q.Sizer != exporterhelper.RequestSizerTypeItems {
		return 0
	}
	limit := int(q.QueueSize)
	if sec := cfg.section(); sec != nil {
		limit /= max(sec.EventsPerRecord(), 1)
	}
	return max(limit, 1)
}

func spanEventCount(td ptrace.Traces) int {
	n := 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				n += spans.At(k).Events().Len()
			}
		}
	}
	return n
}

// splitTraces cuts td into parts of spans carrying at most n events (a span with more
// travels alone), each with its spans' resource and scope.
func splitTraces(td ptrace.Traces, n int) []ptrace.Traces {
	var parts []ptrace.Traces
	var cur ptrace.Traces
	count := -1 // no part yet
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			var dst ptrace.SpanSlice
			for k := 0; k < ss.Spans().Len(); k++ {
				span := ss.Spans().At(k)
				w := span.Events().Len()
				newPart := count < 0 || (count > 0 && count+w > n)
				if newPart {
					cur = ptrace.NewTraces()
					parts = append(parts, cur)
					count = 0
				}
				if newPart || k == 0 {
					ors := cur.ResourceSpans().AppendEmpty()
					rs.Resource().CopyTo(ors.Resource())
					oss := ors.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(oss.Scope())
					dst = oss.Spans()
				}
				span.CopyTo(dst.AppendEmpty())
				count += w
			}
		}
	}
	return parts
}

// splitLogs cuts ld into parts of at most n records, each with its records' resource
// and scope.
func splitLogs(ld plog.Logs, n int) []plog.Logs {
	var parts []plog.Logs
	var cur plog.Logs
	count := -1 // no part yet
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			var dst plog.LogRecordSlice
			for k := 0; k < sl.LogRecords().Len(); k++ {
				newPart := count < 0 || count == n
				if newPart {
					cur = plog.NewLogs()
					parts = append(parts, cur)
					count = 0
				}
				if newPart || k == 0 {
					orl := cur.ResourceLogs().AppendEmpty()
					rl.Resource().CopyTo(orl.Resource())
					osl := orl.ScopeLogs().AppendEmpty()
					sl.Scope().CopyTo(osl.Scope())
					dst = osl.LogRecords()
				}
				sl.LogRecords().At(k).CopyTo(dst.AppendEmpty())
				count++
			}
		}
	}
	return parts
}
