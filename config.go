package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/experimentationexporter/experimentationexporter/internal/dedup"
	"github.com/experimentationexporter/experimentationexporter/internal/destination"
	"github.com/experimentationexporter/experimentationexporter/internal/privacy"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

// Limits of the configuration, named in validation errors.
const (
	minBatchSize     = 1
	maxBatchSize     = 5000
	minFlushInterval = 10 * time.Millisecond
	maxFlushInterval = 24 * time.Hour
	minPayloadBytes  = 1024
	maxPayloadBytes  = 3_500_000 // Optimizely answers 400 above 3.5 MB
)

// Config is the exporter's configuration (SPEC §2).
type Config struct {
	// ClientConfig holds endpoint, timeout, TLS, proxy, headers and auth of the events client.
	confighttp.ClientConfig `mapstructure:",squash"`
	QueueConfig             configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	RetryConfig             configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`

	// Destination is optimizely or vwo.
	Destination string `mapstructure:"destination"`
	// BatchSize is the most events one request carries.
	BatchSize int `mapstructure:"batch_size"`
	// FlushInterval is the longest the oldest event of an open batch waits.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// MaxPayloadBytes caps the uncompressed JSON body of one request.
	MaxPayloadBytes int `mapstructure:"max_payload_bytes"`
	// TimeoutInterval bounds how long shutdown keeps sending what is queued when the
	// collector gives no deadline (the SDKs' event processor timeout_interval).
	TimeoutInterval time.Duration `mapstructure:"timeout_interval"`

	// One section per platform (destinations.go): optimizely, vwo.
	Destinations `mapstructure:",squash"`
	Mapping      record.Mapping `mapstructure:"mapping"`
	// Privacy decides what of the visitor data leaves (README "What leaves your network").
	Privacy privacy.Config `mapstructure:"privacy"`
	// Dedup leaves out repeated impressions (README "Impressions once"); off by default.
	Dedup dedup.Config `mapstructure:"dedup"`

	_ struct{}
}

// Unmarshal applies the destination's batching defaults to keys the user left out.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	if err := checkKnownKeys(conf); err != nil {
		return err
	}
	if err := conf.Unmarshal(cfg); err != nil {
		return err
	}
	if sec := cfg.section(); sec != nil {
		size, flush := sec.BatchDefaults()
		if !conf.IsSet("batch_size") {
			cfg.BatchSize = size
		}
		if !conf.IsSet("flush_interval") {
			cfg.FlushInterval = flush
		}
	}
	return nil
}

// section is the configured destination's section (nil: no such destination).
func (cfg *Config) section() destination.Section {
	for _, s := range cfg.sections() {
		if s.name == cfg.Destination {
			return s.section
		}
	}
	return nil
}

// Validate rejects every bad value with a message naming the key and the allowed range.
func (cfg *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	sec := cfg.section()
	if sec == nil {
		add("destination must be %s, got %q", destinationNames(cfg.sections()), cfg.Destination)
	}
	if cfg.BatchSize < minBatchSize || cfg.BatchSize > maxBatchSize {
		add("batch_size must be between %d and %d, got %d", minBatchSize, maxBatchSize, cfg.BatchSize)
	}
	if cfg.FlushInterval < minFlushInterval || cfg.FlushInterval > maxFlushInterval {
		add("flush_interval must be between %s and %s, got %s", minFlushInterval, maxFlushInterval, cfg.FlushInterval)
	}
	if cfg.MaxPayloadBytes < minPayloadBytes || cfg.MaxPayloadBytes > maxPayloadBytes {
		add("max_payload_bytes must be between %d and %d, got %d", minPayloadBytes, maxPayloadBytes, cfg.MaxPayloadBytes)
	}
	if cfg.TimeoutInterval < 0 {
		add("timeout_interval must not be negative, got %s", cfg.TimeoutInterval)
	}
	if cfg.Timeout < 0 {
		add("timeout must not be negative, got %s", cfg.Timeout)
	}
	if cfg.Endpoint != "" {
		if err := destination.CheckHTTPURL(cfg.Endpoint); err != nil {
			add("endpoint %w", err)
		}
	}
	if q := cfg.QueueConfig.Get(); q != nil {
		if q.Batch.HasValue() {
			add("sending_queue::batch must not be set: batching is configured with batch_size and flush_interval")
		}
		// A batch can only fill from what the queue holds.
		if q.Sizer == exporterhelper.RequestSizerTypeItems && int64(cfg.BatchSize) > q.QueueSize {
			add("batch_size (%d) must not exceed sending_queue::queue_size (%d) when the queue counts items", cfg.BatchSize, q.QueueSize)
		}
	}
	if sec != nil {
		errs = append(errs, sec.ValidateSelected())
	}
	// mapping and privacy validate themselves: the collector calls every nested
	// Validate, so calling them here would report each of their errors twice.
	return errors.Join(errs...)
}

// destinationNames lists the destination values: "a", "b" or "c".
func destinationNames(sections []namedSection) string {
	var b strings.Builder
	for i, s := range sections {
		switch {
		case i == 0:
		case i == len(sections)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(s.name))
	}
	return b.String()
}

// sourceClientConfig is the events client's config (TLS, proxy, timeouts) without its
// headers and auth, for fetching a destination's project configuration (datafile,
// settings file): the headers and auth are meant for the events API only.
func sourceClientConfig(cfg *Config) confighttp.ClientConfig {
	c := cfg.ClientConfig
	c.Headers = nil
	c.Auth = configoptional.None[configauth.Config]()
	return c
}
