package experimentationexporter

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/experimentationexporter/experimentationexporter/internal/metadata"
	"github.com/experimentationexporter/experimentationexporter/internal/metadatatest"
)

// hookRecord is what the JavaScript OpenFeature EventHook emits: no rule key.
func hookRecord(visitor, flag, variant string) func(plog.LogRecord) {
	return func(lr plog.LogRecord) {
		lr.SetEventName("feature_flag.evaluation")
		lr.SetTimestamp(pcommon.NewTimestampFromTime(baseTime))
		a := lr.Attributes()
		a.PutStr("feature_flag.key", flag)
		a.PutStr("feature_flag.provider.name", "in-memory")
		a.PutStr("feature_flag.result.reason", "targeting_match")
		a.PutStr("feature_flag.result.variant", variant)
		a.PutStr("feature_flag.result.value", variant)
		a.PutStr("feature_flag.context.id", visitor)
	}
}

// An impression without a rule key becomes exactly the impression its rule key would
// have given, and the metric says how the rule was found.
func TestImpressionWithoutRuleKeyMatchesTheExplicitOne(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	e, err := newExporter(testConfig("http://127.0.0.1:1/v1/events"), metadatatest.NewSettings(tel))
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })

	// user-1 is outside the 5% global holdout, so "off" of search_autocomplete comes
	// from its experiment in the group; "treatment" sits in one rule only.
	for _, tc := range []struct{ visitor, flag, rule, variant string }{
		{"user-1", "checkout_redesign", "checkout_redesign_ab", "treatment"},
		{"user-7", "search_ranking", "search_ranking_v2", "learned_ranker"},
	} {
		want := bodyOf(t, e, logsOf(impression(tc.visitor, tc.flag, tc.rule, tc.variant)))
		got := bodyOf(t, e, logsOf(hookRecord(tc.visitor, tc.flag, tc.variant)))
		assert.JSONEq(t, string(want), string(got), tc.flag)
	}
	metadatatest.AssertEqualExporterExperimentationImpressionsResolved(t, tel, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(exporterAttr, attribute.String("resolution", "record"))},
		{Value: 2, Attributes: attribute.NewSet(exporterAttr, attribute.String("resolution", "unique"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestEmptyVisitorIDFallsBackToTheNextName(t *testing.T) {
	e := startedExporter(t, testConfig("http://127.0.0.1:1/v1/events"))
	rec := with(impression("", "checkout_redesign", "checkout_redesign_ab", "control"), func(lr plog.LogRecord) {
		lr.Attributes().PutStr("user.id", "user-42")
	})
	want := bodyOf(t, e, logsOf(impression("user-42", "checkout_redesign", "checkout_redesign_ab", "control")))
	assert.JSONEq(t, string(want), string(bodyOf(t, e, logsOf(rec))))
}

// spanWithEvent is a span carrying one event as the Go OpenFeature hook records it.
func spanWithEvent(td ptrace.Traces, name string, attrs map[string]any, spanAttrs map[string]any) {
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "shop")
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("GET /checkout")
	span.SetTraceID(pcommon.TraceID{1})
	span.SetSpanID(pcommon.SpanID{2})
	_ = span.Attributes().FromRaw(spanAttrs)
	ev := span.Events().AppendEmpty()
	ev.SetName(name)
	ev.SetTimestamp(pcommon.NewTimestampFromTime(baseTime))
	_ = ev.Attributes().FromRaw(attrs)
}

// A flag-evaluation span event becomes the impression a log record with the same
// attributes would.
func TestSpanEventsBecomeImpressions(t *testing.T) {
	e := startedExporter(t, testConfig("http://127.0.0.1:1/v1/events"))
	want := bodyOf(t, e, logsOf(hookRecord("user-1", "checkout_redesign", "treatment")))

	convertSpans := func(td ptrace.Traces) []byte {
		req, err := e.convertTraces(context.Background(), td)
		require.NoError(t, err)
		b := req.(*eventBatch)
		return b.appendBody(nil, 0, len(b.Ends))
	}

	// Current semantic conventions (Go hook).
	td := ptrace.NewTraces()
	spanWithEvent(td, "feature_flag.evaluation", map[string]any{
		"feature_flag.key": "checkout_redesign", "feature_flag.provider.name": "optimizely",
		"feature_flag.result.variant": "treatment", "feature_flag.context.id": "user-1",
	}, nil)
	assert.JSONEq(t, string(want), string(convertSpans(td)))

	// Java hook (semconv <= 1.28): event "feature_flag", deprecated names, visitor id on the span.
	td = ptrace.NewTraces()
	spanWithEvent(td, "feature_flag", map[string]any{
		"feature_flag.key": "checkout_redesign", "feature_flag.provider_name": "optimizely",
		"feature_flag.variant": "treatment",
	}, map[string]any{"enduser.id": "user-1"})
	assert.JSONEq(t, string(want), string(convertSpans(td)))

	// Other events and spans are skipped.
	td = ptrace.NewTraces()
	spanWithEvent(td, "exception", map[string]any{"exception.type": "E"}, nil)
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty().SetName("plain span")
	req, err := e.convertTraces(context.Background(), td)
	require.NoError(t, err)
	assert.Equal(t, 0, req.ItemsCount())
}

// The same component in a logs and a traces pipeline is one exporter: one datafile
// poll, events of both signals delivered.
func TestLogsAndTracesShareOneExporter(t *testing.T) {
	srv := replica(t)
	c := &cdn{revision: "131"}
	cdnSrv := httptest.NewServer(c)
	defer cdnSrv.Close()
	cfg := sdkKeyConfig(t, srv.URL()+"/v1/events", cdnSrv.URL)
	cfg.Optimizely.PollingInterval = time.Hour
	cfg.FlushInterval = 20 * time.Millisecond
	f := NewFactory()
	set := exportertest.NewNopSettings(metadata.Type)
	logs, err := f.CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	traces, err := f.CreateTraces(context.Background(), set, cfg)
	require.NoError(t, err)
	assert.Same(t, logs.(*logsSignal).exp, traces.(*tracesSignal).exp)
	require.NoError(t, logs.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, traces.Start(context.Background(), componenttest.NewNopHost()))

	require.NoError(t, logs.ConsumeLogs(context.Background(), logsOf(hookRecord("user-1", "checkout_redesign", "treatment"))))
	td := ptrace.NewTraces()
	spanWithEvent(td, "feature_flag.evaluation", map[string]any{
		"feature_flag.key": "checkout_redesign", "feature_flag.result.variant": "control", "feature_flag.context.id": "user-2",
	}, nil)
	require.NoError(t, traces.ConsumeTraces(context.Background(), td))
	require.Eventually(t, func() bool { return len(deliveredIDs(t, srv)) == 2 }, 5*time.Second, 10*time.Millisecond)

	require.NoError(t, logs.Shutdown(context.Background()))
	require.NoError(t, traces.Shutdown(context.Background()))
	c.mu.Lock()
	defer c.mu.Unlock()
	assert.Len(t, c.auth, 1, "one datafile fetch for both pipelines")
	assert.ElementsMatch(t, []string{"user-1", "user-2"}, deliveredIDs(t, srv))
}

// A traces push with more flag-evaluation events than the sending queue holds is queued
// in parts, as logs pushes are.
func TestTracesPushLargerThanTheQueueIsQueuedInParts(t *testing.T) {
	srv := replica(t)
	cfg := deliveryConfig(srv)
	cfg.BatchSize = 50
	cfg.QueueConfig.Get().QueueSize = 100
	exp, err := NewFactory().CreateTraces(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	td := ptrace.NewTraces()
	for i := range 250 {
		spanWithEvent(td, "feature_flag.evaluation", map[string]any{
			"feature_flag.key": "checkout_redesign", "feature_flag.result.variant": "control",
			"feature_flag.context.id": fmt.Sprintf("user-%d", i),
		}, nil)
	}
	require.NoError(t, exp.ConsumeTraces(context.Background(), td))
	require.NoError(t, exp.Shutdown(context.Background()))
	assert.Len(t, srv.UUIDs(), 250)
}

func TestSplitTracesBySpanEvents(t *testing.T) {
	td := ptrace.NewTraces()
	for i := range 5 {
		spanWithEvent(td, "feature_flag.evaluation", map[string]any{"n": i}, nil)
	}
	big := td.ResourceSpans().At(2).ScopeSpans().At(0).Spans().At(0).Events()
	for range 4 {
		big.AppendEmpty().SetName("feature_flag.evaluation") // 5 events on the third span
	}
	parts := splitTraces(td, 2)
	var sizes []int
	for _, p := range parts {
		sizes = append(sizes, spanEventCount(p))
	}
	assert.Equal(t, []int{2, 5, 2}, sizes, "a span with more events than the limit travels alone")
	assert.Equal(t, 5, td.SpanCount())
}

// ambiguousDatafile: "on" of flag pricing comes from an experiment for plan=pro or from
// a rollout rule for beta users, both taking everyone they target.
const ambiguousDatafile = `{
  "version": "4", "accountId": "1", "projectId": "2", "revision": "3", "sendFlagDecisions": true,
  "attributes": [{"id": "10", "key": "plan"}, {"id": "11", "key": "beta"}],
  "audiences": [
    {"id": "100", "conditions": "[\"or\", {\"match\": \"exact\", \"name\": \"plan\", \"type\": \"custom_attribute\", \"value\": \"pro\"}]"},
    {"id": "101", "conditions": "[\"or\", {\"match\": \"exact\", \"name\": \"beta\", \"type\": \"custom_attribute\", \"value\": true}]"}
  ],
  "experiments": [
    {"id": "200", "key": "pricing_ab", "layerId": "300", "status": "Running", "audienceIds": ["100"],
     "variations": [{"id": "201", "key": "on", "featureEnabled": true}],
     "trafficAllocation": [{"entityId": "201", "endOfRange": 10000}]}
  ],
  "featureFlags": [{"id": "1001", "key": "pricing", "rolloutId": "r1", "experimentIds": ["200"]}],
  "rollouts": [{"id": "r1", "experiments": [
    {"id": "400", "key": "beta_users", "layerId": "401", "status": "Running", "audienceIds": ["101"],
     "variations": [{"id": "402", "key": "on", "featureEnabled": true}],
     "trafficAllocation": [{"entityId": "402", "endOfRange": 10000}]},
    {"id": "410", "key": "everyone_else", "layerId": "411", "status": "Running",
     "variations": [{"id": "412", "key": "off", "featureEnabled": false}],
     "trafficAllocation": [{"entityId": "412", "endOfRange": 10000}]}]}]
}`

// Without visitor attributes the rule of "on" is a guess: counted as ambiguous, and the
// operator is told once how to send the attributes; with them, it is no guess.
func TestAmbiguousResolutionIsCountedAndExplained(t *testing.T) {
	path := filepath.Join(t.TempDir(), "datafile.json")
	require.NoError(t, os.WriteFile(path, []byte(ambiguousDatafile), 0o600))
	cfg := testConfig("http://127.0.0.1:1/v1/events")
	cfg.Optimizely.DatafilePath = path
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	core, logs := observer.New(zapcore.InfoLevel)
	set := metadatatest.NewSettings(tel)
	set.Logger = zap.New(core)
	e, err := newExporter(cfg, set)
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })

	for i := range 3 {
		bodyOf(t, e, logsOf(hookRecord(fmt.Sprintf("user-%d", i), "pricing", "on")))
	}
	beta := func(lr plog.LogRecord) {
		lr.Attributes().PutEmptyMap("experiment.visitor.attributes").PutBool("beta", true)
	}
	body := bodyOf(t, e, logsOf(with(hookRecord("user-9", "pricing", "on"), beta)))
	assert.Contains(t, string(body), `"rule_key":"beta_users"`, "the attributes tell the rule")
	metadatatest.AssertEqualExporterExperimentationImpressionsResolved(t, tel, []metricdata.DataPoint[int64]{
		{Value: 3, Attributes: attribute.NewSet(exporterAttr, attribute.String("resolution", "ambiguous"))},
		{Value: 1, Attributes: attribute.NewSet(exporterAttr, attribute.String("resolution", "bucketing"))},
	}, metricdatatest.IgnoreTimestamp())
	hints := logs.FilterMessageSnippet("their rule was guessed").All()
	require.Len(t, hints, 1, "rate-limited: one line for three pushes")
	assert.Contains(t, hints[0].Message, "experiment.visitor.attributes")
}
