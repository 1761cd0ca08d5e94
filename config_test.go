package experimentationexporter

import (
	"context"
	"encoding/json"
	"github.com/experimentationexporter/experimentationexporter/internal/optimizely"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/experimentationexporter/experimentationexporter/internal/metadata"
	"github.com/experimentationexporter/experimentationexporter/internal/metadatatest"
	"github.com/experimentationexporter/experimentationexporter/internal/privacy"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg
}

func TestLoadConfig(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		cfg := loadConfig(t, "")
		require.NoError(t, confmap.Validate(cfg))
		assert.Equal(t, "optimizely", cfg.Destination)
		assert.Equal(t, 10, cfg.BatchSize)
		assert.Equal(t, 30*time.Second, cfg.FlushInterval)
		assert.Equal(t, 3_000_000, cfg.MaxPayloadBytes)
		assert.Equal(t, 10*time.Second, cfg.Timeout)
		assert.Equal(t, "auto", cfg.Optimizely.SendFlagDecisions)
		assert.Equal(t, 5*time.Minute, cfg.Optimizely.PollingInterval)
		q := cfg.QueueConfig.Get()
		assert.True(t, q.BlockOnOverflow)
		assert.Equal(t, int64(30_000), q.QueueSize)
		assert.Equal(t, "items", q.Sizer.String())
		assert.Equal(t, []string{"feature_flag.context.id", "user.id", "enduser.id"}, cfg.Mapping.VisitorID)
		assert.Equal(t, time.Duration(0), cfg.RetryConfig.MaxElapsedTime, "retry without a time limit: nothing acknowledged is dropped by an outage")
		assert.True(t, cfg.RetryConfig.Enabled)
		assert.Equal(t, 30*time.Second, cfg.TimeoutInterval)
	})
	t.Run("full", func(t *testing.T) {
		cfg := loadConfig(t, "full")
		require.NoError(t, confmap.Validate(cfg))
		assert.Equal(t, 500, cfg.BatchSize)
		assert.Equal(t, 5*time.Second, cfg.FlushInterval)
		assert.Equal(t, 1_000_000, cfg.MaxPayloadBytes)
		assert.Equal(t, "http://127.0.0.1:4380/v1/events", cfg.Endpoint)
		assert.Equal(t, 3*time.Second, cfg.Timeout)
		assert.Equal(t, "true", cfg.Optimizely.SendFlagDecisions)
		assert.Equal(t, []string{"app.user_id", "user.id"}, cfg.Mapping.VisitorID)
		assert.Equal(t, []string{"exp.rule"}, cfg.Mapping.RuleKey)
		assert.Equal(t, []string{"feature_flag.key"}, cfg.Mapping.FlagKey, "unset mapping keys keep their defaults")
		q := cfg.QueueConfig.Get()
		assert.Equal(t, 4, q.NumConsumers)
		assert.Equal(t, "file_storage", q.StorageID.String())
		assert.Equal(t, time.Duration(0), cfg.RetryConfig.MaxElapsedTime)
		qb := queueBatchConfig(cfg)
		b := qb.Get().Batch.Get()
		assert.Equal(t, int64(500), b.MinSize)
		assert.Equal(t, int64(500), b.MaxSize)
		assert.Equal(t, 5*time.Second, b.FlushTimeout)
	})
	t.Run("sdk_key", func(t *testing.T) {
		cfg := loadConfig(t, "sdk_key")
		require.NoError(t, confmap.Validate(cfg))
		assert.Equal(t, "ABCdef123_secret", string(cfg.Optimizely.SDKKey))
		assert.Equal(t, time.Minute, cfg.Optimizely.PollingInterval)
	})
	t.Run("vwo uses VWO's batching defaults", func(t *testing.T) {
		cfg := loadConfig(t, "vwo")
		require.NoError(t, confmap.Validate(cfg))
		assert.Equal(t, 100, cfg.BatchSize)
		assert.Equal(t, 600*time.Second, cfg.FlushInterval)
		assert.Equal(t, int64(123456), cfg.VWO.AccountID)
		assert.Equal(t, "eu01", cfg.VWO.CollectionPrefix)
		assert.True(t, cfg.VWO.PushCustomDimensions)
	})
	t.Run("vwo explicit batching wins", func(t *testing.T) {
		cfg := loadConfig(t, "vwo_batch")
		assert.Equal(t, 250, cfg.BatchSize)
		assert.Equal(t, 10*time.Second, cfg.FlushInterval)
	})
}

