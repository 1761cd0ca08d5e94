//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
	"github.com/experimentationexporter/experimentationexporter/testbed/harness"
)

// TestExampleConfigs checks that the shipped example configs pass the collector's validate.
func TestExampleConfigs(t *testing.T) {
	bin := binary(t)
	for name, env := range map[string][]string{
		"demo.yaml": {"OTLP_ENDPOINT=127.0.0.1:4318", "EVENTS_ENDPOINT=http://127.0.0.1:4380/v1/events",
			"DATAFILE_PATH=" + repoPath(t, "testdata/datafile.json")},
		"production.yaml": {"OPTIMIZELY_SDK_KEY=x"},
	} {
		cmd := exec.Command(bin, "validate", "--config", repoPath(t, "examples/"+name))
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "%s: %s", name, out)
	}
}

func TestEndToEnd(t *testing.T) {
	const users = 500
	e := newEnv(t, options{batchSize: 50})
	e.emit(0, users, true)
	uuids := e.waitEvents(2*users, time.Minute)
	n, some := missing(uuids, wantIDs(0, users, true))
	assert.Zero(t, n, "missing uuids, e.g. %v", some)
	assert.Len(t, uuids, 2*users, "no uuid the app did not send")
	for id, c := range uuids {
		if c != 1 {
			t.Errorf("uuid %s arrived %d times", id, c)
		}
	}
	st := e.api.Stats()
	assert.Equal(t, users, st.Impressions)
	assert.Equal(t, users, st.Conversions)
	assert.Zero(t, st.Rejected)

	type batch struct {
		AccountID string `json:"account_id"`
		Revision  string `json:"revision"`
		Visitors  []struct {
			ID        string `json:"visitor_id"`
			Snapshots []struct {
				Decisions []struct {
					CampaignID string `json:"campaign_id"`
					Metadata   struct {
						FlagKey      string `json:"flag_key"`
						VariationKey string `json:"variation_key"`
					} `json:"metadata"`
				} `json:"decisions"`
				Events []struct {
					UUID    string `json:"uuid"`
					Key     string `json:"key"`
					Revenue *int   `json:"revenue"`
				} `json:"events"`
			} `json:"snapshots"`
		} `json:"visitors"`
	}
	checked := 0
	for _, r := range e.api.Accepted() {
		var b batch
		require.NoError(t, json.Unmarshal(r.Body, &b))
		assert.Equal(t, "21537940595", b.AccountID)
		assert.Equal(t, "131", b.Revision)
		assert.LessOrEqual(t, len(b.Visitors), 50, "batch_size 50")
		for _, v := range b.Visitors {
			i, err := strconv.Atoi(strings.TrimPrefix(v.ID, "user-"))
			require.NoError(t, err, v.ID)
			require.Len(t, v.Snapshots, 1)
			s := v.Snapshots[0]
			require.Len(t, s.Events, 1)
			if len(s.Decisions) == 1 { // an impression
				assert.Equal(t, "9300000005001", s.Decisions[0].CampaignID)
				assert.Equal(t, "checkout_redesign", s.Decisions[0].Metadata.FlagKey)
				assert.Equal(t, harness.Variation(i), s.Decisions[0].Metadata.VariationKey, "user %d", i)
				assert.Equal(t, harness.ImpressionID(i), s.Events[0].UUID)
			} else { // a conversion
				assert.Equal(t, "purchase", s.Events[0].Key)
				if assert.NotNil(t, s.Events[0].Revenue) {
					assert.Equal(t, 1000+i, *s.Events[0].Revenue, "user %d", i)
				}
				assert.Equal(t, harness.ConversionID(i), s.Events[0].UUID)
			}
			checked++
		}
	}
	assert.Equal(t, 2*users, checked)
}

// TestCrashWithPersistentQueue kills the collector with SIGKILL twice: first while the
// events API is down and the whole burst sits in the file_storage queue, then while the
// queue is being delivered. After the last restart every event arrives; a duplicate is
// only ever the same uuid again (removed by the Event API's dedup).
func TestCrashWithPersistentQueue(t *testing.T) {
	const users = 2500 // an impression and a conversion each: 5000 events
	e := newEnv(t, options{batchSize: 100, persistent: true})
	const (
		down = iota
		slow
		up
	)
	var mode atomic.Int32 // starts down
	e.api.SetFault(func(*http.Request, []byte) *eventsapi.Step {
		switch mode.Load() {
		case down:
			return &eventsapi.Step{Status: http.StatusServiceUnavailable}
		case slow: // accepted after a delay, so a kill finds requests in flight
			return &eventsapi.Step{Delay: 100 * time.Millisecond}
		}
		return nil
	})
	e.emit(0, users, true) // returns when the collector acknowledged every OTLP request
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, e.collector.Kill()) // kill -9 while retrying 503s
	st := e.api.Stats()
	require.Zero(t, st.Accepted)
	require.NotZero(t, st.Rejected, "the exporter tried to send before the kill")

	// Restart on the same queue directory; the API accepts slowly; kill -9 mid-delivery.
	mode.Store(slow)
	require.NoError(t, e.collector.Start(30*time.Second))
	harness.WaitFor(context.Background(), time.Minute, func() bool { return len(e.api.UUIDs()) >= 1500 })
	require.NoError(t, e.collector.Kill())
	delivered := len(e.api.UUIDs())
	t.Logf("second kill -9 after %d of %d events were delivered", delivered, 2*users)
	if delivered == 2*users {
		t.Log("everything was delivered before the second kill; it did not hit the queue mid-stream")
	}

	// Restart again; the API is healthy.
	mode.Store(up)
	require.NoError(t, e.collector.Start(30*time.Second))
	uuids := e.waitEvents(2*users, 2*time.Minute)
	n, some := missing(uuids, wantIDs(0, users, true))
	assert.Zero(t, n, "lost events, e.g. %v", some)
	assert.Len(t, uuids, 2*users, "no uuid the app did not send")
	t.Logf("duplicates after two kill -9 (same uuid, removed by the Event API's dedup): %d", duplicates(uuids))
}

