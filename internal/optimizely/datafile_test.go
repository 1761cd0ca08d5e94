package optimizely

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fixture(t testing.TB) []byte {
	data, err := os.ReadFile("../../testdata/datafile.json")
	require.NoError(t, err)
	return data
}

func TestParseFixture(t *testing.T) {
	df, err := Parse(fixture(t))
	require.NoError(t, err)
	assert.Equal(t, "21537940595", df.AccountID)
	assert.Equal(t, "131", df.Revision)
	assert.Equal(t, "https://logx.optimizely.com/v1/events", df.EventsURL())
	assert.True(t, df.AnonymizeIP)
	require.NotNil(t, df.BotFiltering)
	assert.False(t, df.SendFlagDecisions)

	flag := df.Flags["search_ranking"]
	require.NotNil(t, flag)
	rule := flag.Rules["search_ranking_v2"]
	require.NotNil(t, rule, "experiments inside groups belong to their flag")
	assert.Equal(t, "9300000005002", rule.CampaignID)
	assert.Equal(t, RuleTypeFeatureTest, rule.Type)

	ro := df.Flags["free_shipping_banner"].Rules["free_shipping_50"]
	require.NotNil(t, ro)
	assert.Equal(t, RuleTypeRollout, ro.Type)

	h := df.Flags["checkout_redesign"].Rules["global_holdout"]
	require.NotNil(t, h)
	assert.Equal(t, RuleTypeHoldout, h.Type)
	assert.Empty(t, h.CampaignID, "a holdout has no layer: the Go SDK sends campaign_id \"\"")
	assert.Equal(t, "$opt_dummy_variation_id", h.Variations["off"].ID)
}

func TestParseRejects(t *testing.T) {
	good := string(fixture(t))
	for _, tt := range []struct {
		name, data, err string
	}{
		{"garbage", "<html>", "datafile is not valid JSON"},
		{"version 5", strings.Replace(good, `"version": "4"`, `"version": "5"`, 1), `unsupported datafile version "5" (want 2, 3 or 4)`},
		{"no revision", strings.Replace(good, `"revision": "131"`, `"revision": ""`, 1), "datafile lacks accountId, projectId or revision"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data))
			require.ErrorContains(t, err, tt.err)
		})
	}
	for _, v := range []string{"2", "3"} {
		_, err := Parse([]byte(strings.Replace(good, `"version": "4"`, `"version": "`+v+`"`, 1)))
		assert.NoError(t, err, "legacy version %s", v)
	}
}

func TestEURegion(t *testing.T) {
	df, err := Parse([]byte(strings.Replace(string(fixture(t)), `"region": "US"`, `"region": "EU"`, 1)))
	require.NoError(t, err)
	assert.Equal(t, "https://eu.logx.optimizely.com/v1/events", df.EventsURL())
}

func FuzzParseDatafile(f *testing.F) {
	f.Add(fixture(f))
	f.Add([]byte(`{"version":"4","accountId":"1","projectId":"2","revision":"3","featureFlags":[{"key":"f","experimentIds":["x"],"rolloutId":"r"}],"rollouts":[{"id":"r","experiments":[{"id":"x","key":"k"}]}]}`))
	f.Add([]byte(`{"version":4}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		df, err := Parse(data)
		if err != nil {
			return
		}
		_ = df.BatchPrefix("c", "v")
		_ = df.EventsURL()
	})
}

func TestEventsURLRegionIsCaseInsensitive(t *testing.T) {
	for region, want := range map[string]string{
		"EU": "https://eu.logx.optimizely.com/v1/events", "eu": "https://eu.logx.optimizely.com/v1/events",
		"US": "https://logx.optimizely.com/v1/events", "APAC": "https://logx.optimizely.com/v1/events",
	} {
		assert.Equal(t, want, (&Datafile{Region: region}).EventsURL(), region)
	}
}
