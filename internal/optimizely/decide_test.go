package optimizely

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decideDatafile: flag "pricing" with a holdout (5%), an A/B experiment for plan=pro
// (on/off), a targeted rollout rule for beta users (on, 30%) and everyone else (off);
// flags "alpha" and "beta_flag" have experiments in a mutually exclusive group.
const decideDatafile = `{
  "version": "4", "accountId": "1", "projectId": "2", "revision": "3",
  "attributes": [{"id": "10", "key": "plan"}, {"id": "11", "key": "beta"}],
  "audiences": [
    {"id": "100", "conditions": "[\"and\", [\"or\", [\"or\", {\"match\": \"exact\", \"name\": \"plan\", \"type\": \"custom_attribute\", \"value\": \"pro\"}]]]"},
    {"id": "101", "conditions": "[\"and\", [\"or\", [\"or\", {\"match\": \"exact\", \"name\": \"beta\", \"type\": \"custom_attribute\", \"value\": true}]]]"}
  ],
  "experiments": [
    {"id": "200", "key": "pricing_ab", "layerId": "300", "status": "Running", "audienceIds": ["100"],
     "variations": [{"id": "201", "key": "on", "featureEnabled": true}, {"id": "202", "key": "off", "featureEnabled": false}],
     "trafficAllocation": [{"entityId": "201", "endOfRange": 5000}, {"entityId": "202", "endOfRange": 10000}],
     "forcedVariations": {"qa-user": "off"}}
  ],
  "groups": [{"id": "900", "policy": "random",
    "trafficAllocation": [{"entityId": "210", "endOfRange": 5000}, {"entityId": "220", "endOfRange": 10000}],
    "experiments": [
      {"id": "210", "key": "alpha_ab", "layerId": "310", "status": "Running",
       "variations": [{"id": "211", "key": "on", "featureEnabled": true}],
       "trafficAllocation": [{"entityId": "211", "endOfRange": 10000}]},
      {"id": "220", "key": "beta_ab", "layerId": "320", "status": "Running",
       "variations": [{"id": "221", "key": "on", "featureEnabled": true}],
       "trafficAllocation": [{"entityId": "221", "endOfRange": 10000}]}
    ]}],
  "featureFlags": [
    {"id": "1001", "key": "pricing", "rolloutId": "r1", "experimentIds": ["200"]},
    {"id": "1002", "key": "alpha", "rolloutId": "r2", "experimentIds": ["210"]},
    {"id": "1003", "key": "beta_flag", "rolloutId": "r3", "experimentIds": ["220"]}
  ],
  "rollouts": [
    {"id": "r1", "experiments": [
      {"id": "400", "key": "beta_users", "layerId": "401", "status": "Running", "audienceIds": ["101"],
       "variations": [{"id": "402", "key": "on", "featureEnabled": true}],
       "trafficAllocation": [{"entityId": "402", "endOfRange": 3000}]},
      {"id": "410", "key": "everyone_else", "layerId": "411", "status": "Running",
       "variations": [{"id": "412", "key": "off", "featureEnabled": false}],
       "trafficAllocation": [{"entityId": "412", "endOfRange": 10000}]}]},
    {"id": "r2", "experiments": [
      {"id": "420", "key": "alpha_default", "layerId": "421", "status": "Running",
       "variations": [{"id": "422", "key": "off", "featureEnabled": false}],
       "trafficAllocation": [{"entityId": "422", "endOfRange": 10000}]}]},
    {"id": "r3", "experiments": []}
  ],
  "holdouts": [
    {"id": "500", "key": "pricing_holdout", "status": "Running", "includedFlags": ["1001"],
     "variations": [{"id": "$opt_dummy_variation_id", "key": "off", "featureEnabled": false}],
     "trafficAllocation": [{"entityId": "$opt_dummy_variation_id", "endOfRange": 500}]},
    {"id": "510", "key": "paused_holdout", "status": "Draft",
     "variations": [{"id": "511", "key": "off", "featureEnabled": false}],
     "trafficAllocation": [{"entityId": "511", "endOfRange": 10000}]}
  ]
}`

func resolve(t *testing.T, df *Datafile, flag, variation, visitor string, attrs map[string]any) (string, Resolution) {
	t.Helper()
	fl := df.Flags[flag]
	require.NotNil(t, fl, flag)
	a := visitorAttrs{}
	if attrs != nil {
		a = attrsOf(attrs)
	}
	r, how := df.resolveRule(fl, variation, visitor, a)
	if r == nil {
		return "", how
	}
	return r.Key, how
}

