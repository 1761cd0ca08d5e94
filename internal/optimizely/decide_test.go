package optimizely

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/experimentationexporter/experimentationexporter/internal/dedup"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
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
	// first rule in decision order that holds it. Two rules with audiences could have
	// given it: a guess, counted as ambiguous.
	both := ""
	for i := 0; both == ""; i++ {
		if u := fmt.Sprintf("user-%d", i); !inHoldout(u) && abVariation(u) == "on" && inBetaRule(u) {
			both = u
		}
	}
	rule, how = resolve(t, df, "pricing", "on", both, nil)
	assert.Equal(t, "pricing_ab", rule)
	assert.Equal(t, ResolvedAmbiguous, how)
	// With attributes that qualify for neither rule, it is a fallback.
	rule, how = resolve(t, df, "pricing", "on", both, map[string]any{"plan": "free"})
	assert.Equal(t, "pricing_ab", rule)
	assert.Equal(t, ResolvedByFallback, how)
	// Only one rule could give it by traffic: no guess.
	for i := 0; ; i++ {
		if u := fmt.Sprintf("user-%d", i); !inHoldout(u) && abVariation(u) == "off" && inBetaRule(u) {
			_, how = resolve(t, df, "pricing", "on", u, nil)
			assert.Equal(t, ResolvedByFallback, how, u)
			break
		}
	}

	// $opt_bucketing_id replaces the visitor id in every hash.
	for i := range 200 {
		u := fmt.Sprintf("device-%d", i)
		if inHoldout(u) {
			continue
		}
		rule, _ := resolve(t, df, "pricing", abVariation(u), "someone-else", map[string]any{"plan": "pro", "$opt_bucketing_id": u})
		assert.Equal(t, "pricing_ab", rule, u)
	}

	// A variation held by one rule of the flag needs no bucketing. Every entry of
	// holdouts is global, as in the JavaScript SDK 6.x (includedFlags is ignored; go-sdk
	// v2.3.1 would keep pricing_holdout to pricing): "off" of alpha is the holdout's too.
	for i := range 200 {
		u := fmt.Sprintf("user-%d", i)
		rule, how := resolve(t, df, "alpha", "on", u, nil)
		assert.Equal(t, "alpha_ab", rule, "unique in the flag")
		assert.Equal(t, ResolvedUnique, how)
		rule, how = resolve(t, df, "alpha", "off", u, nil)
		want := "alpha_default"
		if inHoldout(u) {
			want = "pricing_holdout"
		}
		assert.Equal(t, want, rule, u)
		assert.Equal(t, ResolvedByBucketing, how, "no audience could have changed it")
	}

	// A variation no rule of the flag holds.
	rule, _ = resolve(t, df, "pricing", "purple", "u", nil)
	assert.Empty(t, rule)

	// Holdouts decide only while running; every flag has the global ones.
	assert.Len(t, df.Flags["pricing"].holdouts, 1)
	assert.Len(t, df.Flags["alpha"].holdouts, 1)
	assert.NotNil(t, df.Flags["alpha"].Rules["paused_holdout"], "a record may still name it")
}

// jsDatafile has what go-sdk v2.3.1 does not read and the JavaScript SDK 6.x does: a
// paused experiment, local holdouts before an experiment and before a delivery rule, a
// global holdout that lets its visitors through to the delivery rules.
const jsDatafile = `{
  "version": "4", "accountId": "1", "projectId": "2", "revision": "3",
  "attributes": [], "audiences": [],
  "experiments": [
    {"id": "200", "key": "paused_ab", "layerId": "300", "status": "Paused",
     "variations": [{"id": "201", "key": "on", "featureEnabled": true}],
     "trafficAllocation": [{"entityId": "201", "endOfRange": 10000}], "forcedVariations": {"qa": "on"}},
    {"id": "210", "key": "live_ab", "layerId": "310", "status": "Running",
     "variations": [{"id": "211", "key": "on", "featureEnabled": true}, {"id": "212", "key": "off", "featureEnabled": false}],
     "trafficAllocation": [{"entityId": "211", "endOfRange": 5000}, {"entityId": "212", "endOfRange": 10000}]}
  ],
  "featureFlags": [
    {"id": "1001", "key": "f", "rolloutId": "r1", "experimentIds": ["200", "210"]},
    {"id": "1002", "key": "g", "rolloutId": "r2", "experimentIds": []}
  ],
  "rollouts": [
    {"id": "r1", "experiments": [
      {"id": "410", "key": "f_everyone", "layerId": "411", "status": "Running",
       "variations": [{"id": "412", "key": "on", "featureEnabled": true}],
       "trafficAllocation": [{"entityId": "412", "endOfRange": 10000}]}]},
    {"id": "r2", "experiments": [
      {"id": "420", "key": "g_everyone", "layerId": "421", "status": "Running",
       "variations": [{"id": "422", "key": "on", "featureEnabled": true}],
       "trafficAllocation": [{"entityId": "422", "endOfRange": 10000}]}]}
  ],
  "holdouts": [
    {"id": "500", "key": "lenient_holdout", "status": "Running", "excludeTargetedDeliveries": true,
     "variations": [{"id": "$opt_dummy_variation_id", "key": "held", "featureEnabled": false}],
     "trafficAllocation": [{"entityId": "$opt_dummy_variation_id", "endOfRange": 1000}]}
  ],
  "localHoldouts": [
    {"id": "600", "key": "live_ab_holdout", "status": "Running", "includedRules": ["210"],
     "variations": [{"id": "$opt_dummy_variation_id", "key": "off", "featureEnabled": false}],
     "trafficAllocation": [{"entityId": "$opt_dummy_variation_id", "endOfRange": 2000}]},
    {"id": "610", "key": "delivery_holdout", "status": "Running", "includedRules": ["420"],
     "variations": [{"id": "$opt_dummy_variation_id", "key": "on", "featureEnabled": false}],
     "trafficAllocation": [{"entityId": "$opt_dummy_variation_id", "endOfRange": 3000}]},
    {"id": "620", "key": "unscoped_local", "status": "Running",
     "variations": [{"id": "621", "key": "on", "featureEnabled": false}],
     "trafficAllocation": [{"entityId": "621", "endOfRange": 10000}]}
  ]
}`

