package spanevent

import (
	"reflect"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

const (
	impression = "feature_flag.evaluation"
	conversion = "experiment.conversion"
)

var defaultIDs = []string{"feature_flag.context.id", "user.id", "enduser.id"}

func defaultReader() *Reader { return NewReader(impression, conversion, defaultIDs) }

// span appends a span with the given events (names only) to a new resource and scope.
func oneSpan(td ptrace.Traces, events ...string) ptrace.Span {
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	for _, e := range events {
		span.Events().AppendEmpty().SetName(e)
	}
	return span
}

// records flattens the log records of ld in order.
func records(ld plog.Logs) []plog.LogRecord {
	var out []plog.LogRecord
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		sls := ld.ResourceLogs().At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				out = append(out, lrs.At(k))
			}
		}
	}
	return out
}

func TestEventNames(t *testing.T) {
	tests := []struct {
		name       string
		reader     *Reader
		event      string
		wantRecord bool
		wantName   string
	}{
		{"impression", defaultReader(), impression, true, impression},
		{"conversion", defaultReader(), conversion, true, conversion},
		{"Java TracesHook name becomes the impression name", defaultReader(), "feature_flag", true, impression},
		{"exception event", defaultReader(), "exception", false, ""},
		{"names are case-sensitive", defaultReader(), "Feature_Flag.Evaluation", false, ""},
		{"no trimming", defaultReader(), "feature_flag ", false, ""},
		{"no prefix match", defaultReader(), "feature_flag.evaluation.error", false, ""},
		{"empty name", defaultReader(), "", false, ""},
		{"custom impression name", NewReader("my.decision", "my.goal", defaultIDs), "my.decision", true, "my.decision"},
		{"custom conversion name", NewReader("my.decision", "my.goal", defaultIDs), "my.goal", true, "my.goal"},
		{"Java name is still read with a custom impression name", NewReader("my.decision", "my.goal", defaultIDs), "feature_flag", true, "my.decision"},
		{"custom names replace the defaults", NewReader("my.decision", "my.goal", defaultIDs), impression, false, ""},
		{"custom names replace the default conversion", NewReader("my.decision", "my.goal", defaultIDs), conversion, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td := ptrace.NewTraces()
			oneSpan(td, tt.event)
			ld, skipped := tt.reader.Logs(td)
			recs := records(ld)
			if !tt.wantRecord {
				if len(recs) != 0 || skipped != 1 || ld.ResourceLogs().Len() != 0 {
					t.Errorf("got %d records, %d resource logs, skipped %d; want none, skipped 1", len(recs), ld.ResourceLogs().Len(), skipped)
				}
				return
			}
			if len(recs) != 1 || skipped != 0 {
				t.Fatalf("got %d records, skipped %d; want 1, 0", len(recs), skipped)
			}
			if got := recs[0].EventName(); got != tt.wantName {
				t.Errorf("EventName = %q, want %q", got, tt.wantName)
			}
		})
	}
}

