package vwo

import (
	"encoding/json"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/experimentationexporter/experimentationexporter/internal/reason"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestVisitorUUIDVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/uuid_vectors.json")
	require.NoError(t, err)
	var fx struct {
		AccountID string `json:"account_id"`
		Vectors   []struct {
			UserID string `json:"user_id"`
			UUID   string `json:"uuid"`
		} `json:"vectors"`
	}
	require.NoError(t, json.Unmarshal(data, &fx))
	require.Equal(t, "12345", fx.AccountID)
	require.NotEmpty(t, fx.Vectors)
	for _, v := range fx.Vectors {
		assert.Equal(t, v.UUID, VisitorUUID(12345, v.UserID), v.UserID)
	}
}

func fieldsOf(fn func(lr plog.LogRecord)) *record.Fields {
	lr := plog.NewLogs().ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(1763900000123000000)
	fn(lr)
	var f record.Fields
	record.NewReader(record.DefaultMapping()).Read(lr, &f)
	return &f
}

func impression(lr plog.LogRecord) {
	lr.SetEventName("feature_flag.evaluation")
	lr.Attributes().PutStr("user.id", "Varun")
	lr.Attributes().PutInt("experiment.campaign.id", 42)
	lr.Attributes().PutStr("experiment.variation.id", "2")
	lr.Attributes().PutStr("user_agent.original", "Mozilla/5.0")
	lr.Attributes().PutStr("client.address", "203.0.113.7")
}

func conversion(lr plog.LogRecord) {
	impression(lr)
	lr.SetEventName("experiment.conversion")
	lr.Attributes().PutInt("experiment.goal.id", 7)
	lr.Attributes().PutDouble("experiment.revenue", 12.5)
}

// eventsJSON wraps appended events into a JSON array for comparison.
func eventsJSON(dst []byte, ends []int) string {
	var parts []string
	prev := 0
	for _, e := range ends {
		parts = append(parts, string(dst[prev:e]))
		prev = e
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestGolden(t *testing.T) {
	for _, tt := range []struct {
		golden string
		push   bool
		record func(plog.LogRecord)
	}{
		{"vwo_impression.json", false, impression},
		{"vwo_conversion.json", false, conversion},
		{"vwo_custom_dimensions.json", true, func(lr plog.LogRecord) {
			impression(lr)
			lr.Attributes().Remove("client.address")
			m := lr.Attributes().PutEmptyMap("experiment.visitor.attributes")
			m.PutStr("plan", "pro plus")
			m.PutBool("beta", true)
			m.PutEmptyMap("nested") // not a dimension value: skipped
		}},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			dst, ends, v, reason := NewBuilder(12345, tt.push, nil).Append(nil, nil, fieldsOf(tt.record))
			require.Equal(t, record.Built, v, reason)
			got := eventsJSON(dst, ends)
			path := filepath.Join("..", "..", "testdata", "golden", tt.golden)
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(got+"\n"), 0o600))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.JSONEq(t, string(want), got)
		})
	}
}

func TestCustomDimensionEncoding(t *testing.T) {
	dst, ends, _, _ := NewBuilder(12345, true, nil).Append(nil, nil, fieldsOf(func(lr plog.LogRecord) {
		impression(lr)
		m := lr.Attributes().PutEmptyMap("experiment.visitor.attributes")
		m.PutStr("plan", "pro plus")
		m.PutStr("long", strings.Repeat("é", 300))
	}))
	require.Len(t, ends, 3)
	var events []struct {
		T string `json:"t"`
	}
	require.NoError(t, json.Unmarshal([]byte(eventsJSON(dst, ends)), &events))
	plain, err := url.QueryUnescape(events[1].T)
	require.NoError(t, err)
	assert.Equal(t, `{"u":{"plan":"pro plus"}}`, plain)
	assert.NotContains(t, events[1].T, "+", "spaces are %20, as encodeURIComponent writes them")
	long, err := url.QueryUnescape(events[2].T)
	require.NoError(t, err)
	var u struct {
		U map[string]string `json:"u"`
	}
	require.NoError(t, json.Unmarshal([]byte(long), &u))
	assert.Equal(t, 255, len([]rune(u.U["long"])))
}

