package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/metadata"
)

// dropLogInterval rate-limits drop warnings per reason, so a flood of bad records
// cannot flood the collector's log.
const dropLogInterval = 10 * time.Second

// telemetryObserver records the exporter's metrics and rate-limited warnings.
type telemetryObserver struct {
	tb     *metadata.TelemetryBuilder
	logger *zap.Logger

	attrs sync.Map // "name=value" → metric.MeasurementOption

	mu         sync.Mutex
	lastWarn   map[string]time.Time
	suppressed map[string]int64
}

func newObserver(tb *metadata.TelemetryBuilder, logger *zap.Logger) *telemetryObserver {
	return &telemetryObserver{tb: tb, logger: logger, lastWarn: map[string]time.Time{}, suppressed: map[string]int64{}}
}

// attr returns a cached attribute option, so recording allocates nothing.
func (o *telemetryObserver) attr(name, value string) metric.MeasurementOption {
	k := name + "=" + value
	if v, ok := o.attrs.Load(k); ok {
		return v.(metric.MeasurementOption)
	}
	opt := metric.WithAttributeSet(attribute.NewSet(attribute.String(name, value)))
	o.attrs.Store(k, opt)
	return opt
}

func (o *telemetryObserver) built(ctx context.Context, eventType string, n int) {
	if n > 0 {
		o.tb.ExporterExperimentationEventsBuilt.Add(ctx, int64(n), o.attr("event_type", eventType))
	}
}

func (o *telemetryObserver) resolved(ctx context.Context, how string, n int) {
	o.tb.ExporterExperimentationImpressionsResolved.Add(ctx, int64(n), o.attr("resolution", how))
}

// redacted counts attributes the privacy gate removed or changed; values are never logged.
func (o *telemetryObserver) redacted(ctx context.Context, reason string, n int) {
	o.tb.ExporterExperimentationAttributesRedacted.Add(ctx, int64(n), o.attr("reason", reason))
}

func (o *telemetryObserver) skipped(ctx context.Context, reason string, n int) {
	o.tb.ExporterExperimentationRecordsSkipped.Add(ctx, int64(n), o.attr("reason", reason))
}

// dropped counts n dropped events and logs a warning at most once per interval and reason.
func (o *telemetryObserver) dropped(ctx context.Context, reason string, n int, msg string, fields ...zap.Field) {
	o.tb.ExporterExperimentationEventsDropped.Add(ctx, int64(n), o.attr("reason", reason))
	o.mu.Lock()
	now := time.Now()
	if last, ok := o.lastWarn[reason]; ok && now.Sub(last) < dropLogInterval {
		o.suppressed[reason] += int64(n)
		o.mu.Unlock()
		return
	}
	o.lastWarn[reason] = now
	suppressed := o.suppressed[reason]
	o.suppressed[reason] = 0
	o.mu.Unlock()
	o.logger.Warn(msg, append(fields, zap.String("reason", reason), zap.Int("events", n),
		zap.Int64("suppressed_since_last_warning", suppressed))...)
}

func (o *telemetryObserver) request(ctx context.Context, statusClass string, bytes, events int) {
	o.tb.ExporterExperimentationRequests.Add(ctx, 1, o.attr("status_class", statusClass))
	o.tb.ExporterExperimentationRequestBytes.Record(ctx, int64(bytes))
	o.tb.ExporterExperimentationRequestEvents.Record(ctx, int64(events))
}