func TestResolveRule(t *testing.T) {
	df, err := Parse([]byte(decideDatafile))
	require.NoError(t, err)
	pro := map[string]any{"plan": "pro"}
	beta := map[string]any{"beta": true}

	// The expected rules follow from the bucket values of the SDKs' hash, computed
	// here independently of the resolver's order of evaluation.
	inHoldout := func(u string) bool { return bucketValue(u, "500") < 500 }
	abVariation := func(u string) string {
		if bucketValue(u, "200") < 5000 {
			return "on"
		}
		return "off"
	}
	inBetaRule := func(u string) bool { return bucketValue(u, "400") < 3000 }

	seen := map[string]int{}
	for i := range 3000 {
		u := fmt.Sprintf("user-%d", i)
		switch {
		case inHoldout(u):
			rule, how := resolve(t, df, "pricing", "off", u, pro)
			assert.Equal(t, "pricing_holdout", rule, u)
			assert.Equal(t, ResolvedByBucketing, how)
			seen["holdout"]++
		default:
			rule, how := resolve(t, df, "pricing", abVariation(u), u, pro)
			assert.Equal(t, "pricing_ab", rule, u)
			assert.Equal(t, ResolvedByBucketing, how)
			seen["ab"]++
			if inBetaRule(u) {
				rule, how = resolve(t, df, "pricing", "on", u, beta)
				assert.Equal(t, "beta_users", rule, u)
				assert.Equal(t, ResolvedByBucketing, how)
				seen["beta"]++
			} else {
				rule, how = resolve(t, df, "pricing", "off", u, beta)
				assert.Equal(t, "everyone_else", rule, u, "outside the targeted rule's traffic: everyone else")
				assert.Equal(t, ResolvedByBucketing, how)
				seen["everyone_else"]++
			}
		}
	}
	assert.Positive(t, seen["holdout"])
	assert.Positive(t, seen["beta"])
	assert.Positive(t, seen["everyone_else"])

	// The datafile's forced variation (whitelist) decides before audiences and traffic.
	rule, how := resolve(t, df, "pricing", "off", "qa-user", nil)
	if !inHoldout("qa-user") {
		assert.Equal(t, "pricing_ab", rule)
		assert.Equal(t, ResolvedByBucketing, how)
	}

	// "on" without the attributes that qualified the visitor: no rule gives it, so the
	// first rule in decision order that holds it, counted as a fallback.
	rule, how = resolve(t, df, "pricing", "on", "user-1", nil)
	assert.Equal(t, "pricing_ab", rule)
	assert.Equal(t, ResolvedByFallback, how)

	// $opt_bucketing_id replaces the visitor id in every hash.
	for i := range 200 {
		u := fmt.Sprintf("device-%d", i)
		if inHoldout(u) {
			continue
		}
		rule, _ := resolve(t, df, "pricing", abVariation(u), "someone-else", map[string]any{"plan": "pro", "$opt_bucketing_id": u})
		assert.Equal(t, "pricing_ab", rule, u)
	}

	// A variation held by one rule of the flag needs no bucketing.
	for i := range 20 {
		u := fmt.Sprintf("user-%d", i)
		rule, how := resolve(t, df, "alpha", "on", u, nil)
		assert.Equal(t, "alpha_ab", rule, "unique in the flag")
		assert.Equal(t, ResolvedUnique, how)
		rule, how = resolve(t, df, "alpha", "off", u, nil)
		assert.Equal(t, "alpha_default", rule)
		assert.Equal(t, ResolvedUnique, how)
	}

	// A variation no rule of the flag holds.
	rule, _ = resolve(t, df, "pricing", "purple", "u", nil)
	assert.Empty(t, rule)

	// Holdouts apply to the flags they include, and only while running.
	assert.Len(t, df.Flags["pricing"].holdouts, 1)
	assert.Empty(t, df.Flags["alpha"].holdouts)
}

// Group bucketing decides which of the group's experiments a visitor can be in.
func TestGroupBucketing(t *testing.T) {
	df, err := Parse([]byte(decideDatafile))
	require.NoError(t, err)
	for i := range 500 {
		u := fmt.Sprintf("user-%d", i)
		alpha := df.experimentOutcome(df.Rules["alpha_ab"], u, u, visitorAttrs{})
		beta := df.experimentOutcome(df.Rules["beta_ab"], u, u, visitorAttrs{})
		assert.True(t, (alpha == nil) != (beta == nil), "%s is in exactly one experiment of the group", u)
		assert.Equal(t, bucketValue(u, "900") < 5000, alpha != nil, u)
	}
}

func TestResolveRuleOnTheFixtureDatafile(t *testing.T) {
	data, err := os.ReadFile("../../testdata/datafile.json")
	require.NoError(t, err)
	df, err := Parse(data)
	require.NoError(t, err)
	// "off" of free_shipping_banner sits in the global holdout (5%) and in everyone else.
	for i := range 2000 {
		u := fmt.Sprintf("user-%d", i)
		rule, how := resolve(t, df, "free_shipping_banner", "off", u, nil)
		want := "default-rollout-9300000002004"
		if bucketValue(u, "1673115") < 500 {
			want = "global_holdout"
		}
		assert.Equal(t, want, rule, u)
		assert.Equal(t, ResolvedByBucketing, how, u)
	}
}

func BenchmarkResolveRule(b *testing.B) {
	df, err := Parse([]byte(decideDatafile))
	require.NoError(b, err)
	fl := df.Flags["pricing"]
	attrs := attrsOf(map[string]any{"beta": true, "plan": "free"})
	for b.Loop() {
		_, _ = df.resolveRule(fl, "off", "user-123456", attrs)
	}
}