func TestDrops(t *testing.T) {
	for _, tt := range []struct {
		name   string
		edit   func(lr plog.LogRecord)
		reason string
	}{
		{"no visitor", func(lr plog.LogRecord) { lr.Attributes().Remove("user.id") }, reason.MissingVisitorID},
		{"no timestamp", func(lr plog.LogRecord) { lr.SetTimestamp(0) }, reason.MissingTimestamp},
		{"no campaign", func(lr plog.LogRecord) { lr.Attributes().Remove("experiment.campaign.id") }, reason.MissingCampaignID},
		{"non-numeric campaign", func(lr plog.LogRecord) { lr.Attributes().PutStr("experiment.campaign.id", "abc") }, reason.MissingCampaignID},
		{"no variation", func(lr plog.LogRecord) { lr.Attributes().Remove("experiment.variation.id") }, reason.MissingVariationID},
		{"no goal", func(lr plog.LogRecord) { lr.Attributes().Remove("experiment.goal.id") }, reason.MissingGoalID},
		{"non-numeric string revenue", func(lr plog.LogRecord) { lr.Attributes().PutStr("experiment.revenue", "lots") }, reason.InvalidRevenue},
		{"map revenue", func(lr plog.LogRecord) { lr.Attributes().PutEmptyMap("experiment.revenue") }, reason.InvalidRevenue},
		{"not an event", func(lr plog.LogRecord) { lr.SetEventName("x") }, reason.NotAnEvent},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("kept")
			dst, ends, v, reason := NewBuilder(12345, true, nil).Append(prefix, []int{4}, fieldsOf(func(lr plog.LogRecord) { conversion(lr); tt.edit(lr) }))
			assert.NotEqual(t, record.Built, v)
			assert.Equal(t, tt.reason, reason)
			assert.Equal(t, "kept", string(dst))
			assert.Equal(t, []int{4}, ends)
		})
	}
}

func TestStringIDsBecomeJSONNumbers(t *testing.T) {
	dst, ends, v, _ := NewBuilder(12345, false, nil).Append(nil, nil, fieldsOf(func(lr plog.LogRecord) {
		impression(lr)
		lr.Attributes().PutStr("experiment.campaign.id", "007")
		lr.Attributes().PutStr("experiment.variation.id", "00")
	}))
	require.Equal(t, record.Built, v)
	var events []struct{ E, C int }
	require.NoError(t, json.Unmarshal([]byte(eventsJSON(dst, ends)), &events), "found by FuzzConvert: \"e\":00 is not JSON")
	assert.Equal(t, 7, events[0].E)
	assert.Equal(t, 0, events[0].C)
}

func TestURLAndQuery(t *testing.T) {
	assert.Equal(t, "https://dev.visualwebsiteoptimizer.com/server-side/batch-events", EventsURL(""))
	assert.Equal(t, "https://dev.visualwebsiteoptimizer.com/eu01/server-side/batch-events", EventsURL("eu01"))
	assert.Equal(t, "a=12345&sdk=my%20sdk&sdk-v=1.0", Query(12345, "my sdk", "1.0"))
}

func BenchmarkAppend(b *testing.B) {
	f := fieldsOf(impression)
	bl := NewBuilder(12345, false, nil)
	dst := make([]byte, 0, 4096)
	ends := make([]int, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		dst, ends, _, _ = bl.Append(dst[:0], ends[:0], f)
	}
}

func loadSettings(t *testing.T) *Settings {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vwo_settings.json"))
	require.NoError(t, err)
	s, err := ParseSettings(data)
	require.NoError(t, err)
	return s
}