func TestRecordCopiesEvent(t *testing.T) {
	td := ptrace.NewTraces()
	span := oneSpan(td)
	span.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	span.SetSpanID(pcommon.SpanID{0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 1, 2})
	span.SetStartTimestamp(1_000)
	span.SetEndTimestamp(9_000)
	span.Attributes().PutStr("http.route", "/checkout")
	ev := span.Events().AppendEmpty()
	ev.SetName(conversion)
	ev.SetTimestamp(1_700_000_000_123_456_789)
	a := ev.Attributes()
	a.PutStr("user.id", "u1")
	a.PutStr("experiment.event.key", "purchase")
	a.PutInt("experiment.revenue", 4200)
	a.PutDouble("experiment.value", 1.5)
	a.PutBool("experiment.enabled", true)
	a.PutEmptyMap("experiment.tags").PutStr("k", "v")
	a.PutEmptySlice("list").AppendEmpty().SetInt(1)
	a.PutEmptyBytes("raw").FromRaw([]byte{9})
	wantAttrs := a.AsRaw()

	ld, skipped := defaultReader().Logs(td)
	recs := records(ld)
	if len(recs) != 1 || skipped != 0 {
		t.Fatalf("got %d records, skipped %d", len(recs), skipped)
	}
	lr := recs[0]
	if lr.Timestamp() != 1_700_000_000_123_456_789 {
		t.Errorf("Timestamp = %d, want the event's", lr.Timestamp())
	}
	if lr.ObservedTimestamp() != 0 {
		t.Errorf("ObservedTimestamp = %d, want unset", lr.ObservedTimestamp())
	}
	if lr.TraceID() != span.TraceID() || lr.SpanID() != span.SpanID() {
		t.Errorf("trace/span id = %v/%v, want %v/%v", lr.TraceID(), lr.SpanID(), span.TraceID(), span.SpanID())
	}
	if !reflect.DeepEqual(lr.Attributes().AsRaw(), wantAttrs) {
		t.Errorf("attributes = %v, want the event's %v (span attributes other than the id are not copied)", lr.Attributes().AsRaw(), wantAttrs)
	}
	if lr.Body().Type() != pcommon.ValueTypeEmpty {
		t.Errorf("body = %v, want empty", lr.Body().AsRaw())
	}

	// The record owns its attributes: changing them leaves the trace alone.
	lr.Attributes().PutStr("user.id", "changed")
	lr.Attributes().GetOrPutEmpty("experiment.tags")
	if v, _ := ev.Attributes().Get("user.id"); v.Str() != "u1" {
		t.Error("the record shares its attributes with the span event")
	}
}

// Collector pipelines that fan out mark the data read-only: the reader must not write
// into it (pdata panics on a write).
func TestReadOnlyTraces(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("enduser.id", "res")
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.Attributes().PutStr("user.id", "span")
	span.Events().AppendEmpty().SetName(impression)
	span.Events().AppendEmpty().SetName("feature_flag")
	span.Events().AppendEmpty().SetName("other")
	td.MarkReadOnly()

	ld, skipped := defaultReader().Logs(td)
	if got := len(records(ld)); got != 2 || skipped != 1 {
		t.Errorf("got %d records, skipped %d; want 2, 1", got, skipped)
	}
	if n := span.Events().At(0).Attributes().Len(); n != 0 {
		t.Errorf("the span event got %d attributes", n)
	}
}