func TestResolveRuleAsTheJavaScriptSDK(t *testing.T) {
	df, err := Parse([]byte(jsDatafile))
	require.NoError(t, err)
	lenient := func(u string) bool { return bucketValue(u, "500") < 1000 }
	seen := map[string]int{}
	for i := range 3000 {
		u := fmt.Sprintf("user-%d", i)
		// f "on": the paused experiment (everyone, also the whitelisted "qa") is never
		// chosen; live_ab's local holdout comes before live_ab.
		rule, how := resolve(t, df, "f", "on", u, nil)
		switch {
		case lenient(u):
			// In a holdout that lets its visitors through to the delivery rules.
			assert.Equal(t, "f_everyone", rule, u)
		case bucketValue(u, "600") < 2000:
			// Held out of live_ab, the SDK gives "off": a record saying "on" is not
			// one it made; the first rule that gives "on" is taken.
		case bucketValue(u, "210") < 5000:
			assert.Equal(t, "live_ab", rule, u)
			seen["live_ab"]++
		default:
			assert.Equal(t, "f_everyone", rule, u)
		}
		assert.Equal(t, ResolvedByBucketing, how)
		rule, _ = resolve(t, df, "f", "off", u, nil)
		if !lenient(u) && bucketValue(u, "600") < 2000 {
			assert.Equal(t, "live_ab_holdout", rule, u)
			seen["local holdout"]++
		}
		rule, _ = resolve(t, df, "f", "held", u, nil)
		if lenient(u) {
			assert.Equal(t, "lenient_holdout", rule, u)
			seen["global holdout"]++
		}
		// g: a local holdout before the delivery rule.
		rule, _ = resolve(t, df, "g", "on", u, nil)
		want := "g_everyone"
		if bucketValue(u, "610") < 3000 { // also for visitors let through by lenient_holdout
			want = "delivery_holdout"
			seen["delivery holdout"]++
		}
		assert.Equal(t, want, rule, u)
	}
	for _, k := range []string{"live_ab", "local holdout", "global holdout", "delivery holdout"} {
		assert.Positive(t, seen[k], k)
	}
	rule, _ := resolve(t, df, "f", "on", "qa", nil)
	assert.NotEqual(t, "paused_ab", rule, "a whitelist does not revive a paused experiment")
	assert.Nil(t, df.Flags["f"].Rules["unscoped_local"], "a local holdout without includedRules never decides")
	assert.Equal(t, "paused_ab", df.Flags["f"].byVariation["on"][len(df.Flags["f"].byVariation["on"])-1].Key,
		"a paused experiment is the last fallback")
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

// A visitor of an excludeTargetedDeliveries holdout whose delivery-rule impression is not
// sent (flag decisions off) still sends the holdout's impression, once per dedup window.
func TestLenientHoldoutImpressionAloneAndDeduplicated(t *testing.T) {
	df, err := Parse([]byte(jsDatafile))
	require.NoError(t, err)
	user := ""
	for i := 0; user == ""; i++ {
		if u := fmt.Sprintf("user-%d", i); bucketValue(u, "500") < 1000 {
			user = u
		}
	}
	b := NewBuilder(df, FlagDecisionsOff, WithExposures(dedup.New(dedup.Config{Window: time.Hour, MaxKeys: 10})))
	reader := record.NewReader(record.DefaultMapping())
	lr := plog.NewLogRecord()
	lr.SetEventName("feature_flag.evaluation")
	lr.SetTimestamp(1763900000123000000)
	lr.Attributes().PutStr("feature_flag.context.id", user)
	lr.Attributes().PutStr("feature_flag.key", "g")
	lr.Attributes().PutStr("feature_flag.result.variant", "on")
	var f record.Fields
	reader.Read(lr, &f)

	out, ends, verdict, _, _ := b.AppendAll(nil, nil, &f)
	require.Equal(t, record.Built, verdict)
	require.Len(t, ends, 1, "the rollout's impression is not sent, the holdout's is")
	assert.Contains(t, string(out), `"rule_key":"lenient_holdout"`)

	_, ends, verdict, why, _ := b.AppendAll(nil, nil, &f)
	assert.Equal(t, record.Skipped, verdict)
	assert.True(t, IsDeduplicated(why), "the same exposure again: left out")
	assert.Empty(t, ends)
}