// keyed is what a VWO app (or an OpenFeature hook) knows: keys and names, no ids.
func keyed(kind, user, campaign, variation string, attrs map[string]any) *record.Fields {
	return fieldsOf(func(lr plog.LogRecord) {
		lr.SetEventName(kind)
		lr.SetTimestamp(1763900000123000000)
		_ = lr.Attributes().FromRaw(attrs)
		lr.Attributes().PutStr("feature_flag.context.id", user)
		if campaign != "" {
			lr.Attributes().PutStr("feature_flag.key", campaign)
		}
		if variation != "" {
			lr.Attributes().PutStr("feature_flag.result.variant", variation)
		}
	})
}

func TestKeysAndNamesResolveThroughTheSettingsFile(t *testing.T) {
	b := NewBuilder(12345, false, loadSettings(t))
	for _, tt := range []struct {
		name   string
		f      *record.Fields
		want   string // the event, or "" when none
		reason string
	}{
		{"impression by flag key", keyed("feature_flag.evaluation", "Varun", "homepage-cta", "Variation-1", nil),
			`{"eT":1,"e":7,"c":2,"u":"C4D95C097902569F9A2D2E87CD3201C8","sId":1763900000}`, ""},
		{"campaign key wins over flag key", keyed("feature_flag.evaluation", "Varun", "some-flag", "Control", map[string]any{"experiment.campaign.key": "new-checkout"}),
			`{"eT":1,"e":8,"c":1,"u":"C4D95C097902569F9A2D2E87CD3201C8","sId":1763900000}`, ""},
		{"explicit ids win", keyed("feature_flag.evaluation", "Varun", "homepage-cta", "Control", map[string]any{"experiment.campaign.id": 8, "experiment.variation.id": 2}),
			`{"eT":1,"e":8,"c":2,"u":"C4D95C097902569F9A2D2E87CD3201C8","sId":1763900000}`, ""},
		{"revenue goal: r as a number", keyed("experiment.conversion", "Varun", "homepage-cta", "Control", map[string]any{"experiment.event.key": "purchase", "experiment.revenue": "42.50"}),
			`{"eT":2,"e":7,"c":1,"g":3,"r":42.5,"u":"C4D95C097902569F9A2D2E87CD3201C8","sId":1763900000}`, ""},
		// The Node SDK refuses a revenue goal with a falsy revenue (track.js:407); "0" is a
		// truthy string, sent.
		{"revenue goal, zero revenue: refused", keyed("experiment.conversion", "Varun", "homepage-cta", "Control", map[string]any{"experiment.event.key": "purchase", "experiment.revenue": 0}), "", reason.MissingRevenue},
		{"revenue goal, revenue \"0\": r 0", keyed("experiment.conversion", "Varun", "homepage-cta", "Control", map[string]any{"experiment.event.key": "purchase", "experiment.revenue": "0"}),
			`{"eT":2,"e":7,"c":1,"g":3,"r":0,"u":"C4D95C097902569F9A2D2E87CD3201C8","sId":1763900000}`, ""},
		{"custom goal: no r", keyed("experiment.conversion", "Varun", "homepage-cta", "Control", map[string]any{"experiment.event.key": "signup", "experiment.revenue": 100}),
			`{"eT":2,"e":7,"c":1,"g":4,"u":"C4D95C097902569F9A2D2E87CD3201C8","sId":1763900000}`, ""},
		{"user agent and ip only when given", keyed("feature_flag.evaluation", "Varun", "homepage-cta", "Control", map[string]any{"user_agent.original": "Mozilla/5.0", "client.address": "203.0.113.7"}),
			`{"eT":1,"e":7,"c":1,"u":"C4D95C097902569F9A2D2E87CD3201C8","sId":1763900000,"visitor_ua":"Mozilla/5.0","visitor_ip":"203.0.113.7"}`, ""},
		{"unknown campaign", keyed("feature_flag.evaluation", "Varun", "nope", "Control", nil), "", reason.UnknownCampaign},
		{"unknown variation", keyed("feature_flag.evaluation", "Varun", "homepage-cta", "Variation-9", nil), "", reason.UnknownVariation},
		{"revenue goal without revenue (the SDKs refuse the call)", keyed("experiment.conversion", "Varun", "homepage-cta", "Control", map[string]any{"experiment.event.key": "purchase"}), "", reason.MissingRevenue},
		{"unknown goal", keyed("experiment.conversion", "Varun", "homepage-cta", "Control", map[string]any{"experiment.event.key": "refund"}), "", reason.UnknownGoal},
		{"paused campaign", keyed("feature_flag.evaluation", "Varun", "paused-banner", "Control", nil), "", reason.CampaignNotRunning},
		{"no variant", keyed("feature_flag.evaluation", "Varun", "homepage-cta", "", nil), "", reason.NoVariant},
		// track() names no variation: the SDKs bucket the visitor (vwo-node-sdk 1.73.0 puts
		// Varun in Control, Ashley in Variation-1 of homepage-cta).
		{"conversion without a variation: the SDKs' variation", keyed("experiment.conversion", "Varun", "homepage-cta", "", map[string]any{"experiment.event.key": "purchase", "experiment.revenue": 10}),
			`{"eT":2,"e":7,"c":1,"g":3,"r":10,"u":"C4D95C097902569F9A2D2E87CD3201C8","sId":1763900000}`, ""},
		{"conversion without a variation, other visitor", keyed("experiment.conversion", "Ashley", "homepage-cta", "", map[string]any{"experiment.event.key": "signup"}),
			`{"eT":2,"e":7,"c":2,"g":4,"u":"` + VisitorUUID(12345, "Ashley") + `","sId":1763900000}`, ""},
		{"conversion without a variation nor revenue for a revenue goal", keyed("experiment.conversion", "Varun", "homepage-cta", "", map[string]any{"experiment.event.key": "purchase"}), "", reason.MissingRevenue},
		// track([keys], …): the listed campaigns only; goalTypeToTrack leaves other goal types out.
		{"track([keys]): only listed campaigns with the goal", keyed("experiment.conversion", "Varun", "", "", map[string]any{"experiment.event.key": "signup", "experiment.campaign.key": []any{"new-checkout", "homepage-cta"}}),
			`{"eT":2,"e":7,"c":1,"g":4,"u":"C4D95C097902569F9A2D2E87CD3201C8","sId":1763900000}`, ""},
		{"goalTypeToTrack leaves a revenue goal out", keyed("experiment.conversion", "Varun", "homepage-cta", "", map[string]any{"experiment.event.key": "purchase", "experiment.revenue": 10, "experiment.goal.type": "CUSTOM_GOAL"}), "", reason.GoalTypeNotTracked},
		{"goalTypeToTrack the SDKs do not know", keyed("experiment.conversion", "Varun", "homepage-cta", "", map[string]any{"experiment.event.key": "purchase", "experiment.revenue": 10, "experiment.goal.type": "SOME"}), "", reason.InvalidGoalType},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dst, ends, v, reason := b.Append(nil, nil, tt.f)
			assert.Equal(t, tt.reason, reason)
			if tt.want == "" {
				assert.NotEqual(t, record.Built, v)
				assert.Empty(t, dst)
				return
			}
			require.Equal(t, record.Built, v)
			require.Len(t, ends, 1)
			assert.Equal(t, tt.want, string(dst))
		})
	}
}

// A visitor's custom dimension goes out once per batch, however many records carry it.
func TestCustomDimensionsOncePerBatch(t *testing.T) {
	b := NewBuilder(12345, true, loadSettings(t))
	pushed := Pushed{}
	var dst []byte
	var ends []int
	attrs := map[string]any{"experiment.visitor.attributes": map[string]any{"plan": "pro", "country": "DE"}}
	for _, user := range []string{"Varun", "Varun", "Alice"} {
		var v record.Verdict
		dst, ends, v, _ = b.AppendPushed(dst, ends, keyed("feature_flag.evaluation", user, "homepage-cta", "Control", attrs), pushed)
		require.Equal(t, record.Built, v)
	}
	// 3 impressions + 2 pushes for Varun + 2 for Alice.
	assert.Len(t, ends, 7)
	assert.Equal(t, 4, strings.Count(string(dst), `"eT":3`))
	assert.NotContains(t, string(dst), "visitor_ua")
}
