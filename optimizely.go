package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/optimizely"
	"github.com/experimentationexporter/experimentationexporter/internal/privacy"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

// optimizelyDestination builds EventBatch payloads for the Optimizely Event API.
type optimizelyDestination struct {
	*liveState
	cfg    *Config
	set    component.TelemetrySettings
	logger *zap.Logger
	mode   optimizely.SendFlagDecisions
	gate   *privacy.Gate
	poller datafilePoller
}

// datafilePoller keeps the datafile current from the CDN (optimizely::sdk_key).
type datafilePoller interface {
	Start()
	Shutdown()
}

func newOptimizelyDestination(cfg *Config, set component.TelemetrySettings, gate *privacy.Gate) *optimizelyDestination {
	d := &optimizelyDestination{liveState: newLiveState(), cfg: cfg, set: set, logger: set.Logger, gate: gate}
	switch cfg.Optimizely.SendFlagDecisions {
	case "true":
		d.mode = optimizely.FlagDecisionsOn
	case "false":
		d.mode = optimizely.FlagDecisionsOff
	}
	return d
}

func (d *optimizelyDestination) start(ctx context.Context, host component.Host) error {
	if path := d.cfg.Optimizely.DatafilePath; path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("optimizely::datafile_path: %w", err)
		}
		df, err := optimizely.Parse(data)
		if err != nil {
			return fmt.Errorf("optimizely::datafile_path %q: %w", path, err)
		}
		d.setDatafile(df)
		return nil
	}
	p, err := newDatafilePoller(ctx, host, d.set, d.cfg, d.setDatafile)
	if err != nil {
		return err
	}
	d.poller = p
	p.Start()
	return nil
}

func (d *optimizelyDestination) shutdown() {
	if d.poller != nil {
		d.poller.Shutdown()
	}
}

// setDatafile switches new events to a datafile revision. Batches built under the old
// revision have another context key, so the batcher flushes them before merging new ones.
func (d *optimizelyDestination) setDatafile(df *optimizely.Datafile) {
	url := d.cfg.Endpoint
	if url == "" {
		url = df.EventsURL()
	}
	if d.gate.ForceAnonymizeIP() && !df.AnonymizeIP {
		forced := *df // privacy::force_anonymize_ip wins over the datafile
		forced.AnonymizeIP = true
		df = &forced
	}
	builder := optimizely.NewBuilder(df, d.mode, optimizely.WithPrivacy(d.gate))
	d.use(&builderState{
		bctx: &batchContext{
			key:    "optimizely\x00" + url + "\x00" + df.AccountID + "\x00" + df.ProjectID + "\x00" + df.Revision + "\x00" + strconv.FormatBool(df.AnonymizeIP),
			url:    url,
			prefix: df.BatchPrefix(clientName, clientVersion),
			suffix: []byte("]}"),
		},
		build: func(b *eventBatch, f *record.Fields) buildResult {
			data, verdict, reason, how := builder.AppendResolved(b.data, f)
			if verdict != record.Built {
				return buildResult{reason: reason, dropped: verdict == record.Dropped}
			}
			b.data = data
			b.endEvent()
			return buildResult{events: 1, resolution: how.String()}
		},
	})
	d.logger.Info("Using Optimizely datafile.", zap.String("revision", df.Revision),
		zap.String("account_id", df.AccountID), zap.String("project_id", df.ProjectID), zap.String("events_url", url))
}

func (*optimizelyDestination) authorize(*http.Request) {}
