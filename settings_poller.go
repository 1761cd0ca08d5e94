package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"

	"github.com/experimentationexporter/experimentationexporter/internal/datafile"
	"github.com/experimentationexporter/experimentationexporter/internal/vwo"
)

// settingsFile is a parsed VWO settings file and its revision.
type settingsFile struct {
	settings *vwo.Settings
	revision string
}

// newSettingsPoller polls the settings file of vwo::account_id as the VWO SDKs fetch
// it, with the events client's TLS and proxy settings but never its headers or auth.
func newSettingsPoller(ctx context.Context, host component.Host, set component.TelemetrySettings, cfg *Config, onUpdate func(*vwo.Settings, string)) (datafilePoller, error) {
	clientCfg := configClientConfig(cfg)
	client, err := clientCfg.ToClient(ctx, host.GetExtensions(), set)
	if err != nil {
		return nil, fmt.Errorf("building the settings file HTTP client: %w", err)
	}
	return datafile.NewVWOSettings(datafile.VWOConfig{
		AccountID:        cfg.VWO.AccountID,
		SDKKey:           cfg.VWO.SDKKey,
		CollectionPrefix: cfg.VWO.CollectionPrefix,
		URL:              cfg.VWO.SettingsURL,
		Interval:         cfg.VWO.PollingInterval,
		Client:           client,
		Logger:           set.Logger,
		SDKName:          clientName,
		SDKVersion:       clientVersion,
	}, func(b []byte) (settingsFile, error) {
		s, err := vwo.ParseSettings(b)
		return settingsFile{s, datafile.VWOSettingsRevision(b)}, err
	}, func(f settingsFile) { onUpdate(f.settings, f.revision) }), nil
}
