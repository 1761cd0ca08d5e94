package vwo

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/experimentationexporter/experimentationexporter/internal/destination"
)

// Name is the destination value and the config section of VWO's batch-events API.
const Name = "vwo"

// Batching defaults of the VWO SDKs' event batching.
const (
	DefaultBatchSize     = 100
	DefaultFlushInterval = 600 * time.Second
	defaultPolling       = 5 * time.Minute
)

// Config identifies the VWO account (the vwo section).
type Config struct {
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

// DefaultConfig is the section's defaults.
func DefaultConfig() Config { return Config{PollingInterval: defaultPolling} }

var _ destination.Section = (*Config)(nil)

// BatchDefaults are the VWO SDKs' batch size and flush interval.
func (*Config) BatchDefaults() (int, time.Duration) { return DefaultBatchSize, DefaultFlushInterval }

// Secrets is the sdk key.
func (v *Config) Secrets() []string { return []string{string(v.SDKKey)} }

// dimensionsPerRecord leaves room in a queue item for a few custom dimensions per record.
const dimensionsPerRecord = 4

// EventsPerRecord: an event, and custom-dimension pushes when they are on.
func (v *Config) EventsPerRecord() int {
	if v.PushCustomDimensions {
		return dimensionsPerRecord
	}
	return 1
}

var collectionPrefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)

// ValidateSelected checks the section when destination is vwo.
func (v *Config) ValidateSelected() error {
	var errs []error
	if v.AccountID <= 0 {
		errs = append(errs, fmt.Errorf("vwo::account_id is required and must be a positive integer, got %d", v.AccountID))
	}
	if v.SDKKey == "" {
		errs = append(errs, errors.New("vwo::sdk_key is required when destination is vwo"))
	}
	if v.SettingsFilePath == "" {
		if v.PollingInterval < destination.MinPollingInterval {
			errs = append(errs, fmt.Errorf("vwo::polling_interval must be at least %s, got %s", destination.MinPollingInterval, v.PollingInterval))
		}
		if v.SettingsURL != "" {
			if err := destination.CheckHTTPURL(v.SettingsURL); err != nil {
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
