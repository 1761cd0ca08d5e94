package experimentationexporter

import (
	"context"
	"encoding/json"
	"github.com/experimentationexporter/experimentationexporter/internal/vwo"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
)

const vwoKey = "VwoSdkKeySecret99"

func vwoConfig(srv *eventsapi.Server) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Destination = DestinationVWO
	cfg.BatchSize = vwo.DefaultBatchSize
	cfg.FlushInterval = vwo.DefaultFlushInterval
	cfg.Endpoint = srv.URL() + "/server-side/batch-events"
	cfg.VWO.AccountID = 12345
	cfg.VWO.SDKKey = vwoKey
	cfg.VWO.SettingsFilePath = "testdata/vwo_settings.json"
	cfg.RetryConfig.InitialInterval = 10 * time.Millisecond
	return cfg
}

func vwoImpression(user string, campaign, variation int64) func(plog.LogRecord) {
	return func(lr plog.LogRecord) {
		lr.SetEventName("feature_flag.evaluation")
		lr.SetTimestamp(1763900000123000000)
		lr.Attributes().PutStr("user.id", user)
		lr.Attributes().PutInt("experiment.campaign.id", campaign)
		lr.Attributes().PutInt("experiment.variation.id", variation)
		lr.Attributes().PutStr("user_agent.original", "demo/1.0")
		lr.Attributes().PutStr("client.address", "203.0.113.7")
	}
}

func TestVWODeliversToTheReplica(t *testing.T) {
	srv := replica(t)
	cfg := vwoConfig(srv)
	cfg.BatchSize = 3
	cfg.VWO.PushCustomDimensions = true
	require.NoError(t, cfg.Validate())
	exp := startLogs(t, cfg)
	conv := func(lr plog.LogRecord) {
		vwoImpression("Alice", 7, 2)(lr)
		lr.SetEventName("experiment.conversion")
		lr.Attributes().PutInt("experiment.goal.id", 3)
		lr.Attributes().PutInt("experiment.revenue", 4200)
		lr.Attributes().PutEmptyMap("experiment.visitor.attributes").PutStr("plan", "pro")
	}
	require.NoError(t, exp.ConsumeLogs(context.Background(), logsOf(
		vwoImpression("Varun", 7, 1), conv,
		func(lr plog.LogRecord) {
			vwoImpression("nobody", 7, 1)(lr)
			lr.Attributes().Remove("experiment.campaign.id")
		},
	)))
	require.NoError(t, exp.Shutdown(context.Background()))

	reqs := srv.Accepted()
	require.Len(t, reqs, 1, "impression, conversion and one custom dimension: 3 events, one request")
	r := reqs[0]
	assert.Equal(t, vwoKey, r.Header.Get("Authorization"))
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Equal(t, "12345", r.Query.Get("a"))
	assert.Equal(t, vwoKey, r.Query.Get("env"))
	assert.Equal(t, clientName, r.Query.Get("sdk"))
	assert.Equal(t, clientVersion, r.Query.Get("sdk-v"))
	var body struct {
		Ev []map[string]any `json:"ev"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &body))
	require.Len(t, body.Ev, 3)
	assert.Equal(t, float64(1), body.Ev[0]["eT"])
	assert.Equal(t, "C4D95C097902569F9A2D2E87CD3201C8", body.Ev[0]["u"], "the uuid vector for Varun, account 12345")
	assert.Equal(t, float64(2), body.Ev[1]["eT"])
	assert.Equal(t, float64(4200), body.Ev[1]["r"])
	assert.Equal(t, float64(3), body.Ev[2]["eT"])
	assert.Equal(t, float64(1763900000), body.Ev[0]["sId"])
	assert.Equal(t, "203.0.113.7", body.Ev[0]["visitor_ip"])
}

func TestVWOStatusHandling(t *testing.T) {
	srv := replica(t)
	srv.Script(
		eventsapi.Step{Status: http.StatusRequestEntityTooLarge},
		eventsapi.Step{Status: http.StatusTooManyRequests, RetryAfter: "1"},
	)
	cfg := vwoConfig(srv)
	cfg.BatchSize = 4
	exp := startLogs(t, cfg)
	require.NoError(t, exp.ConsumeLogs(context.Background(), logsOf(
		vwoImpression("a", 1, 1), vwoImpression("b", 1, 1), vwoImpression("c", 1, 2), vwoImpression("d", 1, 2))))
	require.NoError(t, exp.Shutdown(context.Background()))
	// 413 splits 4 into 2+2; the first half meets a 429; the retry resends the 4
	// events none of which was accepted yet.
	var statuses, sizes []int
	for _, r := range srv.Requests() {
		var body struct {
			Ev []json.RawMessage `json:"ev"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &body))
		statuses = append(statuses, r.Status)
		sizes = append(sizes, len(body.Ev))
	}
	assert.Equal(t, []int{413, 429, 200}, statuses)
	assert.Equal(t, []int{4, 2, 4}, sizes)
	assert.Equal(t, 4, srv.Stats().Events)
}

