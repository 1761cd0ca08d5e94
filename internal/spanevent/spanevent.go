// Package spanevent reads flag evaluations that OpenFeature's OpenTelemetry hooks
// record as span events (Go, Java, Python, .NET) and turns each into the log record
// the JavaScript hook would have emitted, so both signals share one event builder.
package spanevent // import "github.com/experimentationexporter/experimentationexporter/internal/spanevent"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// LegacyEvaluationEvent is the span event name of hooks that follow semantic
// conventions up to 1.28 (the Java TracesHook).
const LegacyEvaluationEvent = "feature_flag"

// Reader converts span events to log records. It is immutable and safe for concurrent use.
type Reader struct {
	impression, conversion string
	visitorID              []string
}

// NewReader reads span events named impression (or LegacyEvaluationEvent) and
// conversion; visitorID lists the visitor id attribute names, looked up on the event,
// then on its span, then on the resource.
func NewReader(impression, conversion string, visitorID []string) *Reader {
	return &Reader{impression: impression, conversion: conversion, visitorID: visitorID}
}

// Logs returns one log record per flag-evaluation or conversion span event of td,
// named, timed and attributed like the event, and the number of spans and events that
// carry neither.
func (r *Reader) Logs(td ptrace.Traces) (ld plog.Logs, skipped int) {
	ld = plog.NewLogs()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		var rl plog.ResourceLogs
		haveRL := false
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			var sl plog.ScopeLogs
			haveSL := false
			for k := 0; k < ss.Spans().Len(); k++ {
				span := ss.Spans().At(k)
				found := false
				for e := 0; e < span.Events().Len(); e++ {
					ev := span.Events().At(e)
					name := r.eventName(ev.Name())
					if name == "" {
						skipped++
						continue
					}
					found = true
					if !haveRL {
						rl = ld.ResourceLogs().AppendEmpty()
						rs.Resource().CopyTo(rl.Resource())
						haveRL = true
					}
					if !haveSL {
						sl = rl.ScopeLogs().AppendEmpty()
						ss.Scope().CopyTo(sl.Scope())
						haveSL = true
					}
					lr := sl.LogRecords().AppendEmpty()
					lr.SetEventName(name)
					lr.SetTimestamp(ev.Timestamp())
					lr.SetTraceID(span.TraceID())
					lr.SetSpanID(span.SpanID())
					ev.Attributes().CopyTo(lr.Attributes())
					r.fillVisitorID(lr.Attributes(), span.Attributes(), rs.Resource().Attributes())
				}
				if !found && span.Events().Len() == 0 {
					skipped++
				}
			}
		}
	}
	return ld, skipped
}

func (r *Reader) eventName(name string) string {
	switch name {
	case r.impression, LegacyEvaluationEvent:
		return r.impression
	case r.conversion:
		return r.conversion
	}
	return ""
}

// fillVisitorID copies the first visitor id found on the span, else on the resource,
// when the event carries none.
func (r *Reader) fillVisitorID(dst, span, resource pcommon.Map) {
	if r.firstID(dst) != "" {
		return
	}
	for _, from := range []pcommon.Map{span, resource} {
		if name := r.firstID(from); name != "" {
			v, _ := from.Get(name)
			v.CopyTo(dst.PutEmpty(name))
			return
		}
	}
}

// firstID returns the first visitor id attribute name with a non-empty value in m.
func (r *Reader) firstID(m pcommon.Map) string {
	for _, name := range r.visitorID {
		if v, ok := m.Get(name); ok && v.AsString() != "" {
			return name
		}
	}
	return ""
}
