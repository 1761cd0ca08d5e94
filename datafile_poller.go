package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/datafile"
	"github.com/experimentationexporter/experimentationexporter/internal/optimizely"
)

// warnPollingBelow is the interval under which polling the CDN is wasteful.
const warnPollingBelow = 30 * time.Second

// newDatafilePoller polls the Optimizely CDN for optimizely::sdk_key. The datafile client
// uses optimizely::datafile_client when set, else the events client.
func newDatafilePoller(ctx context.Context, host component.Host, set component.TelemetrySettings, cfg *Config, eventsClient *http.Client, onUpdate func(*optimizely.Datafile)) (datafilePoller, error) {
	client := eventsClient
	if cfg.Optimizely.Datafile.HasValue() {
		c, err := cfg.Optimizely.Datafile.Get().ToClient(ctx, host.GetExtensions(), set)
		if err != nil {
			return nil, fmt.Errorf("building the datafile HTTP client: %w", err)
		}
		client = c
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
