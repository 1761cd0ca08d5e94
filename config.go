package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/experimentationexporter/experimentationexporter/internal/privacy"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

// Destinations.
const (
	DestinationOptimizely = "optimizely"
	DestinationVWO        = "vwo"
)

// Limits of the configuration, named in validation errors.
const (
	minBatchSize       = 1
	maxBatchSize       = 5000
	minFlushInterval   = 10 * time.Millisecond
	maxFlushInterval   = 24 * time.Hour
	minPayloadBytes    = 1024
	maxPayloadBytes    = 3_500_000 // Optimizely answers 400 above 3.5 MB
	minPollingInterval = time.Second
)

// Per-destination defaults, applied when the key is absent.
const (
	optimizelyBatchSize     = 10
	optimizelyFlushInterval = 30 * time.Second
	vwoBatchSize            = 100
	vwoFlushInterval        = 600 * time.Second
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

	Optimizely OptimizelyConfig `mapstructure:"optimizely"`
	VWO        VWOConfig        `mapstructure:"vwo"`
	Mapping    record.Mapping   `mapstructure:"mapping"`
	// Privacy decides what of the visitor data leaves (README "What leaves your network").
	Privacy privacy.Config `mapstructure:"privacy"`

	_ struct{}
}

// OptimizelyConfig says where the project datafile comes from.
type OptimizelyConfig struct {
	SDKKey              configopaque.String `mapstructure:"sdk_key"`
	DatafileAccessToken configopaque.String `mapstructure:"datafile_access_token"`
	DatafilePath        string              `mapstructure:"datafile_path"`
	DatafileURL         string              `mapstructure:"datafile_url"`
	PollingInterval     time.Duration       `mapstructure:"polling_interval"`
	// SendFlagDecisions is auto (the datafile's sendFlagDecisions), true or false.
	SendFlagDecisions string `mapstructure:"send_flag_decisions"`
	// Datafile configures the datafile client; its endpoint is unused. When absent the
	// exporter's own client settings (TLS, proxy) apply.
	Datafile configoptional.Optional[confighttp.ClientConfig] `mapstructure:"datafile_client"`
}

// VWOConfig identifies the VWO account.
type VWOConfig struct {
	AccountID            int64               `mapstructure:"account_id"`
	SDKKey               configopaque.String `mapstructure:"sdk_key"`
	CollectionPrefix     string              `mapstructure:"collection_prefix"`
	PushCustomDimensions bool                `mapstructure:"push_custom_dimensions"`
	// SettingsFilePath reads the settings file from disk instead of polling it.
	SettingsFilePath string `mapstructure:"settings_file_path"`
	// SettingsURL overrides where the settings file is polled (tests, proxies): the URL
	// without the query, which the exporter adds.
	SettingsURL     string        `mapstructure:"settings_url"`
	PollingInterval time.Duration `mapstructure:"polling_interval"`
}

// Unmarshal applies the destination's batching defaults to keys the user left out.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	// send_flag_decisions is auto, true or false; YAML reads the last two as booleans.
	if v, ok := conf.Get("optimizely::send_flag_decisions").(bool); ok {
		if err := conf.Merge(confmap.NewFromStringMap(map[string]any{
			"optimizely": map[string]any{"send_flag_decisions": strconv.FormatBool(v)},
		})); err != nil {
			return err
		}
	}
	if err := checkKnownKeys(conf); err != nil {
		return err
	}
	if err := conf.Unmarshal(cfg); err != nil {
		return err
	}
	if cfg.Destination == DestinationVWO {
		if !conf.IsSet("batch_size") {
			cfg.BatchSize = vwoBatchSize
		}
		if !conf.IsSet("flush_interval") {
			cfg.FlushInterval = vwoFlushInterval
		}
	}
	return nil
}

var collectionPrefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)

// Validate rejects every bad value with a message naming the key and the allowed range.
func (cfg *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	switch cfg.Destination {
	case DestinationOptimizely, DestinationVWO:
	default:
		add("destination must be %q or %q, got %q", DestinationOptimizely, DestinationVWO, cfg.Destination)
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
		if err := checkHTTPURL(cfg.Endpoint); err != nil {
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
	switch cfg.Destination {
	case DestinationOptimizely:
		errs = append(errs, cfg.Optimizely.validate())
	case DestinationVWO:
		errs = append(errs, cfg.VWO.validate())
	}
	if err := cfg.Mapping.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := cfg.Privacy.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (o *OptimizelyConfig) validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch {
	case o.SDKKey == "" && o.DatafilePath == "":
		add("optimizely::sdk_key or optimizely::datafile_path is required when destination is optimizely")
	case o.SDKKey != "" && o.DatafilePath != "":
		add("optimizely::sdk_key and optimizely::datafile_path are mutually exclusive, set one")
	}
	if o.DatafileAccessToken != "" && o.SDKKey == "" {
		add("optimizely::datafile_access_token requires optimizely::sdk_key")
	}
	if o.DatafileURL != "" {
		if o.SDKKey == "" {
			add("optimizely::datafile_url requires optimizely::sdk_key")
		}
		// %s stands for the sdk key.
		if err := checkHTTPURL(strings.ReplaceAll(o.DatafileURL, "%s", "sdk_key")); err != nil {
			add("optimizely::datafile_url %w", err)
		}
	}
	if o.PollingInterval < minPollingInterval {
		add("optimizely::polling_interval must be at least %s, got %s", minPollingInterval, o.PollingInterval)
	}
	switch o.SendFlagDecisions {
	case "auto", "true", "false":
	default:
		add("optimizely::send_flag_decisions must be auto, true or false, got %q", o.SendFlagDecisions)
	}
	return errors.Join(errs...)
}

func (v *VWOConfig) validate() error {
	var errs []error
	if v.AccountID <= 0 {
		errs = append(errs, fmt.Errorf("vwo::account_id is required and must be a positive integer, got %d", v.AccountID))
	}
	if v.SDKKey == "" {
		errs = append(errs, errors.New("vwo::sdk_key is required when destination is vwo"))
	}
	if v.SettingsFilePath == "" {
		if v.PollingInterval < minPollingInterval {
			errs = append(errs, fmt.Errorf("vwo::polling_interval must be at least %s, got %s", minPollingInterval, v.PollingInterval))
		}
		if v.SettingsURL != "" {
			if err := checkHTTPURL(v.SettingsURL); err != nil {
				errs = append(errs, fmt.Errorf("vwo::settings_url %w", err))
			}
		}
	} else if v.SettingsURL != "" {
		errs = append(errs, errors.New("vwo::settings_file_path and vwo::settings_url are mutually exclusive, set one"))
	}
	if !collectionPrefixRE.MatchString(v.CollectionPrefix) {
		errs = append(errs, fmt.Errorf("vwo::collection_prefix must contain only letters, digits, '-' and '_', got %q", v.CollectionPrefix))
	}
	return errors.Join(errs...)
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("must be an absolute http or https URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http or https URL, got %q", s)
	}
	return nil
}