func TestConfigValidateErrors(t *testing.T) {
	tests := []struct {
		name   string
		raw    map[string]any
		errMsg string
	}{
		{"unknown destination", map[string]any{"destination": "launchdarkly"}, `destination must be "optimizely" or "vwo", got "launchdarkly"`},
		{"batch_size zero", map[string]any{"batch_size": 0}, "batch_size must be between 1 and 5000, got 0"},
		{"batch_size too big", map[string]any{"batch_size": 5001}, "batch_size must be between 1 and 5000, got 5001"},
		{"flush_interval zero", map[string]any{"flush_interval": "0s"}, "flush_interval must be between 10ms and 24h0m0s, got 0s"},
		{"flush_interval too long", map[string]any{"flush_interval": "25h"}, "flush_interval must be between 10ms and 24h0m0s, got 25h0m0s"},
		{"max_payload_bytes small", map[string]any{"max_payload_bytes": 100}, "max_payload_bytes must be between 1024 and 3500000, got 100"},
		{"max_payload_bytes big", map[string]any{"max_payload_bytes": 4_000_000}, "max_payload_bytes must be between 1024 and 3500000, got 4000000"},
		{"timeout negative", map[string]any{"timeout": "-1s"}, "timeout must not be negative, got -1s"},
		{"endpoint not a URL", map[string]any{"endpoint": "logx.optimizely.com"}, `endpoint must be an absolute http or https URL, got "logx.optimizely.com"`},
		{"sending_queue batch", map[string]any{"sending_queue": map[string]any{"batch": map[string]any{"min_size": 10}}}, "sending_queue::batch must not be set: batching is configured with batch_size and flush_interval"},
		{"no datafile source", map[string]any{"optimizely": map[string]any{"datafile_path": ""}}, "optimizely::sdk_key or optimizely::datafile_path is required when destination is optimizely"},
		{"both datafile sources", map[string]any{"optimizely": map[string]any{"sdk_key": "k"}}, "optimizely::sdk_key and optimizely::datafile_path are mutually exclusive, set one"},
		{"token without sdk_key", map[string]any{"optimizely": map[string]any{"datafile_access_token": "t"}}, "optimizely::datafile_access_token requires optimizely::sdk_key"},
		{"datafile_url without sdk_key", map[string]any{"optimizely": map[string]any{"datafile_url": "http://127.0.0.1/x.json"}}, "optimizely::datafile_url requires optimizely::sdk_key"},
		{"datafile_url not a URL", map[string]any{"optimizely": map[string]any{"datafile_path": "", "sdk_key": "k", "datafile_url": "cdn"}}, `optimizely::datafile_url must be an absolute http or https URL, got "cdn"`},
		{"polling_interval small", map[string]any{"optimizely": map[string]any{"polling_interval": "100ms"}}, "optimizely::polling_interval must be at least 1s, got 100ms"},
		{"send_flag_decisions", map[string]any{"optimizely": map[string]any{"send_flag_decisions": "sometimes"}}, `optimizely::send_flag_decisions must be auto, true or false, got "sometimes"`},
		{"vwo account_id", map[string]any{"destination": "vwo", "vwo": map[string]any{"sdk_key": "k"}}, "vwo::account_id is required and must be a positive integer, got 0"},
		{"vwo sdk_key", map[string]any{"destination": "vwo", "vwo": map[string]any{"account_id": 1}}, "vwo::sdk_key is required when destination is vwo"},
		{"vwo collection_prefix", map[string]any{"destination": "vwo", "vwo": map[string]any{"account_id": 1, "sdk_key": "k", "collection_prefix": "eu/01"}}, `vwo::collection_prefix must contain only letters, digits, '-' and '_', got "eu/01"`},
		{"mapping empty list", map[string]any{"mapping": map[string]any{"visitor_id": []string{}}}, "mapping::visitor_id must name at least one attribute"},
		{"mapping empty name", map[string]any{"mapping": map[string]any{"flag_key": []string{""}}}, "mapping::flag_key must not contain an empty attribute name"},
		{"mapping same event names", map[string]any{"mapping": map[string]any{"conversion_event": "feature_flag.evaluation"}}, `mapping::impression_event and mapping::conversion_event must differ, both are "feature_flag.evaluation"`},
		{"mapping one attribute two meanings", map[string]any{"mapping": map[string]any{"flag_key": []string{"user.id"}}}, `attribute "user.id" is already mapped by mapping::visitor_id`},
		{"privacy hash without key", map[string]any{"privacy": map[string]any{"visitor_id": map[string]any{"mode": "hash"}}}, "privacy::visitor_id::key must be set (at least 16 characters) when privacy::visitor_id::mode is hash"},
		{"queue_size", map[string]any{"sending_queue": map[string]any{"queue_size": 0}}, "`queue_size` must be positive"},
		{"batch larger than queue", map[string]any{"batch_size": 500, "sending_queue": map[string]any{"queue_size": 100}}, "batch_size (500) must not exceed sending_queue::queue_size (100) when the queue counts items"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			base := map[string]any{"optimizely": map[string]any{"datafile_path": "testdata/datafile.json"}}
			require.NoError(t, confmap.NewFromStringMap(base).Unmarshal(cfg))
			require.NoError(t, confmap.NewFromStringMap(tt.raw).Unmarshal(cfg))
			err := confmap.Validate(cfg)
			require.Error(t, err)
			assert.Equal(t, 1, strings.Count(err.Error(), tt.errMsg), "said once, naming its key: %v", err)
		})
	}
}

