package experimentationexporter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/experimentationexporter/experimentationexporter/internal/metadata"
	"github.com/experimentationexporter/experimentationexporter/internal/metadatatest"
)

// Two instances in one collector keep their counts apart: every metric carries the
// exporter's component id, as exporterhelper's metrics do.
func TestMetricsCarryTheExporterID(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	for _, tc := range []struct {
		name        string
		impressions int
	}{{"eu", 1}, {"us", 2}} {
		set := metadatatest.NewSettings(tel)
		set.ID = component.NewIDWithName(metadata.Type, tc.name)
		e, err := newExporter(testConfig("http://127.0.0.1:1/v1/events"), set)
		require.NoError(t, err)
		require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
		t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
		for range tc.impressions {
			bodyOf(t, e, logsOf(impression("user-1", "checkout_redesign", "checkout_redesign_ab", "treatment")))
		}
	}
	id := func(name string) attribute.KeyValue {
		return attribute.String("exporter", component.NewIDWithName(metadata.Type, name).String())
	}
	metadatatest.AssertEqualExporterExperimentationEventsBuilt(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(id("eu"), attribute.String("event_type", "impression"))},
		{Value: 2, Attributes: attribute.NewSet(id("us"), attribute.String("event_type", "impression"))},
	}, metricdatatest.IgnoreTimestamp())
}
