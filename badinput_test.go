package experimentationexporter

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/experimentationexporter/experimentationexporter/internal/metadata"
	"github.com/experimentationexporter/experimentationexporter/internal/metadatatest"
)

// TestBadInputIsDroppedAloneAndCounted: every kind of invalid record is dropped with a
// reason and a counter, and the valid record next to it is still built.
func TestBadInputIsDroppedAloneAndCounted(t *testing.T) {
	ab := func(lr plog.LogRecord) { impression("u", "checkout_redesign", "checkout_redesign_ab", "control")(lr) }
	tests := []struct {
		name    string
		record  func(plog.LogRecord)
		reason  string
		skipped bool
	}{
		{"plain log line", func(lr plog.LogRecord) { lr.Body().SetStr("GET / 200") }, "not_an_event", true},
		{"other event name", func(lr plog.LogRecord) { lr.SetEventName("page.view") }, "not_an_event", true},
		{"rollout decision with flag decisions off", impression("u", "free_shipping_banner", "free_shipping_50", "on"), "flag_decision_not_sent", true},
		{"no visitor id", with(ab, func(lr plog.LogRecord) { lr.Attributes().Remove("feature_flag.context.id") }), "missing_visitor_id", false},
		{"visitor id of wrong type", with(ab, func(lr plog.LogRecord) { lr.Attributes().PutDouble("feature_flag.context.id", 1.5) }), "missing_visitor_id", false},
		{"empty visitor id", with(ab, func(lr plog.LogRecord) { lr.Attributes().PutStr("feature_flag.context.id", "") }), "missing_visitor_id", false},
		{"no timestamp", with(ab, func(lr plog.LogRecord) { lr.SetTimestamp(0) }), "missing_timestamp", false},
		{"no flag key", with(ab, func(lr plog.LogRecord) { lr.Attributes().Remove("feature_flag.key") }), "missing_flag_key", false},
		{"unknown flag", impression("u", "nope", "checkout_redesign_ab", "control"), "unknown_flag", false},
		{"no rule key and a variation no rule of the flag holds", with(impression("u", "checkout_redesign", "", "purple"), func(lr plog.LogRecord) { lr.Attributes().Remove("experiment.rule.key") }), "unknown_variation", false},
		{"evaluation error type", with(ab, func(lr plog.LogRecord) { lr.Attributes().PutStr("error.type", "flag_not_found") }), "evaluation_error", true},
		{"evaluation reason ERROR", with(ab, func(lr plog.LogRecord) { lr.Attributes().PutStr("feature_flag.result.reason", "ERROR") }), "evaluation_error", true},
		{"deprecated evaluation reason error", with(ab, func(lr plog.LogRecord) { lr.Attributes().PutStr("feature_flag.evaluation.reason", "error") }), "evaluation_error", true},
		{"rule of another flag", impression("u", "checkout_redesign", "search_ranking_v2", "baseline"), "unknown_rule", false},
		{"no variant", with(ab, func(lr plog.LogRecord) { lr.Attributes().Remove("feature_flag.result.variant") }), "no_variant", true},
		{"unknown variation", impression("u", "checkout_redesign", "checkout_redesign_ab", "purple"), "unknown_variation", false},
		{"map as flag key", with(ab, func(lr plog.LogRecord) { lr.Attributes().PutEmptyMap("feature_flag.key") }), "missing_flag_key", false},
		{"no event key", with(conversion("u", "purchase"), func(lr plog.LogRecord) { lr.Attributes().Remove("experiment.event.key") }), "missing_event_key", false},
		{"unknown event key", conversion("u", "refund"), "unknown_event_key", false},
		{"NaN revenue", with(conversion("u", "purchase"), func(lr plog.LogRecord) { lr.Attributes().PutDouble("experiment.revenue", math.NaN()) }), "invalid_revenue", false},
		{"fractional revenue beyond 2^53", with(conversion("u", "purchase"), func(lr plog.LogRecord) { lr.Attributes().PutDouble("experiment.revenue", 1e300) }), "invalid_revenue", false},
		{"non-numeric string revenue", with(conversion("u", "purchase"), func(lr plog.LogRecord) { lr.Attributes().PutStr("experiment.revenue", "lots") }), "invalid_revenue", false},
		{"non-numeric string value", with(conversion("u", "purchase"), func(lr plog.LogRecord) { lr.Attributes().PutStr("experiment.value", "n/a") }), "invalid_value", false},
		{"huge revenue", with(conversion("u", "purchase"), func(lr plog.LogRecord) { lr.Attributes().PutInt("experiment.revenue", math.MaxInt64) }), "invalid_revenue", false},
		{"NaN value", with(conversion("u", "purchase"), func(lr plog.LogRecord) { lr.Attributes().PutDouble("experiment.value", math.NaN()) }), "invalid_value", false},
		{"Inf value", with(conversion("u", "purchase"), func(lr plog.LogRecord) { lr.Attributes().PutDouble("experiment.value", math.Inf(-1)) }), "invalid_value", false},
		{"bool value", with(conversion("u", "purchase"), func(lr plog.LogRecord) { lr.Attributes().PutBool("experiment.value", true) }), "invalid_value", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel := componenttest.NewTelemetry()
			t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
			e, err := newExporter(testConfig("http://127.0.0.1:1/v1/events"), metadatatest.NewSettings(tel))
			require.NoError(t, err)
			require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
			t.Cleanup(func() { _ = e.Shutdown(context.Background()) })

			good := impression("good", "checkout_redesign", "checkout_redesign_ab", "treatment")
			req, err := e.convert(context.Background(), logsOf(good, tt.record, good))
			require.NoError(t, err)
			assert.Equal(t, 2, req.ItemsCount(), "the valid records around the bad one are built")

			want := []metricdata.DataPoint[int64]{{Value: 1, Attributes: attribute.NewSet(exporterAttr, attribute.String("reason", tt.reason))}}
			if tt.skipped {
				metadatatest.AssertEqualExporterExperimentationRecordsSkipped(t, tel, want, metricdatatest.IgnoreTimestamp())
			} else {
				metadatatest.AssertEqualExporterExperimentationEventsDropped(t, tel, want, metricdatatest.IgnoreTimestamp())
			}
			metadatatest.AssertEqualExporterExperimentationEventsBuilt(t, tel, []metricdata.DataPoint[int64]{
				{Value: 2, Attributes: attribute.NewSet(exporterAttr, attribute.String("event_type", "impression"))},
			}, metricdatatest.IgnoreTimestamp())
		})
	}
}

