package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/optimizely"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

// optimizelyState is everything built from one datafile revision.
type optimizelyState struct {
	bctx  *batchContext
	build buildFunc
}

// optimizelyDestination builds EventBatch payloads for the Optimizely Event API.
type optimizelyDestination struct {
	cfg    *Config
	set    component.TelemetrySettings
	logger *zap.Logger
	mode   optimizely.SendFlagDecisions

	state     atomic.Pointer[optimizelyState]
	ready     chan struct{}
	readyOnce sync.Once
	poller    datafilePoller
}

// datafilePoller keeps the datafile current from the CDN (optimizely::sdk_key).
type datafilePoller interface {
	Start()
	Shutdown()
}

func newOptimizelyDestination(cfg *Config, set component.TelemetrySettings) *optimizelyDestination {
	d := &optimizelyDestination{cfg: cfg, set: set, logger: set.Logger, ready: make(chan struct{})}
	switch cfg.Optimizely.SendFlagDecisions {
	case "true":
		d.mode = optimizely.FlagDecisionsOn
	case "false":
		d.mode = optimizely.FlagDecisionsOff
	}
	return d
}

func (d *optimizelyDestination) start(ctx context.Context, host component.Host, client *http.Client) error {
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
	builder := optimizely.NewBuilder(df, d.mode)
	st := &optimizelyState{
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
	}
	d.state.Store(st)
	d.readyOnce.Do(func() { close(d.ready) })
	d.logger.Info("Using Optimizely datafile.", zap.String("revision", df.Revision),
		zap.String("account_id", df.AccountID), zap.String("project_id", df.ProjectID), zap.String("events_url", url))
}

func (d *optimizelyDestination) current() (*batchContext, buildFunc, bool) {
	st := d.state.Load()
	if st == nil {
		return nil, nil, false
	}
	return st.bctx, st.build, true
}

var errStopped = errors.New("exporter is shutting down before the datafile arrived")

func (d *optimizelyDestination) waitReady(ctx context.Context, stop <-chan struct{}) error {
	select {
	case <-d.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return errStopped
	}
}

func (*optimizelyDestination) authorize(*http.Request) {}