// TestOutageRecovery holds a burst in the in-memory queue while the API answers 503, then
// delivers it when the API recovers, with the collector's memory bounded by the queue.
func TestOutageRecovery(t *testing.T) {
	const (
		users     = 10000 // 20,000 events
		queueSize = 100000
		outage    = 3 * time.Second
	)
	e := newEnv(t, options{batchSize: 100, queueSize: queueSize})
	recoverAt := time.Now().Add(outage)
	e.api.SetFault(func(*http.Request, []byte) *eventsapi.Step {
		if time.Now().Before(recoverAt) {
			return &eventsapi.Step{Status: http.StatusServiceUnavailable}
		}
		return nil
	})
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if _, rss, err := harness.ProcStats(e.collector.Pid()); err == nil && rss > peak.Load() {
				peak.Store(rss)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	took := e.emit(0, users, true)
	t.Logf("emitted %d events in %s (outage: %s)", 2*users, took.Round(time.Millisecond), outage)
	uuids := e.waitEvents(2*users, 2*time.Minute)
	close(stop)
	wg.Wait()
	st := e.api.Stats()
	assert.NotZero(t, st.Rejected, "the outage was seen")
	n, some := missing(uuids, wantIDs(0, users, true))
	assert.Zero(t, n, "lost events, e.g. %v", some)
	assert.Zero(t, duplicates(uuids), "503 answers accept nothing, so nothing is sent twice")
	peakMiB := peak.Load() / 1024
	// Generous: a full queue of encoded events (~1 KiB each) plus 2 KiB of overhead per
	// event, on top of a 128 MiB baseline.
	bound := int64(128 + queueSize*3/1024)
	t.Logf("collector peak RSS while holding the queue: %d MiB (bound %d MiB); %d requests, %d rejected",
		peakMiB, bound, st.Requests, st.Rejected)
	assert.Less(t, peakMiB, bound)
}

// TestBurst sends 200,000 events as fast as the SDK client emits them.
func TestBurst(t *testing.T) {
	const users = 200000
	for _, size := range []int{10, 500} {
		t.Run(fmt.Sprintf("batch_size=%d", size), func(t *testing.T) {
			// The default 10 consumers: at batch_size 10 this is 20,000 requests, which
			// take ~6 s on 2 cores, the client's emission being most of it.
			e := newEnv(t, options{batchSize: size})
			start := time.Now()
			emitted := e.emit(0, users, false)
			uuids := e.waitEvents(users, 5*time.Minute)
			took := time.Since(start)
			n, some := missing(uuids, wantIDs(0, users, false))
			assert.Zero(t, n, "lost events, e.g. %v", some)
			assert.Len(t, uuids, users)
			st := e.api.Stats()
			t.Logf("batch_size %d: %d events emitted in %s, all delivered in %s (%.0f events/s), %d requests, %d duplicates",
				size, users, emitted.Round(time.Millisecond), took.Round(time.Millisecond),
				float64(users)/took.Seconds(), st.Accepted, duplicates(uuids))
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
	em.Conversion(ctx, 0, now)
	em.Invalid(ctx, now) // unknown flag
	em.Plain(ctx, "not an event")
	require.NoError(t, em.Shutdown(ctx))
	e.waitEvents(21, time.Minute)

	var body string
	require.True(t, harness.WaitFor(ctx, 30*time.Second, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return strings.Contains(body, `otelcol_exporter_experimentation_request_events_sum{exporter="experimentation"}`) &&
			strings.Contains(body, `otelcol_exporter_experimentation_request_events_count{exporter="experimentation"} 3`)
	}), "metrics endpoint with 3 requests recorded:\n%s", body)

	var lines []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, "experimentation") && !strings.HasPrefix(l, "# HELP") {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	t.Logf("the exporter's metrics on /metrics:\n%s", strings.Join(lines, "\n"))

	// The names the collector's Prometheus endpoint shows. The collector configures its
	// Prometheus exporter without type and unit suffixes, so counters have no _total and
	// request_bytes no _bytes/_By.
	var miss []string
	for _, want := range []string{
		`otelcol_exporter_experimentation_events_built{event_type="impression",exporter="experimentation"} 20`,
		`otelcol_exporter_experimentation_events_built{event_type="conversion",exporter="experimentation"} 1`,
		`otelcol_exporter_experimentation_events_dropped{exporter="experimentation",reason="unknown_flag"} 1`,
		`otelcol_exporter_experimentation_records_skipped{exporter="experimentation",reason="not_an_event"} 1`,
		`otelcol_exporter_experimentation_requests{exporter="experimentation",status_class="2xx"} 3`,
		`otelcol_exporter_experimentation_request_bytes_bucket{exporter="experimentation",le="1024"}`,
		`otelcol_exporter_experimentation_request_bytes_sum{exporter="experimentation"}`,
		`otelcol_exporter_experimentation_request_bytes_count{exporter="experimentation"} 3`,
		`otelcol_exporter_experimentation_request_events_bucket{exporter="experimentation",le="10"} 3`,
		`otelcol_exporter_experimentation_request_events_sum{exporter="experimentation"} 21`,
		`otelcol_exporter_experimentation_request_events_count{exporter="experimentation"} 3`,
	} {
		if !strings.Contains(body, want) {
			miss = append(miss, want)
		}
	}
	assert.Empty(t, miss, "not on /metrics")
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}