func TestVisitorID(t *testing.T) {
	tests := []struct {
		name                    string
		ids                     []string
		event, span, resource   map[string]any
		want                    map[string]any
		wantResourceAttrsInLogs map[string]any
	}{
		{
			name:  "event id kept, span and resource ignored",
			event: map[string]any{"feature_flag.context.id": "ev"},
			span:  map[string]any{"user.id": "sp"}, resource: map[string]any{"enduser.id": "res"},
			want: map[string]any{"feature_flag.context.id": "ev"},
		},
		{
			name:  "event's later name wins over a span's earlier name",
			event: map[string]any{"enduser.id": "ev"},
			span:  map[string]any{"feature_flag.context.id": "sp"},
			want:  map[string]any{"enduser.id": "ev"},
		},
		{
			name: "from the span when the event has none",
			span: map[string]any{"user.id": "sp", "http.route": "/x"}, resource: map[string]any{"user.id": "res"},
			want: map[string]any{"user.id": "sp"},
		},
		{
			name: "span's later name wins over the resource's earlier name",
			span: map[string]any{"enduser.id": "sp"}, resource: map[string]any{"feature_flag.context.id": "res"},
			want: map[string]any{"enduser.id": "sp"},
		},
		{
			name: "only the span's first name is copied",
			span: map[string]any{"enduser.id": "e", "user.id": "u"},
			want: map[string]any{"user.id": "u"},
		},
		{
			name:     "from the resource when event and span have none",
			resource: map[string]any{"enduser.id": "res", "service.name": "checkout"},
			want:     map[string]any{"enduser.id": "res"},
		},
		{
			name: "none anywhere",
			span: map[string]any{"session.id": "s"}, resource: map[string]any{"service.name": "checkout"},
			want: map[string]any{},
		},
		{
			name:  "an empty event id does not hide the span's",
			event: map[string]any{"feature_flag.context.id": ""},
			span:  map[string]any{"user.id": "sp"},
			want:  map[string]any{"feature_flag.context.id": "", "user.id": "sp"},
		},
		{
			name:  "the span's id replaces the event's empty one of the same name",
			event: map[string]any{"user.id": ""},
			span:  map[string]any{"user.id": "sp"},
			want:  map[string]any{"user.id": "sp"},
		},
		{
			name: "an empty span id does not hide the resource's",
			span: map[string]any{"feature_flag.context.id": ""}, resource: map[string]any{"user.id": "res"},
			want: map[string]any{"user.id": "res"},
		},
		{
			name:  "an int event id counts",
			event: map[string]any{"user.id": int64(0)},
			span:  map[string]any{"feature_flag.context.id": "sp"},
			want:  map[string]any{"user.id": int64(0)},
		},
		{
			name: "an int span id is copied as an int",
			span: map[string]any{"user.id": int64(42)},
			want: map[string]any{"user.id": int64(42)},
		},
		{
			name:  "custom visitor id names",
			ids:   []string{"app.uid"},
			event: map[string]any{"user.id": "not-an-id-here"},
			span:  map[string]any{"app.uid": "sp"},
			want:  map[string]any{"user.id": "not-an-id-here", "app.uid": "sp"},
		},
		{
			name:     "no visitor id names",
			ids:      []string{},
			span:     map[string]any{"user.id": "sp"},
			resource: map[string]any{"user.id": "res"},
			want:     map[string]any{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := defaultIDs
			if tt.ids != nil {
				ids = tt.ids
			}
			td := ptrace.NewTraces()
			rs := td.ResourceSpans().AppendEmpty()
			if err := rs.Resource().Attributes().FromRaw(tt.resource); err != nil {
				t.Fatal(err)
			}
			span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			if err := span.Attributes().FromRaw(tt.span); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{impression, "feature_flag", conversion} {
				ev := span.Events().AppendEmpty()
				ev.SetName(name)
				if err := ev.Attributes().FromRaw(tt.event); err != nil {
					t.Fatal(err)
				}
			}
			spanBefore, resBefore := span.Attributes().AsRaw(), rs.Resource().Attributes().AsRaw()

			ld, _ := NewReader(impression, conversion, ids).Logs(td)
			recs := records(ld)
			if len(recs) != 3 {
				t.Fatalf("got %d records, want 3", len(recs))
			}
			for _, lr := range recs {
				if got := lr.Attributes().AsRaw(); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("%s: attributes = %v, want %v", lr.EventName(), got, tt.want)
				}
			}
			if !reflect.DeepEqual(span.Attributes().AsRaw(), spanBefore) || !reflect.DeepEqual(rs.Resource().Attributes().AsRaw(), resBefore) {
				t.Error("the span or resource attributes changed")
			}
		})
	}
}

func TestSkipped(t *testing.T) {
	tests := []struct {
		name        string
		build       func(ptrace.Traces)
		wantRecords int
		wantSkipped int
	}{
		{"no traces", func(ptrace.Traces) {}, 0, 0},
		{"resource without scopes", func(td ptrace.Traces) { td.ResourceSpans().AppendEmpty() }, 0, 0},
		{"scope without spans", func(td ptrace.Traces) { td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty() }, 0, 0},
		{"span without events", func(td ptrace.Traces) { oneSpan(td) }, 0, 1},
		{"three spans without events", func(td ptrace.Traces) {
			spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
			spans.AppendEmpty()
			spans.AppendEmpty()
			spans.AppendEmpty()
		}, 0, 3},
		{"span with two other events: the events count, not the span", func(td ptrace.Traces) {
			oneSpan(td, "exception", "log")
		}, 0, 2},
		{"flag event and other event", func(td ptrace.Traces) { oneSpan(td, "exception", impression) }, 1, 1},
		{"only flag events", func(td ptrace.Traces) { oneSpan(td, impression, "feature_flag", conversion) }, 3, 0},
		{"the same event twice gives two records", func(td ptrace.Traces) { oneSpan(td, impression, impression) }, 2, 0},
		{"mixed across resources", func(td ptrace.Traces) {
			oneSpan(td, impression, "exception")
			oneSpan(td)
			oneSpan(td, "a", "b", "c")
			oneSpan(td, conversion)
		}, 2, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td := ptrace.NewTraces()
			tt.build(td)
			ld, skipped := defaultReader().Logs(td)
			if got := len(records(ld)); got != tt.wantRecords || skipped != tt.wantSkipped {
				t.Errorf("records %d, skipped %d; want %d, %d", got, skipped, tt.wantRecords, tt.wantSkipped)
			}
			if ld.LogRecordCount() != tt.wantRecords {
				t.Errorf("LogRecordCount = %d", ld.LogRecordCount())
			}
		})
	}
}

