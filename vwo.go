package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/datafile"
	"github.com/experimentationexporter/experimentationexporter/internal/privacy"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
	"github.com/experimentationexporter/experimentationexporter/internal/vwo"
)

// vwoDestination builds VWO batch-events requests. Campaign keys, variation names and
// goal identifiers resolve to ids through the account's settings file (read from
// vwo::settings_file_path or polled like the SDKs fetch it); records wait in the
// sending queue until it is there.
type vwoDestination struct {
	*liveState
	cfg    *Config
	tel    component.TelemetrySettings
	url    string
	gate   *privacy.Gate
	poller datafilePoller
}

func newVWODestination(cfg *Config, set component.TelemetrySettings, gate *privacy.Gate) *vwoDestination {
	url := cfg.Endpoint
	if url == "" {
		url = vwo.EventsURL(cfg.VWO.CollectionPrefix)
	}
	// The sdk key (env) is added at send time: it must not be persisted with the batch.
	url += "?" + vwo.Query(cfg.VWO.AccountID, clientName, clientVersion)
	return &vwoDestination{liveState: newLiveState(), cfg: cfg, tel: set, url: url, gate: gate}
}

func (d *vwoDestination) start(ctx context.Context, host component.Host) error {
	if path := d.cfg.VWO.SettingsFilePath; path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("vwo::settings_file_path: %w", err)
		}
		s, err := vwo.ParseSettings(data)
		if err != nil {
			return fmt.Errorf("vwo::settings_file_path %q: %w", path, err)
		}
		d.setSettings(s, datafile.VWOSettingsRevision(data))
		return nil
	}
	p, err := newSettingsPoller(ctx, host, d.tel, d.cfg, d.setSettings)
	if err != nil {
		return err
	}
	d.poller = p
	p.Start()
	return nil
}

func (d *vwoDestination) shutdown() {
	if d.poller != nil {
		d.poller.Shutdown()
	}
}

// setSettings switches new events to a settings file; its revision (the poller's
// content hash) keys the batch context, so events resolved under different settings
// never share a request.
func (d *vwoDestination) setSettings(s *vwo.Settings, revision string) {
	builder := vwo.NewBuilder(d.cfg.VWO.AccountID, d.cfg.VWO.PushCustomDimensions, s, vwo.WithPrivacy(d.gate))
	d.use(&builderState{
		bctx: &batchContext{
			key:    "vwo\x00" + d.url + "\x00" + revision,
			url:    d.url,
			prefix: []byte(vwo.BodyPrefix),
			suffix: []byte(vwo.BodySuffix),
		},
		build: func(b *eventBatch, f *record.Fields) buildResult {
			if b.pushed == nil && d.cfg.VWO.PushCustomDimensions {
				b.pushed = vwo.Pushed{}
			}
			start := len(b.data)
			data, ends, verdict, reason := builder.AppendPushed(b.data, nil, f, b.pushed)
			if verdict != record.Built {
				return buildResult{reason: reason, dropped: verdict == record.Dropped}
			}
			if len(ends) == 1 {
				b.data = data
				b.endEvent()
				return buildResult{events: 1}
			}
			// Several events (custom dimensions): lay them out comma-terminated.
			events := append([]byte(nil), data[start:]...)
			b.data = data[:start]
			prev := start
			for _, end := range ends {
				b.data = append(b.data, events[prev-start:end-start]...)
				b.endEvent()
				prev = end
			}
			return buildResult{events: len(ends)}
		},
	})
	d.tel.Logger.Info("Using VWO settings file.", zap.String("settings_revision", revision),
		zap.Int64("account_id", d.cfg.VWO.AccountID), zap.String("events_url", d.url))
}

// authorize adds the sdk key as the env query parameter and the Authorization header.
func (d *vwoDestination) authorize(req *http.Request) {
	key := string(d.cfg.VWO.SDKKey)
	q := req.URL.Query()
	q.Set("env", key)
	req.URL.RawQuery = q.Encode()
	req.Header.Set("Authorization", key)
}
