package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/experimentationexporter/experimentationexporter/internal/dedup"
	"github.com/experimentationexporter/experimentationexporter/internal/destination"
	"github.com/experimentationexporter/experimentationexporter/internal/privacy"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

// confighttp.ClientConfig implements confmap.Unmarshaler and decodes with unused keys
// ignored (so it can be squash-embedded), which silently accepts every typo in a config
// that embeds it (collector v0.162). checkKnownKeys decodes the configuration once more
// into a mirror of Config whose client type is a defined type without that method, so
// confmap's strict decoding names every unknown key. TestStrictMirrorMatchesConfig keeps
// the mirror in step with Config.

type strictConfig struct {
	Client        destination.StrictClientConfig                           `mapstructure:",squash"`
	Queue         configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	Retry         configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`
	Destination   string                                                   `mapstructure:"destination"`
	BatchSize     int                                                      `mapstructure:"batch_size"`
	FlushInterval time.Duration                                            `mapstructure:"flush_interval"`
	MaxPayload    int                                                      `mapstructure:"max_payload_bytes"`
	Timeout       time.Duration                                            `mapstructure:"timeout_interval"`
	Destinations  strictDestinationsConfig                                 `mapstructure:",squash"`
	Mapping       record.Mapping                                           `mapstructure:"mapping"`
	Privacy       privacy.Config                                           `mapstructure:"privacy"`
	Dedup         dedup.Config                                             `mapstructure:"dedup"`
}

// checkKnownKeys returns an error naming every key under the exporter that no setting has.
func checkKnownKeys(conf *confmap.Conf) error {
	var mirror strictConfig
	if err := conf.Unmarshal(&mirror); err != nil {
		return fmt.Errorf("experimentation exporter configuration: %w", err)
	}
	return nil
}