// Every unknown key under the exporter is a startup error that names it, also where
// the embedded HTTP client config alone would ignore it.
func TestUnknownKeysAreErrors(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "typos").String())
	require.NoError(t, err)
	err = sub.Unmarshal(createDefaultConfig().(*Config))
	require.Error(t, err)
	for _, key := range []string{"batchsize", "flsh_interval", "foo_bar", "polling_intervall", "visitor_ids", "queue_sise"} {
		assert.Contains(t, err.Error(), key)
	}

	for name, yaml := range map[string]map[string]any{
		"tls typo":             {"tls": map[string]any{"ca_fiel": "x"}, "optimizely": map[string]any{"datafile_path": "d"}},
		"datafile client typo": {"optimizely": map[string]any{"sdk_key": "k", "datafile_client": map[string]any{"timeoutt": "1s"}}},
		"vwo typo":             {"destination": "vwo", "vwo": map[string]any{"account_id": 1, "sdk_key": "k", "acount": 2}},
	} {
		err := confmap.NewFromStringMap(yaml).Unmarshal(createDefaultConfig().(*Config))
		assert.Error(t, err, name)
	}
	// The full example loads: the check knows every real key.
	require.NotNil(t, loadConfig(t, "full"))
}

// The strict mirror has exactly Config's keys, so a new setting cannot be refused.
func TestStrictMirrorMatchesConfig(t *testing.T) {
	assert.Equal(t, mapstructureKeys(reflect.TypeOf(Config{})), mapstructureKeys(reflect.TypeOf(strictConfig{})))
	assert.Equal(t, mapstructureKeys(reflect.TypeOf(OptimizelyConfig{})), mapstructureKeys(reflect.TypeOf(optimizely.StrictConfig{})))
}

func mapstructureKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		if tag == ",squash" {
			keys = append(keys, mapstructureKeys(f.Type)...)
			continue
		}
		if tag != "" {
			keys = append(keys, tag)
		}
	}
	sort.Strings(keys)
	return keys
}