// TestResourceAndScope: records keep their resource and scope, grouped as the spans
// were; resources and scopes without flag events leave no empty entries.
func TestResourceAndScope(t *testing.T) {
	td := ptrace.NewTraces()

	// Resource A: scope 1 with two spans holding flag events, scope 2 with none,
	// scope 3 with one.
	ra := td.ResourceSpans().AppendEmpty()
	ra.Resource().Attributes().PutStr("service.name", "A")
	ra.Resource().SetDroppedAttributesCount(2)
	s1 := ra.ScopeSpans().AppendEmpty()
	s1.Scope().SetName("go.openfeature.dev/contrib/hooks/otel")
	s1.Scope().SetVersion("v0.3.0")
	s1.Scope().Attributes().PutStr("scope.attr", "x")
	sp := s1.Spans().AppendEmpty()
	addEvent(sp, impression, 10, "a1")
	addEvent(sp, "exception", 11, "")
	addEvent(sp, conversion, 12, "a2")
	addEvent(s1.Spans().AppendEmpty(), "feature_flag", 13, "a3")
	s2 := ra.ScopeSpans().AppendEmpty()
	s2.Scope().SetName("no-flags")
	s2.Spans().AppendEmpty()
	s3 := ra.ScopeSpans().AppendEmpty()
	s3.Scope().SetName("third")
	addEvent(s3.Spans().AppendEmpty(), impression, 14, "a4")

	// Resource B: no flag events at all.
	rb := td.ResourceSpans().AppendEmpty()
	rb.Resource().Attributes().PutStr("service.name", "B")
	addEvent(rb.ScopeSpans().AppendEmpty().Spans().AppendEmpty(), "exception", 20, "")

	// Resource C: one event.
	rc := td.ResourceSpans().AppendEmpty()
	rc.Resource().Attributes().PutStr("service.name", "C")
	rc.ScopeSpans().AppendEmpty().Scope().SetName("c-scope")
	addEvent(rc.ScopeSpans().At(0).Spans().AppendEmpty(), conversion, 30, "c1")

	ld, skipped := defaultReader().Logs(td)
	if skipped != 3 {
		t.Errorf("skipped = %d, want 3 (an exception event in A, a span without events in A, an exception event in B)", skipped)
	}

	type scope struct {
		name, version string
		attrs         map[string]any
		users         []string
		names         []string
		times         []pcommon.Timestamp
	}
	type resource struct {
		attrs   map[string]any
		dropped uint32
		scopes  []scope
	}
	want := []resource{
		{map[string]any{"service.name": "A"}, 2, []scope{
			{"go.openfeature.dev/contrib/hooks/otel", "v0.3.0", map[string]any{"scope.attr": "x"},
				[]string{"a1", "a2", "a3"}, []string{impression, conversion, impression}, []pcommon.Timestamp{10, 12, 13}},
			{"third", "", map[string]any{}, []string{"a4"}, []string{impression}, []pcommon.Timestamp{14}},
		}},
		{map[string]any{"service.name": "C"}, 0, []scope{
			{"c-scope", "", map[string]any{}, []string{"c1"}, []string{conversion}, []pcommon.Timestamp{30}},
		}},
	}
	var got []resource
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		r := resource{attrs: rl.Resource().Attributes().AsRaw(), dropped: rl.Resource().DroppedAttributesCount()}
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			s := scope{name: sl.Scope().Name(), version: sl.Scope().Version(), attrs: sl.Scope().Attributes().AsRaw()}
			for k := 0; k < sl.LogRecords().Len(); k++ {
				lr := sl.LogRecords().At(k)
				u, _ := lr.Attributes().Get("user.id")
				s.users = append(s.users, u.Str())
				s.names = append(s.names, lr.EventName())
				s.times = append(s.times, lr.Timestamp())
			}
			r.scopes = append(r.scopes, s)
		}
		got = append(got, r)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func addEvent(span ptrace.Span, name string, ts pcommon.Timestamp, user string) {
	ev := span.Events().AppendEmpty()
	ev.SetName(name)
	ev.SetTimestamp(ts)
	if user != "" {
		ev.Attributes().PutStr("user.id", user)
	}
}