// TestVWOGoldenFromKeysAndNames: records carrying only keys and names (an OpenFeature
// evaluation of a VWO flag, a conversion with a goal identifier), resolved through the
// settings file: two campaigns (A/B and feature test), a revenue and a custom goal.
func TestVWOGoldenFromKeysAndNames(t *testing.T) {
	cfg := vwoConfig(replica(t))
	cfg.VWO.PushCustomDimensions = true
	e := startedExporter(t, cfg)
	rec := func(kind, user, flag, variant string, attrs map[string]any) func(plog.LogRecord) {
		return func(lr plog.LogRecord) {
			lr.SetEventName(kind)
			lr.SetTimestamp(1763900000123000000)
			_ = lr.Attributes().FromRaw(attrs)
			lr.Attributes().PutStr("feature_flag.context.id", user)
			lr.Attributes().PutStr("feature_flag.key", flag)
			lr.Attributes().PutStr("feature_flag.result.variant", variant)
		}
	}
	dims := map[string]any{"experiment.visitor.attributes": map[string]any{"plan": "pro"}}
	body := bodyOf(t, e, logsOf(
		rec("feature_flag.evaluation", "Varun", "homepage-cta", "Variation-1", dims),
		rec("feature_flag.evaluation", "Varun", "new-checkout", "Control", dims), // same dimension: not pushed again
		rec("experiment.conversion", "Varun", "homepage-cta", "Variation-1", map[string]any{"experiment.event.key": "purchase", "experiment.revenue": 42.5}),
		rec("experiment.conversion", "Alice", "new-checkout", "Variation-1", map[string]any{"experiment.event.key": "checkout-complete", "experiment.revenue": "19.99"}),
		rec("experiment.conversion", "Alice", "homepage-cta", "Control", map[string]any{"experiment.event.key": "signup", "experiment.revenue": 5}),
		rec("feature_flag.evaluation", "Alice", "paused-banner", "Control", nil), // not running: skipped
	))
	checkGolden(t, "vwo_keys_and_names.json", body)
}

// With no settings_file_path the settings file is polled like the SDKs fetch it; records
// of keys and names wait in the queue until it arrives, then go out resolved.
func TestVWOSettingsPolledAndRecordsWait(t *testing.T) {
	srv := replica(t)
	settings, err := os.ReadFile("testdata/vwo_settings.json")
	require.NoError(t, err)
	var mu sync.Mutex
	down := true
	var queries []url.Values
	cdnSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		queries = append(queries, r.URL.Query())
		if down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(settings)
	}))
	defer cdnSrv.Close()

	cfg := vwoConfig(srv)
	cfg.VWO.SettingsFilePath = ""
	cfg.VWO.SettingsURL = cdnSrv.URL + "/server-side/settings"
	cfg.VWO.PollingInterval = time.Second
	cfg.BatchSize = 2
	cfg.FlushInterval = 50 * time.Millisecond
	require.NoError(t, cfg.Validate())
	exp := startLogs(t, cfg)
	hook := func(user, variant string) func(plog.LogRecord) {
		return func(lr plog.LogRecord) {
			lr.SetEventName("feature_flag.evaluation")
			lr.SetTimestamp(1763900000123000000)
			lr.Attributes().PutStr("feature_flag.key", "homepage-cta")
			lr.Attributes().PutStr("feature_flag.result.variant", variant)
			lr.Attributes().PutStr("feature_flag.context.id", user)
		}
	}
	require.NoError(t, exp.ConsumeLogs(context.Background(), logsOf(hook("Varun", "Control"), hook("Alice", "Variation-1"))))
	time.Sleep(300 * time.Millisecond)
	assert.Empty(t, srv.Requests(), "nothing can be resolved before the settings file arrives")

	mu.Lock()
	down = false
	mu.Unlock()
	require.Eventually(t, func() bool { return srv.Stats().Impressions == 2 }, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, exp.Shutdown(context.Background()))

	var body struct {
		Ev []struct{ E, C int } `json:"ev"`
	}
	require.NoError(t, json.Unmarshal(srv.Accepted()[0].Body, &body))
	assert.Equal(t, []struct{ E, C int }{{7, 1}, {7, 2}}, body.Ev)
	mu.Lock()
	defer mu.Unlock()
	q := queries[0]
	assert.Equal(t, "12345", q.Get("a"))
	assert.Equal(t, vwoKey, q.Get("i"))
	assert.Equal(t, "server", q.Get("platform"))
	assert.Equal(t, clientName, q.Get("sdk"))
}
