package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/dedup"
	"github.com/experimentationexporter/experimentationexporter/internal/metadata"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
	"github.com/experimentationexporter/experimentationexporter/internal/sharedcomponent"
)

// Defaults that are not per destination.
const (
	defaultMaxPayloadBytes = 3_000_000
	defaultTimeout         = 10 * time.Second
	defaultTimeoutInterval = 30 * time.Second
	// defaultQueueEvents bounds the in-memory queue at ~27 MB of encoded events (~0.9 KB
	// each while queued; the Go GC's default headroom doubles that in heap) and keeps 10
	// consumers busy up to batch_size 3000. Smaller costs GC CPU at full load: the queue's
	// bytes are most of the heap the GC paces itself by. A full queue blocks the receiver
	// (block_on_overflow): it bounds memory and never drops.
	defaultQueueEvents      = 30_000
	defaultIdleConnsPerHost = 64
	// Bodies are hundreds of KiB at large batch sizes: fewer, larger writes.
	defaultWriteBufferSize = 256 << 10
)

// NewFactory creates the experimentation exporter factory.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithLogs(createLogs, metadata.LogsStability),
		exporter.WithTraces(createTraces, metadata.TracesStability),
	)
}

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = defaultTimeout
	// Keep a connection per consumer: Go's default of 2 idle connections per host makes
	// concurrent consumers open a new connection for most requests.
	if ka := client.Keepalive.Get(); ka != nil {
		ka.MaxIdleConnsPerHost = defaultIdleConnsPerHost
	} else {
		client.MaxIdleConnsPerHost = defaultIdleConnsPerHost
	}
	client.WriteBufferSize = defaultWriteBufferSize

	// The queue counts events and pushes back on the receiver when full: with the
	// defaults nothing is ever dropped silently.
	queue := exporterhelper.NewDefaultQueueConfig()
	queue.Sizer = exporterhelper.RequestSizerTypeItems
	queue.QueueSize = defaultQueueEvents
	queue.BlockOnOverflow = true
	queue.Batch = configoptional.None[exporterhelper.BatchConfig]()

	// Retry a retryable failure for as long as it lasts: an acknowledged event is never
	// dropped because an outage outlived a timer. The queue bounds memory (or disk) and
	// pushes back on the receiver when full; a user can still set a limit.
	retry := configretry.NewDefaultBackOffConfig()
	retry.MaxElapsedTime = 0

	cfg := &Config{
		ClientConfig:    client,
		QueueConfig:     configoptional.Some(queue),
		RetryConfig:     retry,
		Destination:     DestinationOptimizely,
		MaxPayloadBytes: defaultMaxPayloadBytes,
		TimeoutInterval: defaultTimeoutInterval,
		Destinations:    defaultDestinations(),
		Mapping:         record.DefaultMapping(),
		Dedup:           dedup.Config{MaxKeys: dedup.DefaultMaxKeys},
	}
	cfg.BatchSize, cfg.FlushInterval = cfg.section().BatchDefaults()
	return cfg
}

// queueBatchConfig adds the batcher that enforces batch_size and flush_interval to the
// user's sending_queue: a batch flushes when it holds batch_size events or when its
// oldest event is flush_interval old.
func queueBatchConfig(cfg *Config) configoptional.Optional[exporterhelper.QueueBatchConfig] {
	if !cfg.QueueConfig.HasValue() {
		return cfg.QueueConfig
	}
	q := *cfg.QueueConfig.Get()
	batch := exporterhelper.NewDefaultBatchConfig()
	batch.FlushTimeout = cfg.FlushInterval
	batch.Sizer = exporterhelper.RequestSizerTypeItems
	batch.MinSize = int64(cfg.BatchSize)
	batch.MaxSize = int64(cfg.BatchSize)
	q.Batch = configoptional.Some(batch)
	return configoptional.Some(q)
}

// exporters holds one exporter per configured component, shared by its logs and traces
// pipelines: one destination, one datafile poll, one HTTP client. The collector hands
// both pipelines the same *Config.
var exporters = sharedcomponent.NewMap[*Config, *experimentationExporter]()

