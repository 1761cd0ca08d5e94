package optimizely

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func attrsOf(kv map[string]any) visitorAttrs {
	m := pcommon.NewMap()
	_ = m.FromRaw(kv)
	return visitorAttrs{m: m, ok: true}
}

// The go-sdk v2.3.1 vectors, with the JavaScript SDK 6.6.1's answers where the two
// disagree: the exporter follows the JavaScript SDK (utils/semantic_version), which has a
// release version above its pre-release (2.1.2 > 2.1.2-beta) where go-sdk has it below.
// The JavaScript answers were computed by the SDK's own compareVersion.
func TestSemverMatchesTheSDKVectors(t *testing.T) {
	type key struct{ condition, match, attribute string }
	jsDiffers := map[key]bool{}
	for _, cond := range []string{"2.1.2-beta", "2.1.2-release"} {
		for _, m := range []string{"semver_ge", "semver_gt", "semver_le", "semver_lt"} {
			jsDiffers[key{cond, m, "2.1.2"}] = true
		}
	}
	differ := 0
	for _, v := range semverVectors {
		c := condition{name: "version", match: v.match, typ: "custom_attribute", value: v.condition}
		got, valid := c.eval(attrsOf(map[string]any{"version": v.attribute}))
		assert.True(t, valid, "%s: %s %q vs %q", v.source, v.match, v.condition, v.attribute)
		want := v.want
		if jsDiffers[key{v.condition, v.match, v.attribute}] {
			want = !want
			differ++
		}
		assert.Equal(t, want, got, "%s: %s %q vs %q", v.source, v.match, v.condition, v.attribute)
	}
	assert.Equal(t, 8, differ, "every listed difference is among the vectors")
}

// TestInvalidAttributes and TestInvalidConditions of the SDK's semver tests: no value.
func TestSemverInvalidInputsHaveNoValue(t *testing.T) {
	for _, attr := range []any{true, 37, "+", "+test", " ", "2 .0", ".2.2", "3.7.2.2", "3.x", ",", "+build-prerelease", "2..0"} {
		c := condition{name: "version", match: "semver_eq", typ: "custom_attribute", value: "2.0"}
		_, valid := c.eval(attrsOf(map[string]any{"version": attr}))
		assert.False(t, valid, "attribute %v", attr)
	}
	for _, cond := range []any{"", nil} {
		c := condition{name: "version", match: "semver_eq", typ: "custom_attribute", value: cond}
		_, valid := c.eval(attrsOf(map[string]any{"version": "2.0"}))
		assert.False(t, valid, "condition %v", cond)
	}
}

func TestMatchers(t *testing.T) {
	attrs := attrsOf(map[string]any{"plan": "pro-annual", "age": int64(30), "score": 2.5, "beta": true})
	for _, tc := range []struct {
		match string
		name  string
		value any
		want  bool
		valid bool
	}{
		{"exact", "plan", "pro-annual", true, true},
		{"", "plan", "pro-annual", true, true}, // no match: exact
		{"exact", "plan", "pro", false, true},
		{"exact", "age", 30.0, true, true}, // an int attribute against a JSON number
		{"exact", "beta", true, true, true},
		{"exact", "beta", "true", false, false}, // mistyped: no value
		{"exact", "missing", "x", false, false},
		{"exists", "plan", nil, true, true},
		{"exists", "missing", nil, false, true},
		{"substring", "plan", "pro", true, true},
		{"substring", "age", "3", false, false},
		{"gt", "age", 29.0, true, true},
		{"gt", "age", 30.0, false, true},
		{"ge", "age", 30.0, true, true},
		{"lt", "score", 3.0, true, true},
		{"le", "score", 2.5, true, true},
		{"lt", "plan", 3.0, false, false},
		{"gt", "age", "29", false, false},
		{"qualified", "segments", "vip", false, true},
		{"regex", "plan", "p.*", false, false}, // unknown matcher
	} {
		c := condition{name: tc.name, match: tc.match, typ: "custom_attribute", value: tc.value}
		got, valid := c.eval(attrs)
		assert.Equal(t, tc.valid, valid, "%s %s %v: valid", tc.match, tc.name, tc.value)
		assert.Equal(t, tc.want, got, "%s %s %v", tc.match, tc.name, tc.value)
	}
	c := condition{name: "plan", match: "exact", typ: "browser", value: "pro-annual"}
	_, valid := c.eval(attrs)
	assert.False(t, valid, "an unknown condition type has no value")
}

func TestAudienceTrees(t *testing.T) {
	audiences := map[string]*condNode{
		"pro":   parseConditionTree(json.RawMessage(`"[\"and\", [\"or\", [\"or\", {\"match\": \"exact\", \"name\": \"plan\", \"type\": \"custom_attribute\", \"value\": \"pro\"}]]]"`)),
		"adult": parseConditionTree(json.RawMessage(`["and", ["or", ["or", {"match": "ge", "name": "age", "type": "custom_attribute", "value": 18}]]]`)),
		"ios":   parseConditionTree(json.RawMessage(`{"match": "exact", "name": "os", "type": "custom_attribute", "value": "ios"}`)),
	}
	pro := attrsOf(map[string]any{"plan": "pro", "age": int64(40)})
	free := attrsOf(map[string]any{"plan": "free", "age": int64(12)})
	none := visitorAttrs{}
	for _, tc := range []struct {
		conditions string
		ids        []string
		attrs      visitorAttrs
		want       bool
	}{
		{``, nil, none, true},                   // no audience: everyone
		{`[]`, []string{"pro"}, free, true},     // empty audienceConditions wins over audienceIds
		{``, []string{"pro", "ios"}, pro, true}, // audienceIds are or-ed
		{``, []string{"pro", "ios"}, free, false},
		{`["and", "pro", "adult"]`, nil, pro, true},
		{`["and", "pro", "adult"]`, nil, free, false},
		{`["or", "ios", ["not", "pro"]]`, nil, free, true},
		{`["not", "pro"]`, nil, none, false}, // no attributes: no value, so not qualified
		{`["or", "unknown-audience", "pro"]`, nil, pro, true},
		{`["and", "unknown-audience", "pro"]`, nil, pro, false},
		{`"pro"`, nil, pro, true},
	} {
		tree := parseAudienceTree(json.RawMessage(tc.conditions), tc.ids)
		assert.Equal(t, tc.want, evalAudiences(tree, audiences, tc.attrs), "%s %v", tc.conditions, tc.ids)
	}
}
