package optimizely

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"

	"github.com/experimentationexporter/experimentationexporter/internal/destination"
)

// Name is the destination value and the config section of the Optimizely Event API.
const Name = "optimizely"

// Batching defaults of the Optimizely SDKs' batch event processor.
const (
	DefaultBatchSize     = 10
	DefaultFlushInterval = 30 * time.Second
	defaultPolling       = 5 * time.Minute
)

// Config says where the project datafile comes from (the optimizely section).
type Config struct {
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

// StrictConfig mirrors Config for the strict key check (see destination.StrictClientConfig).
type StrictConfig struct {
	SDKKey              string        `mapstructure:"sdk_key"`
	DatafileAccessToken string        `mapstructure:"datafile_access_token"`
	DatafilePath        string        `mapstructure:"datafile_path"`
	DatafileURL         string        `mapstructure:"datafile_url"`
	PollingInterval     time.Duration `mapstructure:"polling_interval"`
	// YAML reads true and false as booleans; Unmarshal turns them into text.
	SendFlagDecisions any                                                     `mapstructure:"send_flag_decisions"`
	Datafile          configoptional.Optional[destination.StrictClientConfig] `mapstructure:"datafile_client"`
}

// DefaultConfig is the section's defaults.
func DefaultConfig() Config {
	return Config{PollingInterval: defaultPolling, SendFlagDecisions: "auto"}
}

var _ destination.Section = (*Config)(nil)

// Unmarshal reads send_flag_decisions written as a YAML boolean as its text.
func (o *Config) Unmarshal(conf *confmap.Conf) error {
	if v, ok := conf.Get("send_flag_decisions").(bool); ok {
		if err := conf.Merge(confmap.NewFromStringMap(map[string]any{"send_flag_decisions": strconv.FormatBool(v)})); err != nil {
			return err
		}
	}
	return conf.Unmarshal(o)
}

// BatchDefaults are the Optimizely SDKs' batch size and flush interval.
func (*Config) BatchDefaults() (int, time.Duration) { return DefaultBatchSize, DefaultFlushInterval }

// Secrets are the sdk key and the datafile access token.
func (o *Config) Secrets() []string {
	return []string{string(o.SDKKey), string(o.DatafileAccessToken)}
}

// EventsPerRecord: a record is one visitor object.
func (*Config) EventsPerRecord() int { return 1 }

// ValidateSelected checks the section when destination is optimizely.
func (o *Config) ValidateSelected() error {
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
		if err := destination.CheckHTTPURL(strings.ReplaceAll(o.DatafileURL, "%s", "sdk_key")); err != nil {
			add("optimizely::datafile_url %w", err)
		}
	}
	if o.PollingInterval < destination.MinPollingInterval {
		add("optimizely::polling_interval must be at least %s, got %s", destination.MinPollingInterval, o.PollingInterval)
	}
	switch o.SendFlagDecisions {
	case "auto", "true", "false":
	default:
		add("optimizely::send_flag_decisions must be auto, true or false, got %q", o.SendFlagDecisions)
	}
	return errors.Join(errs...)
}
