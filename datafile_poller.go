package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/datafile"
	"github.com/experimentationexporter/experimentationexporter/internal/optimizely"
)

// warnPollingBelow is the interval under which polling the CDN is wasteful.
const warnPollingBelow = 30 * time.Second

// newDatafilePoller polls the Optimizely CDN for optimizely::sdk_key. The datafile client
// uses optimizely::datafile_client when set, else the events client's settings (TLS,
// proxy, timeouts) without its headers and auth: those are meant for the events API
// (or a proxy in front of it) and never go to the CDN.
func newDatafilePoller(ctx context.Context, host component.Host, set component.TelemetrySettings, cfg *Config, onUpdate func(*optimizely.Datafile)) (datafilePoller, error) {
	clientCfg := configClientConfig(cfg)
	if cfg.Optimizely.Datafile.HasValue() {
		clientCfg = *cfg.Optimizely.Datafile.Get()
	}
	client, err := clientCfg.ToClient(ctx, host.GetExtensions(), set)
	if err != nil {
		return nil, fmt.Errorf("building the datafile HTTP client: %w", err)
	}
	if cfg.Optimizely.PollingInterval < warnPollingBelow {
		set.Logger.Warn("optimizely::polling_interval is below 30s; the datafile rarely changes that often.",
			zap.Duration("polling_interval", cfg.Optimizely.PollingInterval))
	}
	return datafile.New(datafile.Config{
		SDKKey:      cfg.Optimizely.SDKKey,
		AccessToken: cfg.Optimizely.DatafileAccessToken,
		URL:         cfg.Optimizely.DatafileURL,
		Interval:    cfg.Optimizely.PollingInterval,
		Client:      client,
		Logger:      set.Logger,
	}, onUpdate), nil
}

// configClientConfig is the events client's config (TLS, proxy, timeouts) without its
// headers and auth, for fetching a destination's project configuration (datafile,
// settings file): the headers and auth are meant for the events API only.
func configClientConfig(cfg *Config) confighttp.ClientConfig {
	c := cfg.ClientConfig
	c.Headers = nil
	c.Auth = configoptional.None[configauth.Config]()
	return c
}
