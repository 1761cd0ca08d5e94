package vwo

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/destination"
	"github.com/experimentationexporter/experimentationexporter/internal/poller"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

// Destination builds VWO batch-events requests. Campaign keys, variation names and goal
// identifiers resolve to ids through the account's settings file (read from
// vwo::settings_file_path or polled like the SDKs fetch it); records wait in the sending
// queue until it is there.
type Destination struct {
	*destination.Live
	cfg    *Config
	set    destination.Settings
	url    string
	poller *poller.Poller[*Settings]
}

// NewDestination builds the VWO destination of the section.
func (v *Config) NewDestination(set destination.Settings) destination.Destination {
	url := set.Endpoint
	if url == "" {
		url = EventsURL(v.CollectionPrefix)
	}
	// The sdk key (env) is added at send time: it must not be persisted with the batch.
	url += "?" + Query(v.AccountID, set.ClientName, set.ClientVersion)
	return &Destination{Live: destination.NewLive(), cfg: v, set: set, url: url}
}

// Start reads the settings file, or starts polling it.
func (d *Destination) Start(ctx context.Context, host component.Host) error {
	if path := d.cfg.SettingsFilePath; path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("vwo::settings_file_path: %w", err)
		}
		s, err := ParseSettings(data)
		if err != nil {
			return fmt.Errorf("vwo::settings_file_path %q: %w", path, err)
		}
		d.SetSettings(s, SettingsRevision(data))
		return nil
	}
	// The events client's TLS and proxy settings, never its headers or auth.
	client, err := d.set.SourceClient.ToClient(ctx, host.GetExtensions(), d.set.Telemetry)
	if err != nil {
		return fmt.Errorf("building the settings file HTTP client: %w", err)
	}
	d.poller = NewSettingsPoller(PollConfig{
		AccountID:        d.cfg.AccountID,
		SDKKey:           d.cfg.SDKKey,
		CollectionPrefix: d.cfg.CollectionPrefix,
		URL:              d.cfg.SettingsURL,
		Interval:         d.cfg.PollingInterval,
		Client:           client,
		Logger:           d.set.Telemetry.Logger,
		SDKName:          d.set.ClientName,
		SDKVersion:       d.set.ClientVersion,
	}, ParseSettings, d.SetSettings)
	d.poller.Start()
	return nil
}

// Shutdown stops polling.
func (d *Destination) Shutdown() {
	if d.poller != nil {
		d.poller.Shutdown()
	}
}

// SetSettings switches new events to a settings file; its revision (the content hash)
// keys the batch context, so events resolved under different settings never share a
// request.
func (d *Destination) SetSettings(s *Settings, revision string) {
	b := NewBuilder(d.cfg.AccountID, d.cfg.PushCustomDimensions, s, WithPrivacy(d.set.Privacy))
	d.Use(&destination.Revision{
		Context: &destination.Context{
			Key:    Name + "\x00" + d.url + "\x00" + revision,
			URL:    d.url,
			Prefix: []byte(BodyPrefix),
			Suffix: []byte(BodySuffix),
		},
		NewBuilder: func() destination.Builder {
			bb := &batchBuilder{Builder: b}
			if d.cfg.PushCustomDimensions {
				bb.pushed = Pushed{}
			}
			return bb
		},
	})
	d.set.Telemetry.Logger.Info("Using VWO settings file.", zap.String("settings_revision", revision),
		zap.Int64("account_id", d.cfg.AccountID), zap.String("events_url", d.url))
}

// Authorize adds the sdk key as the env query parameter and the Authorization header.
func (d *Destination) Authorize(req *http.Request) {
	key := string(d.cfg.SDKKey)
	q := req.URL.Query()
	q.Set("env", key)
	req.URL.RawQuery = q.Encode()
	req.Header.Set("Authorization", key)
}

// batchBuilder builds one batch: a visitor's custom dimension is pushed once per batch.
type batchBuilder struct {
	*Builder
	pushed Pushed
}

func (b *batchBuilder) Build(dst *destination.Events, f *record.Fields) destination.Result {
	start := len(dst.Data)
	var scratch [4]int
	data, ends, verdict, why, bucketed := b.AppendDecided(dst.Data, scratch[:0], f, b.pushed)
	if verdict != record.Built {
		return destination.Result{Reason: why, Dropped: verdict == record.Dropped}
	}
	how := ""
	if f.Kind == record.Conversion {
		how = "record"
		if bucketed {
			how = "bucketing"
		}
	}
	dst.Data = data
	dst.EndAll(start, ends) // an event and custom dimensions, or a goal in several campaigns
	return destination.Result{Events: len(ends), Resolution: how}
}
