package harness

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Emitter is an application instrumented with the OpenTelemetry Go SDK's logs API,
// exporting OTLP/HTTP to a collector: what users run in front of this exporter.
type Emitter struct {
	provider *sdklog.LoggerProvider
	logger   log.Logger
}

// NewEmitter exports to the OTLP/HTTP receiver at endpoint (host:port). The SDK queue
// holds queueSize records so a burst is never dropped on the client side.
func NewEmitter(ctx context.Context, endpoint string, queueSize int) (*Emitter, error) {
	exp, err := otlploghttp.New(ctx,
		otlploghttp.WithEndpoint(endpoint),
		otlploghttp.WithInsecure(),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: true, InitialInterval: 100 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsedTime: 5 * time.Minute}),
	)
	if err != nil {
		return nil, err
	}
	bp := sdklog.NewBatchProcessor(exp,
		sdklog.WithMaxQueueSize(queueSize),
		sdklog.WithExportMaxBatchSize(2048),
		sdklog.WithExportInterval(100*time.Millisecond),
		sdklog.WithExportTimeout(5*time.Minute),
	)
	p := sdklog.NewLoggerProvider(sdklog.WithProcessor(bp))
	return &Emitter{provider: p, logger: p.Logger("github.com/open-feature/go-sdk-contrib/hooks/open-telemetry")}, nil
}

// Variation picks the fixture datafile's checkout_redesign_ab arm of user i.
func Variation(i int) string {
	if i%2 == 0 {
		return "control"
	}
	return "treatment"
}

// UserID names demo user i.
func UserID(i int) string { return "user-" + strconv.Itoa(i) }

// ImpressionID is the event.id (a UUID, so also the event's uuid) of user i's impression.
func ImpressionID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// ConversionID is the event.id (and uuid) of user i's conversion.
func ConversionID(i int) string { return fmt.Sprintf("00000000-0000-4000-9000-%012d", i) }

// Impression emits a feature_flag.evaluation record for user i, as OpenFeature's hook does.
func (e *Emitter) Impression(ctx context.Context, i int, at time.Time) {
	var r log.Record
	r.SetEventName("feature_flag.evaluation")
	r.SetTimestamp(at)
	r.AddAttributes(
		attribute.String("feature_flag.key", "checkout_redesign"),
		attribute.String("feature_flag.result.variant", Variation(i)),
		attribute.String("feature_flag.context.id", UserID(i)),
		attribute.String("experiment.rule.key", "checkout_redesign_ab"),
		attribute.String("experiment.rule.type", "feature-test"),
		attribute.String("event.id", ImpressionID(i)),
		attribute.String("user_agent.original", "demo-app/1.0"),
		attribute.Map("experiment.visitor.attributes", attribute.String("plan", "pro"), attribute.Bool("is_beta", i%3 == 0)),
	)
	e.logger.Emit(ctx, r)
}

// Conversion emits an experiment.conversion record (a purchase) for user i.
func (e *Emitter) Conversion(ctx context.Context, i int, at time.Time) {
	var r log.Record
	r.SetEventName("experiment.conversion")
	r.SetTimestamp(at)
	r.AddAttributes(
		attribute.String("user.id", UserID(i)),
		attribute.String("experiment.event.key", "purchase"),
		attribute.Int64("experiment.revenue", int64(1000+i)),
		attribute.String("event.id", ConversionID(i)),
		attribute.Map("experiment.tags", attribute.String("category", "shoes")),
	)
	e.logger.Emit(ctx, r)
}

// Plain emits an ordinary log line, which the exporter skips.
func (e *Emitter) Plain(ctx context.Context, msg string) {
	var r log.Record
	r.SetTimestamp(time.Now())
	r.SetBody(attribute.StringValue(msg))
	e.logger.Emit(ctx, r)
}

// Shutdown flushes everything emitted so far to the collector.
func (e *Emitter) Shutdown(ctx context.Context) error { return e.provider.Shutdown(ctx) }

// Record emits a record with the given event name (none if empty), timestamp and
// attributes: for records the typed helpers do not cover, such as invalid ones.
func (e *Emitter) Record(ctx context.Context, eventName string, at time.Time, attrs ...attribute.KeyValue) {
	var r log.Record
	if eventName != "" {
		r.SetEventName(eventName)
	}
	r.SetTimestamp(at)
	r.AddAttributes(attrs...)
	e.logger.Emit(ctx, r)
}

// Invalid emits an impression of a flag the datafile does not know: dropped as unknown_flag.
func (e *Emitter) Invalid(ctx context.Context, at time.Time) {
	e.Record(ctx, "feature_flag.evaluation", at,
		attribute.String("feature_flag.key", "no_such_flag"),
		attribute.String("feature_flag.result.variant", "on"),
		attribute.String("feature_flag.context.id", "user-x"),
		attribute.String("experiment.rule.key", "no_such_rule"),
	)
}

// RawImpressions encodes impressions for users [from, to) as one OTLP/HTTP protobuf
// request body, for load tests whose client must be cheaper than the collector.
func RawImpressions(from, to int, at time.Time) ([]byte, error) {
	return RawImpressionsAmongLogs(from, to, 0, at)
}

// RawImpressionsAmongLogs is RawImpressions with plain ordinary log lines before each
// impression, as when one logs pipeline carries an app's logs and its flag evaluations:
// the exporter skips the plain lines.
func RawImpressionsAmongLogs(from, to, plain int, at time.Time) ([]byte, error) {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	ts := pcommon.NewTimestampFromTime(at)
	for i := from; i < to; i++ {
		for k := 0; k < plain; k++ {
			lr := lrs.AppendEmpty()
			lr.SetTimestamp(ts)
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.Body().SetStr("GET /checkout 200 12ms user-" + strconv.Itoa(i))
		}
		lr := lrs.AppendEmpty()
		lr.SetEventName("feature_flag.evaluation")
		lr.SetTimestamp(ts)
		a := lr.Attributes()
		a.PutStr("feature_flag.key", "checkout_redesign")
		a.PutStr("feature_flag.result.variant", Variation(i))
		a.PutStr("feature_flag.context.id", UserID(i))
		a.PutStr("experiment.rule.key", "checkout_redesign_ab")
		a.PutStr("experiment.rule.type", "feature-test")
		a.PutStr("user_agent.original", "demo-app/1.0")
		m := a.PutEmptyMap("experiment.visitor.attributes")
		m.PutStr("plan", "pro")
		m.PutBool("is_beta", i%3 == 0)
	}
	return (&plog.ProtoMarshaler{}).MarshalLogs(ld)
}
