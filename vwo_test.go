package experimentationexporter

import (
	"context"
	"encoding/json"
	"net/http"
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
	cfg.BatchSize = vwoBatchSize
	cfg.FlushInterval = vwoFlushInterval
	cfg.Endpoint = srv.URL() + "/server-side/batch-events"
	cfg.VWO.AccountID = 12345
	cfg.VWO.SDKKey = vwoKey
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
