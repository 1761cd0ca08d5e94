package experimentationexporter

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/experimentationexporter/experimentationexporter/internal/metadatatest"
	"github.com/experimentationexporter/experimentationexporter/internal/privacy"
)

const testHashKey = "an-operator-secret-32-characters"

// personal is an impression whose visitor attributes hold everything an app should not send.
func personal(visitor string) func(plog.LogRecord) {
	return with(impression(visitor, "checkout_redesign", "checkout_redesign_ab", "treatment"), func(lr plog.LogRecord) {
		lr.Attributes().PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)")
		lr.Attributes().PutStr("client.address", "203.0.113.7")
		m := lr.Attributes().PutEmptyMap("experiment.visitor.attributes")
		m.PutStr("plan", "pro")
		m.PutStr("country", "DE")
		m.PutInt("age", 34)
		m.PutBool("is_beta", true)
		m.PutStr("$opt_email", "alice@example.com")
		m.PutStr("$opt_last_ip", "198.51.100.23")
		m.PutStr("$opt_card", "4111 1111 1111 1111")
		m.PutStr("$opt_note", "secret-token-123")
		m.PutStr("$opt_bio", "a very long biography that goes on and on")
	})
}

func TestPrivacyGoldenPayloads(t *testing.T) {
	tests := []struct {
		name    string
		golden  string
		privacy privacy.Config
	}{
		{"allow and deny lists", "privacy_optimizely_allow_deny.json", privacy.Config{
			VisitorAttributes: privacy.AttributeRules{Allow: []string{"plan", "country*", "$opt_*"}, Deny: []string{"$opt_email", "$opt_last_*"}}}},
		{"hashed visitor id", "privacy_optimizely_hashed_id.json", privacy.Config{
			VisitorID: privacy.VisitorID{Mode: "hash", Key: testHashKey}}},
		{"detectors and a regex drop values", "privacy_optimizely_detectors.json", privacy.Config{
			DropValuesMatching: []string{"email", "ip", "card", "^secret-.*"}}},
		{"detected values hashed", "privacy_optimizely_detectors_hashed.json", privacy.Config{
			DropValuesMatching: []string{"email", "ip", "card", "^secret-.*"}, MatchedValues: "hash", VisitorID: privacy.VisitorID{Key: testHashKey}}},
		{"caps: attributes per visitor and value length", "privacy_optimizely_caps.json", privacy.Config{
			MaxAttributes: 6, MaxValueLength: 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("http://127.0.0.1:1/v1/events")
			cfg.Privacy = tt.privacy
			require.NoError(t, cfg.Validate())
			e := startedExporter(t, cfg)
			body := bodyOf(t, e, logsOf(personal("user-123")))
			checkGolden(t, tt.golden, body)
			if tt.privacy.VisitorID.Mode == "hash" {
				assert.NotContains(t, string(body), "user-123", "the raw id never leaves")
			}
		})
	}
}

func TestPrivacyGoldenVWO(t *testing.T) {
	cfg := vwoConfig(replica(t))
	cfg.VWO.PushCustomDimensions = true
	cfg.Privacy = privacy.Config{
		VisitorAttributes:  privacy.AttributeRules{Allow: []string{"plan", "country", "$opt_*", "visitor_ua"}},
		VisitorID:          privacy.VisitorID{Mode: "hash", Key: testHashKey},
		DropValuesMatching: []string{"email", "ip", "card"},
		ForceAnonymizeIP:   true,
	}
	require.NoError(t, cfg.Validate())
	e := startedExporter(t, cfg)
	rec := with(personal("Varun"), func(lr plog.LogRecord) {
		lr.Attributes().PutStr("feature_flag.key", "homepage-cta")
		lr.Attributes().PutStr("feature_flag.result.variant", "Control")
	})
	body := bodyOf(t, e, logsOf(rec))
	checkGolden(t, "privacy_vwo.json", body)
	assert.NotContains(t, string(body), "203.0.113.7", "visitor_ip never leaves with force_anonymize_ip")
	assert.NotContains(t, string(body), "C4D95C097902569F9A2D2E87CD3201C8", "the uuid of the raw id never leaves")
}

func TestPrivacyCountsWhatItRemoves(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := testConfig("http://127.0.0.1:1/v1/events")
	cfg.Privacy = privacy.Config{
		VisitorAttributes:  privacy.AttributeRules{Deny: []string{"country"}},
		DropValuesMatching: []string{"email", "card"},
	}
	e, err := newExporter(cfg, metadatatest.NewSettings(tel))
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	_, err = e.convert(context.Background(), logsOf(personal("u1"), personal("u2")))
	require.NoError(t, err)
	metadatatest.AssertEqualExporterExperimentationAttributesRedacted(t, tel, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(exporterAttr, attribute.String("reason", "denied"))},
		{Value: 2, Attributes: attribute.NewSet(exporterAttr, attribute.String("reason", "email"))},
		{Value: 2, Attributes: attribute.NewSet(exporterAttr, attribute.String("reason", "card"))},
	}, metricdatatest.IgnoreTimestamp())
}

// force_anonymize_ip wins over a datafile that does not anonymize.
func TestForceAnonymizeIPOverridesTheDatafile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "datafile.json"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "datafile.json")
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(data), `"anonymizeIP": true`, `"anonymizeIP": false`, 1)), 0o600))
	for _, force := range []bool{false, true} {
		cfg := testConfig("http://127.0.0.1:1/v1/events")
		cfg.Optimizely.DatafilePath = path
		cfg.Privacy.ForceAnonymizeIP = force
		e := startedExporter(t, cfg)
		var batch struct {
			AnonymizeIP bool `json:"anonymize_ip"`
		}
		require.NoError(t, json.Unmarshal(bodyOf(t, e, logsOf(personal("u1"))), &batch))
		assert.Equal(t, force, batch.AnonymizeIP)
	}
}
