package experimentationexporter

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

func indentJSON(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	require.NoError(t, json.Indent(&out, b, "", "  "))
	out.WriteByte('\n')
	return out.Bytes()
}

// bodyOf converts ld and returns the request body carrying all of its events.
func bodyOf(t *testing.T, e *experimentationExporter, ld plog.Logs) []byte {
	t.Helper()
	req, err := e.convert(context.Background(), ld)
	require.NoError(t, err)
	b := req.(*eventBatch)
	return b.appendBody(nil, 0, len(b.Ends))
}

func TestGoldenPayloads(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		sfd    string
		record func(plog.LogRecord)
	}{
		{
			name:   "A/B impression with visitor attributes, user agent, bot filtering and an unknown attribute",
			golden: "optimizely_ab_impression.json",
			record: with(impression("user-123", "checkout_redesign", "checkout_redesign_ab", "treatment"), func(lr plog.LogRecord) {
				lr.Attributes().PutStr("experiment.rule.type", "feature-test")
				lr.Attributes().PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)")
				m := lr.Attributes().PutEmptyMap("experiment.visitor.attributes")
				m.PutStr("plan", "pro")
				m.PutInt("age", 34)
				m.PutBool("is_beta", true)
				m.PutStr("favorite_color", "green") // not in the datafile: dropped
				m.PutDouble("country", 1e300)       // beyond 2^53: dropped
			}),
		},
		{
			name:   "impression of an experiment in a mutually exclusive group",
			golden: "optimizely_group_impression.json",
			record: impression("user-7", "search_ranking", "search_ranking_v2", "learned_ranker"),
		},
		{
			name:   "rollout impression with send_flag_decisions on",
			golden: "optimizely_rollout_impression.json",
			sfd:    "true",
			record: impression("user-8", "free_shipping_banner", "free_shipping_50", "on"),
		},
		{
			name:   "holdout impression: ids as the JavaScript SDK 6.5+ sends them (campaign_id and entity_id the holdout id, variation_id null)",
			golden: "optimizely_holdout_impression.json",
			record: impression("user-9", "checkout_redesign", "global_holdout", "off"),
		},
		{
			name:   "conversion with integer revenue, float value and tags",
			golden: "optimizely_conversion.json",
			record: with(conversion("user-123", "purchase"), func(lr plog.LogRecord) {
				lr.Attributes().PutInt("experiment.revenue", 4200)
				lr.Attributes().PutDouble("experiment.value", 1.234)
				tags := lr.Attributes().PutEmptyMap("experiment.tags")
				tags.PutStr("category", "shoes")
				tags.PutInt("items", 2)
				m := lr.Attributes().PutEmptyMap("experiment.visitor.attributes")
				m.PutStr("plan", "pro")
				m.PutStr("$opt_user_agent", "curl/8.0")
			}),
		},
		{
			name:   "ids on the record skip the datafile lookup",
			golden: "optimizely_ids_impression.json",
			record: func(lr plog.LogRecord) {
				impression("user-4", "new_flag", "", "v2")(lr)
				lr.Attributes().Remove("experiment.rule.key")
				lr.Attributes().PutStr("experiment.id", "5550001")
				lr.Attributes().PutInt("experiment.variation.id", 5550003)
				lr.Attributes().PutBool("experiment.enabled", true)
			},
		},
		{
			name:   "fractional revenue: truncated in revenue, kept as given in tags (as the SDKs do)",
			golden: "optimizely_conversion_fractional_revenue.json",
			record: with(conversion("user-6", "purchase"), func(lr plog.LogRecord) {
				lr.Attributes().PutDouble("experiment.revenue", 42.99)
			}),
		},
		{
			name:   "an app's own $opt_bot_filtering is kept beside the datafile's",
			golden: "optimizely_app_bot_filtering.json",
			record: with(impression("user-10", "checkout_redesign", "checkout_redesign_ab", "control"), func(lr plog.LogRecord) {
				lr.Attributes().PutEmptyMap("experiment.visitor.attributes").PutBool("$opt_bot_filtering", false)
			}),
		},
		{
			name:   "event.id gives the uuid",
			golden: "optimizely_event_id.json",
			record: with(conversion("user-5", "signup"), func(lr plog.LogRecord) {
				lr.Attributes().PutStr("event.id", "6F9619FF-8B86-D011-B42D-00C04FC964FF")
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("http://127.0.0.1:1/v1/events")
			if tt.sfd != "" {
				cfg.Optimizely.SendFlagDecisions = tt.sfd
			}
			e := startedExporter(t, cfg)
			checkGolden(t, tt.golden, bodyOf(t, e, logsOf(tt.record)))
		})
	}
}

func TestRolloutDecisionNotSentWhenFlagDecisionsOff(t *testing.T) {
	for _, sfd := range []string{"auto", "false"} { // the fixture datafile has sendFlagDecisions false
		t.Run(sfd, func(t *testing.T) {
			cfg := testConfig("http://127.0.0.1:1/v1/events")
			cfg.Optimizely.SendFlagDecisions = sfd
			e := startedExporter(t, cfg)
			req, err := e.convert(context.Background(), logsOf(impression("user-8", "free_shipping_banner", "free_shipping_50", "on")))
			require.NoError(t, err)
			require.Equal(t, 0, req.ItemsCount())
		})
	}
}

func TestUUIDIsDeterministicPerRecord(t *testing.T) {
	e := startedExporter(t, testConfig("http://127.0.0.1:1/v1/events"))
	a := bodyOf(t, e, logsOf(impression("u1", "checkout_redesign", "checkout_redesign_ab", "control")))
	b := bodyOf(t, e, logsOf(impression("u1", "checkout_redesign", "checkout_redesign_ab", "control")))
	c := bodyOf(t, e, logsOf(impression("u2", "checkout_redesign", "checkout_redesign_ab", "control")))
	require.Equal(t, string(a), string(b))
	require.NotEqual(t, uuidsOf(t, a), uuidsOf(t, c))
}

// uuidsOf lists the event uuids of an EventBatch body.
func uuidsOf(t *testing.T, body []byte) []string {
	var batch struct {
		Visitors []struct {
			Snapshots []struct {
				Events []struct {
					UUID string `json:"uuid"`
				} `json:"events"`
			} `json:"snapshots"`
		} `json:"visitors"`
	}
	require.NoError(t, json.Unmarshal(body, &batch))
	var out []string
	for _, v := range batch.Visitors {
		for _, s := range v.Snapshots {
			for _, ev := range s.Events {
				out = append(out, ev.UUID)
			}
		}
	}
	return out
}

func jsonValid(b []byte) bool { return json.Valid(b) }
