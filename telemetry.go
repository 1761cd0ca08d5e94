package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/metadata"
)

// dropLogInterval rate-limits drop warnings per reason, so a flood of bad records
// cannot flood the collector's log.
const dropLogInterval = 10 * time.Second

// telemetryObserver records the exporter's metrics and rate-limited warnings. Every
// measurement carries the exporter's component id as the attribute exporter, as
// exporterhelper's own metrics do, so two instances are told apart.
type telemetryObserver struct {
	tb       *metadata.TelemetryBuilder
	logger   *zap.Logger
	exporter attribute.KeyValue
	only     metric.MeasurementOption // just the exporter attribute

	attrs sync.Map // "name=value" → metric.MeasurementOption

	mu         sync.Mutex
	lastWarn   map[string]time.Time
	suppressed map[string]int64
}

func newObserver(tb *metadata.TelemetryBuilder, logger *zap.Logger, id component.ID) *telemetryObserver {
	exp := attribute.String("exporter", id.String())
	return &telemetryObserver{tb: tb, logger: logger, exporter: exp, only: metric.WithAttributeSet(attribute.NewSet(exp)),
		lastWarn: map[string]time.Time{}, suppressed: map[string]int64{}}
}

// attr returns a cached attribute option, so recording allocates nothing.
func (o *telemetryObserver) attr(name, value string) metric.MeasurementOption {
	k := name + "=" + value
	if v, ok := o.attrs.Load(k); ok {
		return v.(metric.MeasurementOption)
	}
	opt := metric.WithAttributeSet(attribute.NewSet(o.exporter, attribute.String(name, value)))
	o.attrs.Store(k, opt)
	return opt
}

func (o *telemetryObserver) built(ctx context.Context, eventType string, n int) {
	if n > 0 {
		o.tb.ExporterExperimentationEventsBuilt.Add(ctx, int64(n), o.attr("event_type", eventType))
	}
}

func (o *telemetryObserver) resolved(ctx context.Context, how string, conversion bool, n int) {
	if conversion {
		o.tb.ExporterExperimentationConversionsResolved.Add(ctx, int64(n), o.attr("resolution", how))
		return
	}
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
	if suppressed, ok := o.due("dropped:"+reason, n); ok {
		o.logger.Warn(msg, append(fields, zap.String("reason", reason), zap.Int("events", n),
			zap.Int64("suppressed_since_last_warning", suppressed))...)
	}
}

// guessed logs, at most once per interval, that n impressions had their rule guessed:
// the records carried no visitor attributes and audiences decided between rules.
func (o *telemetryObserver) guessed(n int, example ...zap.Field) {
	if suppressed, ok := o.due("ambiguous", n); ok {
		o.logger.Info("Impressions without visitor attributes: their rule was guessed where audiences decide between rules of the flag (resolution ambiguous). Send the evaluation context as experiment.visitor.attributes; README \"How an impression finds its rule\".",
			append(example, zap.Int("impressions", n), zap.Int64("suppressed_since_last_notice", suppressed))...)
	}
}

// due reports whether a line for key may be logged now (once per dropLogInterval), and
// how many events were counted under key since the last line.
func (o *telemetryObserver) due(key string, n int) (int64, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	if last, ok := o.lastWarn[key]; ok && now.Sub(last) < dropLogInterval {
		o.suppressed[key] += int64(n)
		return 0, false
	}
	o.lastWarn[key] = now
	suppressed := o.suppressed[key]
	o.suppressed[key] = 0
	return suppressed, true
}

func (o *telemetryObserver) request(ctx context.Context, statusClass string, bytes, events int) {
	o.tb.ExporterExperimentationRequests.Add(ctx, 1, o.attr("status_class", statusClass))
	o.tb.ExporterExperimentationRequestBytes.Record(ctx, int64(bytes), o.only)
	o.tb.ExporterExperimentationRequestEvents.Record(ctx, int64(events), o.only)
}