func TestHugeAndStrangeValuesAreEncodedSafely(t *testing.T) {
	e := startedExporter(t, testConfig("http://127.0.0.1:1/v1/events"))
	rec := with(conversion(strings.Repeat("ü\xff\"\\\n", 20000), "purchase"), func(lr plog.LogRecord) {
		tags := lr.Attributes().PutEmptyMap("experiment.tags")
		tags.PutStr("\u2028", "\x00\x1f")
		tags.PutDouble("nan", math.NaN())
		deep := tags.PutEmptyMap("deep")
		for i := 0; i < 100; i++ {
			deep = deep.PutEmptyMap("d")
		}
		tags.PutEmptySlice("s").AppendEmpty().SetEmptyBytes().FromRaw([]byte{0, 1, 2})
	})
	body := bodyOf(t, e, logsOf(rec, func(lr plog.LogRecord) {
		lr.SetTimestamp(pcommon.Timestamp(1))
	}))
	assert.True(t, jsonValid(body))
}

func TestDropWarningsAreRateLimited(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	e, err := newExporter(testConfig("http://127.0.0.1:1/v1/events"), set)
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { _ = e.Shutdown(context.Background()) }()
	for i := 0; i < 1000; i++ {
		_, err := e.convert(context.Background(), logsOf(impression("u", "no_such_flag", "r", "v")))
		require.NoError(t, err)
	}
	warnings := logs.FilterField(zap.String("reason", "unknown_flag")).All()
	require.Len(t, warnings, 1, "one warning per reason and interval, not one per record")
	assert.Equal(t, int64(1), warnings[0].ContextMap()["events"].(int64))
	assert.Equal(t, "no_such_flag", warnings[0].ContextMap()["example_flag_key"], "the warning names what to fix")
}