// TestMixedTracesThroughRecordReader feeds the records to the log record reader with the
// default mapping, as the exporter does: Go, Java and conversion events in one batch.
func TestMixedTracesThroughRecordReader(t *testing.T) {
	m := record.DefaultMapping()
	spans := NewReader(m.ImpressionEvent, m.ConversionEvent, m.VisitorID)
	rr := record.NewReader(m)

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "shop")
	ss := rs.ScopeSpans().AppendEmpty()

	// A Go hook span: current names, context id on the event.
	goSpan := ss.Spans().AppendEmpty()
	goSpan.Attributes().PutStr("user.id", "span-user")
	ev := goSpan.Events().AppendEmpty()
	ev.SetName("feature_flag.evaluation")
	ev.SetTimestamp(100)
	ev.Attributes().PutStr("feature_flag.key", "checkout")
	ev.Attributes().PutStr("feature_flag.result.variant", "treatment")
	ev.Attributes().PutStr("feature_flag.context.id", "ctx-1")
	ev.Attributes().PutStr("feature_flag.result.reason", "TARGETING_MATCH")
	goSpan.Events().AppendEmpty().SetName("exception")

	// A Java hook span: old names, no context id, enduser.id on the span.
	javaSpan := ss.Spans().AppendEmpty()
	javaSpan.Attributes().PutStr("enduser.id", "java-user")
	ev = javaSpan.Events().AppendEmpty()
	ev.SetName("feature_flag")
	ev.SetTimestamp(200)
	ev.Attributes().PutStr("feature_flag.key", "banner")
	ev.Attributes().PutStr("feature_flag.variant", "on")
	ev.Attributes().PutStr("feature_flag.provider_name", "flagd")

	// A conversion with the visitor only on the resource of another ResourceSpans.
	rs2 := td.ResourceSpans().AppendEmpty()
	rs2.Resource().Attributes().PutInt("user.id", 77)
	convSpan := rs2.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	ev = convSpan.Events().AppendEmpty()
	ev.SetName("experiment.conversion")
	ev.SetTimestamp(300)
	ev.Attributes().PutStr("experiment.event.key", "purchase")
	ev.Attributes().PutDouble("experiment.revenue", 1999)

	// A span without events.
	rs2.ScopeSpans().At(0).Spans().AppendEmpty()

	ld, skipped := spans.Logs(td)
	if skipped != 2 {
		t.Errorf("skipped = %d, want 2", skipped)
	}
	recs := records(ld)
	if len(recs) != 3 {
		t.Fatalf("got %d records, want 3", len(recs))
	}
	type read struct {
		kind                    record.Kind
		ts                      pcommon.Timestamp
		visitor                 any
		flag, variant, eventKey string
	}
	want := []read{
		{record.Impression, 100, "ctx-1", "checkout", "treatment", ""},
		{record.Impression, 200, "java-user", "banner", "on", ""},
		{record.Conversion, 300, int64(77), "", "", "purchase"},
	}
	for i, lr := range recs {
		var f record.Fields
		rr.Read(lr, &f)
		v, _ := f.Get(record.VisitorID)
		got := read{f.Kind, f.Timestamp, v.AsRaw(), f.Str(record.FlagKey), f.Str(record.VariationKey), f.Str(record.EventKey)}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("record %d: got %+v, want %+v", i, got, want[i])
		}
		if f.EvaluationFailed() {
			t.Errorf("record %d: evaluation failed", i)
		}
	}
	var f record.Fields
	rr.Read(recs[2], &f)
	if rev, _ := f.Get(record.Revenue); rev.Type() != pcommon.ValueTypeDouble || rev.Double() != 1999 {
		t.Errorf("revenue = %v (%s)", rev.AsRaw(), rev.Type())
	}
}