// newShared builds the exporter that a component's signals share.
func newShared(cfg *Config, set exporter.Settings) func() (*experimentationExporter, error) {
	return func() (*experimentationExporter, error) {
		warnSmallQueue(cfg, set)
		return newExporter(cfg, set)
	}
}

// warnSmallQueue says when the queue cannot hold a full batch for every consumer: every
// batch in flight counts in the queue until it is sent, so at most queue_size /
// batch_size requests are in flight at once.
func warnSmallQueue(cfg *Config, set exporter.Settings) {
	q := cfg.QueueConfig.Get()
	if q == nil || q.Sizer != exporterhelper.RequestSizerTypeItems || cfg.BatchSize <= 0 {
		return
	}
	if need := int64(q.NumConsumers) * int64(cfg.BatchSize); q.QueueSize < need {
		set.Logger.Warn("sending_queue::queue_size holds fewer events than num_consumers full batches: fewer requests are in flight at once; raise queue_size for full concurrency.",
			zap.Int64("queue_size", q.QueueSize), zap.Int("num_consumers", q.NumConsumers), zap.Int("batch_size", cfg.BatchSize),
			zap.Int64("requests_in_flight", q.QueueSize/int64(cfg.BatchSize)), zap.Int64("queue_size_for_full_concurrency", need))
	}
}

func createLogs(ctx context.Context, set exporter.Settings, c component.Config) (exporter.Logs, error) {
	cfg, ok := c.(*Config)
	if !ok {
		return nil, fmt.Errorf("unexpected config type %T", c)
	}
	logs, _, err := newLogsExporter(ctx, set, cfg)
	return logs, err
}

func createTraces(ctx context.Context, set exporter.Settings, c component.Config) (exporter.Traces, error) {
	cfg, ok := c.(*Config)
	if !ok {
		return nil, fmt.Errorf("unexpected config type %T", c)
	}
	shared, err := exporters.Acquire(cfg, newShared(cfg, set))
	if err != nil {
		return nil, err
	}
	exp := shared.Value
	traces, err := xexporterhelper.NewTracesRequest(ctx, set, exp.convertTraces, exp.push, helperOptions(shared, cfg)...)
	if err != nil {
		shared.Release()
		return nil, err
	}
	return &tracesSignal{Traces: traces, exp: exp}, nil
}

// newLogsExporter wires the exporter into exporterhelper's queue, batcher and retry.
func newLogsExporter(ctx context.Context, set exporter.Settings, cfg *Config) (exporter.Logs, *experimentationExporter, error) {
	shared, err := exporters.Acquire(cfg, newShared(cfg, set))
	if err != nil {
		return nil, nil, err
	}
	exp := shared.Value
	logs, err := xexporterhelper.NewLogsRequest(ctx, set, exp.convert, exp.push, helperOptions(shared, cfg)...)
	if err != nil {
		shared.Release()
		return nil, nil, err
	}
	return &logsSignal{Logs: logs, exp: exp}, exp, nil
}

// helperOptions are exporterhelper's settings for either signal. Each signal has its
// own queue; both feed the one shared exporter.
func helperOptions(shared *sharedcomponent.Component[*Config, *experimentationExporter], cfg *Config) []exporterhelper.Option {
	// Our own settings: the signal defaults assume pdata requests. Encoding persists batches.
	qs := xexporterhelper.QueueBatchSettings{Encoding: batchEncoding{}}
	return []exporterhelper.Option{
		exporterhelper.WithStart(shared.Start),
		exporterhelper.WithShutdown(shared.Shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		// timeout belongs to the HTTP client (confighttp); exporterhelper's stays off.
		exporterhelper.WithTimeout(exporterhelper.TimeoutConfig{Timeout: 0}),
		exporterhelper.WithRetry(cfg.RetryConfig),
		xexporterhelper.WithQueueBatch(queueBatchConfig(cfg), qs),
	}
}