// The privacy section loads from YAML with every key, and the gate it builds does what
// README "What leaves your network" says; a misspelled privacy key is an error naming it.
func TestLoadConfigPrivacy(t *testing.T) {
	cfg := loadConfig(t, "privacy")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, privacy.Config{
		VisitorAttributes: privacy.AttributeRules{
			Allow: []string{"plan", "country*", "$opt_*"},
			Deny:  []string{"email*", "$opt_last_*"},
		},
		VisitorID:          privacy.VisitorID{Mode: "hash", Key: configopaque.String("literal-test-key-of-32-characters")},
		DropValuesMatching: []string{"email", "ip", "card", "^secret-.*"},
		MatchedValues:      "hash",
		MaxAttributes:      50,
		MaxValueLength:     32,
		OversizeValues:     "drop",
		ForceAnonymizeIP:   true,
	}, cfg.Privacy)
	// The variant sets every privacy key, also ones added later.
	var unset func(prefix string, v reflect.Value)
	unset = func(prefix string, v reflect.Value) {
		for i := 0; i < v.NumField(); i++ {
			name := prefix + v.Type().Field(i).Tag.Get("mapstructure")
			if f := v.Field(i); f.Kind() == reflect.Struct {
				unset(name+"::", f)
			} else {
				assert.False(t, f.IsZero(), "testdata/config.yaml experimentation/privacy does not set %s", name)
			}
		}
	}
	unset("privacy::", reflect.ValueOf(cfg.Privacy))
	// The defaults change nothing: no gate.
	assert.Equal(t, privacy.Config{}, loadConfig(t, "").Privacy)
	assert.Nil(t, privacy.New(loadConfig(t, "").Privacy))

	// The loaded config, applied to a record carrying everything an app should not send.
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	e, err := newExporter(cfg, metadatatest.NewSettings(tel))
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	body := bodyOf(t, e, logsOf(personal("user-123")))
	var batch struct {
		AnonymizeIP bool `json:"anonymize_ip"`
		Visitors    []struct {
			VisitorID  string `json:"visitor_id"`
			Attributes []struct {
				Key   string `json:"key"`
				Value any    `json:"value"`
			} `json:"attributes"`
		} `json:"visitors"`
	}
	require.NoError(t, json.Unmarshal(body, &batch))
	require.Len(t, batch.Visitors, 1)
	assert.True(t, batch.AnonymizeIP)
	v := batch.Visitors[0]
	assert.Equal(t, privacy.New(cfg.Privacy).VisitorID(pcommon.NewValueStr("user-123")).Str(), v.VisitorID)
	assert.Regexp(t, `^[0-9a-f]{64}$`, v.VisitorID)
	got := map[string]any{}
	for _, a := range v.Attributes {
		got[a.Key] = a.Value
	}
	hashed := `^[0-9a-f]{64}$`
	assert.Equal(t, "pro", got["plan"])
	assert.Equal(t, "DE", got["country"])
	assert.Regexp(t, hashed, got["$opt_email"], "an e-mail address leaves as its HMAC")
	assert.Regexp(t, hashed, got["$opt_card"], "a card number leaves as its HMAC")
	assert.Regexp(t, hashed, got["$opt_note"], "a value matching ^secret-.* leaves as its HMAC")
	assert.Equal(t, "Mozilla/5.0 (X11; Linux x86_64)", got["$opt_user_agent"], "31 characters: within max_value_length")
	assert.Equal(t, true, got["$opt_bot_filtering"], "the datafile's bot filtering always passes")
	assert.Len(t, got, 7, "age and is_beta not allowed, $opt_last_ip denied, $opt_bio over 32 characters: %v", got)
	for _, raw := range []string{"user-123", "alice@example.com", "198.51.100.23", "4111", "secret-token", "biography"} {
		assert.NotContains(t, string(body), raw)
	}
	metadatatest.AssertEqualExporterExperimentationAttributesRedacted(t, tel, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(exporterAttr, attribute.String("reason", "not_allowed"))},
		{Value: 1, Attributes: attribute.NewSet(exporterAttr, attribute.String("reason", "denied"))},
		{Value: 1, Attributes: attribute.NewSet(exporterAttr, attribute.String("reason", "email"))},
		{Value: 1, Attributes: attribute.NewSet(exporterAttr, attribute.String("reason", "card"))},
		{Value: 1, Attributes: attribute.NewSet(exporterAttr, attribute.String("reason", "pattern"))},
		{Value: 1, Attributes: attribute.NewSet(exporterAttr, attribute.String("reason", "oversize"))},
		{Value: 3, Attributes: attribute.NewSet(exporterAttr, attribute.String("reason", "hashed"))},
	}, metricdatatest.IgnoreTimestamp())

	// A misspelled key under privacy (also nested) fails to unmarshal and is named.
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "privacy_typo").String())
	require.NoError(t, err)
	err = sub.Unmarshal(createDefaultConfig().(*Config))
	require.Error(t, err)
	for _, key := range []string{"max_atributes", "alow"} {
		assert.Contains(t, err.Error(), key)
	}
}
