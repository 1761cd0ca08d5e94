package optimizely

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/destination"
	"github.com/experimentationexporter/experimentationexporter/internal/poller"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

// warnPollingBelow is the interval under which polling the CDN is wasteful.
const warnPollingBelow = 30 * time.Second

// Destination builds EventBatch payloads for the Optimizely Event API from the project
// datafile, read from optimizely::datafile_path or polled from the CDN.
type Destination struct {
	*destination.Live
	cfg    *Config
	set    destination.Settings
	mode   SendFlagDecisions
	poller *poller.Poller[*Datafile]
}

// NewDestination builds the Optimizely destination of the section.
func (o *Config) NewDestination(set destination.Settings) destination.Destination {
	d := &Destination{Live: destination.NewLive(), cfg: o, set: set}
	switch o.SendFlagDecisions {
	case "true":
		d.mode = FlagDecisionsOn
	case "false":
		d.mode = FlagDecisionsOff
	}
	return d
}

// Start reads the datafile, or starts polling it: records wait in the queue until then.
func (d *Destination) Start(ctx context.Context, host component.Host) error {
	if path := d.cfg.DatafilePath; path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("optimizely::datafile_path: %w", err)
		}
		df, err := Parse(data)
		if err != nil {
			return fmt.Errorf("optimizely::datafile_path %q: %w", path, err)
		}
		d.SetDatafile(df)
		return nil
	}
	// optimizely::datafile_client when set, else the events client's settings without
	// its headers and auth: those never go to the CDN.
	clientCfg := d.set.SourceClient
	if d.cfg.Datafile.HasValue() {
		clientCfg = *d.cfg.Datafile.Get()
	}
	client, err := clientCfg.ToClient(ctx, host.GetExtensions(), d.set.Telemetry)
	if err != nil {
		return fmt.Errorf("building the datafile HTTP client: %w", err)
	}
	logger := d.set.Telemetry.Logger
	if d.cfg.PollingInterval < warnPollingBelow {
		logger.Warn("optimizely::polling_interval is below 30s; the datafile rarely changes that often.",
			zap.Duration("polling_interval", d.cfg.PollingInterval))
	}
	d.poller = NewPoller(PollConfig{
		SDKKey:      d.cfg.SDKKey,
		AccessToken: d.cfg.DatafileAccessToken,
		URL:         d.cfg.DatafileURL,
		Interval:    d.cfg.PollingInterval,
		Client:      client,
		Logger:      logger,
	}, func(df *Datafile, _ string) { d.SetDatafile(df) })
	d.poller.Start()
	return nil
}

// Shutdown stops polling.
func (d *Destination) Shutdown() {
	if d.poller != nil {
		d.poller.Shutdown()
	}
}

// SetDatafile switches new events to a datafile revision. Batches built under the old
// revision have another context key, so the batcher flushes them before merging new ones.
func (d *Destination) SetDatafile(df *Datafile) {
	url := d.set.Endpoint
	if url == "" {
		url = df.EventsURL()
	}
	if d.set.Privacy.ForceAnonymizeIP() && !df.AnonymizeIP {
		forced := *df // privacy::force_anonymize_ip wins over the datafile
		forced.AnonymizeIP = true
		df = &forced
	}
	b := &builder{NewBuilder(df, d.mode, WithPrivacy(d.set.Privacy))}
	d.Use(&destination.Revision{
		Context: &destination.Context{
			Key:    Name + "\x00" + url + "\x00" + df.AccountID + "\x00" + df.ProjectID + "\x00" + df.Revision + "\x00" + strconv.FormatBool(df.AnonymizeIP),
			URL:    url,
			Prefix: df.BatchPrefix(d.set.ClientName, d.set.ClientVersion),
			Suffix: []byte("]}"),
		},
		// The builder is immutable: every batch shares it.
		NewBuilder: func() destination.Builder { return b },
	})
	d.set.Telemetry.Logger.Info("Using Optimizely datafile.", zap.String("revision", df.Revision),
		zap.String("account_id", df.AccountID), zap.String("project_id", df.ProjectID), zap.String("events_url", url))
}

// Authorize adds nothing: the Event API takes no key.
func (*Destination) Authorize(*http.Request) {}

// builder adapts Builder to the destination seam: one visitor object per record.
type builder struct{ *Builder }

func (b *builder) Build(dst *destination.Events, f *record.Fields) destination.Result {
	var scratch [2]int
	start := len(dst.Data)
	data, ends, verdict, why, how := b.AppendAll(dst.Data, scratch[:0], f)
	if verdict != record.Built {
		return destination.Result{Reason: why, Dropped: verdict == record.Dropped}
	}
	dst.Data = data
	dst.EndAll(start, ends) // an impression, and a holdout's

	return destination.Result{Events: len(ends), Resolution: how.String(), Guessed: how == ResolvedAmbiguous}
}
