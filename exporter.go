package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/dedup"
	"github.com/experimentationexporter/experimentationexporter/internal/destination"
	"github.com/experimentationexporter/experimentationexporter/internal/httpx"
	"github.com/experimentationexporter/experimentationexporter/internal/metadata"
	"github.com/experimentationexporter/experimentationexporter/internal/privacy"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
	"github.com/experimentationexporter/experimentationexporter/internal/spanevent"
)

// clientName and clientVersion identify this exporter in event payloads.
const (
	clientName    = "otel-collector-experimentation-exporter"
	clientVersion = "0.1.0"
)

// experimentationExporter turns records into events (convert.go) before the sending
// queue and hands the queued batches to the sender; at shutdown it drains (drain.go).
// The logs and traces pipelines of one component id share it (factory.go).
type experimentationExporter struct {
	cfg    *Config
	set    component.TelemetrySettings
	logger *zap.Logger
	reader *record.Reader
	spans  *spanevent.Reader // flag evaluations recorded as span events
	dest   destination.Destination
	obs    *telemetryObserver
	tb     *metadata.TelemetryBuilder
	sender *sender
	drain  *drainer

	stop    chan struct{}
	stopped sync.Once
	// meanEventBytes sizes new batches' buffers.
	meanEventBytes atomic.Int64
}

func newExporter(cfg *Config, set exporter.Settings) (*experimentationExporter, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	sec := cfg.section()
	if sec == nil {
		return nil, fmt.Errorf("unknown destination %q", cfg.Destination)
	}
	obs := newObserver(tb, set.Logger, set.ID)
	e := &experimentationExporter{
		cfg:    cfg,
		set:    set.TelemetrySettings,
		logger: set.Logger,
		reader: record.NewReader(cfg.Mapping),
		spans:  spanevent.NewReader(cfg.Mapping.ImpressionEvent, cfg.Mapping.ConversionEvent, cfg.Mapping.VisitorID),
		dest: sec.NewDestination(destination.Settings{
			Telemetry:     set.TelemetrySettings,
			Endpoint:      cfg.Endpoint,
			SourceClient:  sourceClientConfig(cfg),
			Privacy:       privacy.New(cfg.Privacy),
			ClientName:    clientName,
			ClientVersion: clientVersion,
			Exposures:     dedup.New(cfg.Dedup),
		}),
		obs:  obs,
		tb:   tb,
		stop: make(chan struct{}),
	}
	e.sender = newSender(cfg, set.Logger, obs, e.dest.Authorize, httpx.NewRedactor(secretPairs(cfg)...))
	e.drain = newDrainer(cfg, set.Logger, obs)
	e.meanEventBytes.Store(512)
	return e, nil
}

// Start builds the events client and starts the destination (datafile, settings file).
func (e *experimentationExporter) Start(ctx context.Context, host component.Host) error {
	client, err := e.cfg.ToClient(ctx, host.GetExtensions(), e.set)
	if err != nil {
		return fmt.Errorf("building the events HTTP client: %w", err)
	}
	e.sender.client = client
	return e.dest.Start(ctx, host)
}

// Shutdown stops the destination; the signals drained their queues before.
func (e *experimentationExporter) Shutdown(context.Context) error {
	e.stopped.Do(func() { close(e.stop) })
	e.dest.Shutdown()
	e.sender.close()
	e.tb.Shutdown()
	return nil
}

// push sends a queued request: kept records are built first (waiting for the
// destination's configuration). While shutting down it retries until the drain deadline.
func (e *experimentationExporter) push(ctx context.Context, req xexporterhelper.Request) error {
	var b *eventBatch
	switch r := req.(type) {
	case *eventBatch:
		b = r
	case *pendingRecords:
		// The datafile (or settings file) has until the shutdown drain's deadline.
		wait, cancel := e.drain.untilDeadline(ctx)
		var err error
		b, err = e.buildPending(wait, r)
		cancel()
		if err != nil {
			if e.drain.isExpired() && ctx.Err() == nil {
				return e.drain.giveUp(ctx, r.Len(), fmt.Errorf("no datafile or settings file before the shutdown deadline: %w", err))
			}
			return err
		}
	default:
		return consumererror.NewPermanent(fmt.Errorf("unexpected request type %T", req))
	}
	e.drain.resumed(b)
	err := e.sender.send(ctx, b)
	err = e.drain.retry(ctx, err, e.sender.send)
	if e.drain.draining() && err != nil && !consumererror.IsPermanent(err) {
		n := b.Len()
		var pe *partialError
		if errors.As(err, &pe) {
			n = pe.remaining.Len()
		}
		return e.drain.giveUp(ctx, n, err)
	}
	e.drain.backingOff(err)
	return err
}

// secretPairs lists what must never reach a log line, each hidden as <redacted>: every
// platform's keys and tokens, every configured header value (an Authorization or
// API-key header for a proxy) and the proxy URL's password.
func secretPairs(cfg *Config) [][2]string {
	var out [][2]string
	for _, v := range secretValues(cfg) {
		out = append(out, [2]string{v, "<redacted>"})
	}
	return out
}

func secretValues(cfg *Config) []string {
	var out []string
	add := func(v string) {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, s := range cfg.sections() {
		for _, v := range s.section.Secrets() {
			add(v)
		}
	}
	for _, v := range cfg.Headers.Iter {
		add(string(v))
	}
	if u, err := url.Parse(cfg.ProxyURL); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			add(pw)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}
