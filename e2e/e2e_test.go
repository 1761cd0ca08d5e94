//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
	"github.com/experimentationexporter/experimentationexporter/internal/harness"
)

func TestEndToEnd(t *testing.T) {
	e := newEnv(t, options{batchSize: 50})
	e.emit(0, 500, true)
	uuids := e.waitEvents(1000, time.Minute)
	assert.Len(t, uuids, 1000)
	assert.Zero(t, duplicates(uuids), "every event exactly once")
	st := e.api.Stats()
	assert.Equal(t, 500, st.Impressions)
	assert.Equal(t, 500, st.Conversions)

	type event struct {
		EntityID string `json:"entity_id"`
		Key      string `json:"key"`
		Revenue  *int   `json:"revenue"`
	}
	type batch struct {
		AccountID string `json:"account_id"`
		Revision  string `json:"revision"`
		Visitors  []struct {
			ID        string `json:"visitor_id"`
			Snapshots []struct {
				Decisions []struct {
					CampaignID string `json:"campaign_id"`
					Metadata   struct {
						VariationKey string `json:"variation_key"`
					} `json:"metadata"`
				} `json:"decisions"`
				Events []event `json:"events"`
			} `json:"snapshots"`
		} `json:"visitors"`
	}
	checked := 0
	for _, r := range e.api.Accepted() {
		var b batch
		require.NoError(t, json.Unmarshal(r.Body, &b))
		assert.Equal(t, "21537940595", b.AccountID)
		assert.Equal(t, "131", b.Revision)
		assert.LessOrEqual(t, len(b.Visitors), 50)
		for _, v := range b.Visitors {
			i, err := strconv.Atoi(strings.TrimPrefix(v.ID, "user-"))
			require.NoError(t, err)
			s := v.Snapshots[0]
			if len(s.Decisions) == 1 {
				assert.Equal(t, "9300000005001", s.Decisions[0].CampaignID)
				assert.Equal(t, harness.Variation(i), s.Decisions[0].Metadata.VariationKey)
			} else {
				require.NotNil(t, s.Events[0].Revenue)
				assert.Equal(t, "purchase", s.Events[0].Key)
				assert.Equal(t, 1000+i, *s.Events[0].Revenue)
			}
			checked++
		}
	}
	assert.Equal(t, 1000, checked)
}

func TestCrashWithPersistentQueue(t *testing.T) {
	e := newEnv(t, options{batchSize: 100, persistent: true})
	var down atomic.Bool
	down.Store(true)
	e.api.SetFault(func(*http.Request, []byte) *eventsapi.Step {
		if down.Load() {
			return &eventsapi.Step{Status: http.StatusServiceUnavailable}
		}
		return nil
	})
	e.emit(0, 2500, true) // 5000 events, accepted by the collector into its file_storage queue
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, e.collector.Kill()) // kill -9 mid-stream: nothing was delivered yet
	assert.Zero(t, e.api.Stats().Accepted)

	require.NoError(t, e.collector.Start(30*time.Second)) // same config, same queue directory
	down.Store(false)
	uuids := e.waitEvents(5000, 2*time.Minute)
	assert.Len(t, uuids, 5000)
	t.Logf("duplicates after kill -9 (same uuid, removed by the Event API's dedup): %d", duplicates(uuids))
}

func TestOutageRecovery(t *testing.T) {
	e := newEnv(t, options{batchSize: 100})
	recoverAt := time.Now().Add(3 * time.Second)
	e.api.SetFault(func(*http.Request, []byte) *eventsapi.Step {
		if time.Now().Before(recoverAt) {
			return &eventsapi.Step{Status: http.StatusServiceUnavailable}
		}
		return nil
	})
	var peak int64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, rss, err := harness.ProcStats(e.collector.Pid()); err == nil && rss > peak {
					peak = rss
				}
			}
		}
	}()
	e.emit(0, 10000, true) // 20,000 events during the outage
	uuids := e.waitEvents(20000, 2*time.Minute)
	close(stop)
	assert.Len(t, uuids, 20000)
	assert.Zero(t, duplicates(uuids))
	t.Logf("collector peak RSS during the outage: %d MiB", peak/1024)
	// queue_size 100000 events of ~1 KiB bound the queue near 100 MiB.
	assert.Less(t, peak/1024, int64(500))
}

func TestBurst(t *testing.T) {
	for _, size := range []int{10, 500} {
		t.Run(fmt.Sprintf("batch_size=%d", size), func(t *testing.T) {
			o := options{batchSize: size}
			if size == 10 {
				o.consumers = 32 // 20,000 requests: more in flight
			}
			e := newEnv(t, o)
			start := time.Now()
			e.emit(0, 200000, false)
			uuids := e.waitEvents(200000, 5*time.Minute)
			assert.Len(t, uuids, 200000, "nothing of the burst is lost")
			t.Logf("batch_size %d: 200000 events in %s (%d requests)", size, time.Since(start).Round(time.Millisecond), e.api.Stats().Accepted)
		})
	}
}

func TestMetricsEndpoint(t *testing.T) {
	port, err := harness.FreePort()
	require.NoError(t, err)
	e := newEnv(t, options{batchSize: 10, metricsPort: port})
	ctx := context.Background()
	em, err := harness.NewEmitter(ctx, e.otlp, 100)
	require.NoError(t, err)
	now := time.Now()
	for i := 0; i < 20; i++ {
		em.Impression(ctx, i, now)
	}
	em.Invalid(ctx, now)
	em.Plain(ctx, "not an event")
	require.NoError(t, em.Shutdown(ctx))
	e.waitEvents(20, time.Minute)

	var body string
	require.True(t, harness.WaitFor(ctx, 30*time.Second, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return strings.Contains(body, "otelcol_exporter_experimentation_requests")
	}), "metrics endpoint")
	// Names as the collector's Prometheus endpoint shows them (counters without _total).
	var missing []string
	for _, want := range []string{
		`otelcol_exporter_experimentation_events_built{event_type="impression"} 20`,
		`otelcol_exporter_experimentation_events_dropped{reason="unknown_flag"} 1`,
		`otelcol_exporter_experimentation_records_skipped{reason="not_an_event"} 1`,
		`otelcol_exporter_experimentation_requests{status_class="2xx"}`,
		`otelcol_exporter_experimentation_request_bytes_bucket`,
		`otelcol_exporter_experimentation_request_events_sum 20`,
	} {
		if !strings.Contains(body, want) {
			missing = append(missing, want)
		}
	}
	assert.Empty(t, missing)
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
}
