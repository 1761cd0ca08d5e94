package experimentationexporter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
	"github.com/experimentationexporter/experimentationexporter/internal/metadata"
	"github.com/experimentationexporter/experimentationexporter/internal/optimizely"
)

// replica starts the Event API replica for one test.
func replica(t *testing.T) *eventsapi.Server {
	t.Helper()
	srv := eventsapi.New(eventsapi.Options{})
	_, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// deliveryConfig sends to the replica with fast retries.
func deliveryConfig(srv *eventsapi.Server) *Config {
	cfg := testConfig(srv.URL() + "/v1/events")
	cfg.RetryConfig.InitialInterval = 10 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 50 * time.Millisecond
	return cfg
}

// startLogs creates the exporter through the factory, with the collector's queue,
// batcher and retry, and starts it.
func startLogs(t *testing.T, cfg *Config) exporter.Logs {
	t.Helper()
	exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	return exp
}

type acceptedBatch struct {
	Revision string `json:"revision"`
	Visitors []struct {
		ID        string `json:"visitor_id"`
		Snapshots []struct {
			Events []struct {
				UUID string `json:"uuid"`
			} `json:"events"`
		} `json:"snapshots"`
	} `json:"visitors"`
}

func accepted(t *testing.T, srv *eventsapi.Server) []acceptedBatch {
	var out []acceptedBatch
	for _, r := range srv.Accepted() {
		var b acceptedBatch
		require.NoError(t, json.Unmarshal(r.Body, &b))
		out = append(out, b)
	}
	return out
}

func deliveredIDs(t *testing.T, srv *eventsapi.Server) []string {
	var ids []string
	for _, b := range accepted(t, srv) {
		for _, v := range b.Visitors {
			ids = append(ids, v.ID)
		}
	}
	return ids
}

func TestBatchSizeCountsEventsNotRecords(t *testing.T) {
	srv := replica(t)
	cfg := deliveryConfig(srv)
	cfg.BatchSize = 5
	cfg.FlushInterval = time.Hour
	exp := startLogs(t, cfg)

	// 12 events among 20 records: 4 plain log lines and 4 invalid records do not count.
	var fns []func(plog.LogRecord)
	for i := 0; i < 12; i++ {
		fns = append(fns, impression("v"+itoa(i), "checkout_redesign", "checkout_redesign_ab", "control"))
		if i%3 == 0 {
			fns = append(fns, func(lr plog.LogRecord) { lr.Body().SetStr("GET /cart 200") },
				impression("bad", "no_such_flag", "x", "y"))
		}
	}
	require.NoError(t, exp.ConsumeLogs(context.Background(), logsOf(fns...)))
	require.Eventually(t, func() bool { return len(srv.Accepted()) == 2 }, 5*time.Second, 10*time.Millisecond)
	for _, b := range accepted(t, srv) {
		assert.Len(t, b.Visitors, 5)
	}
	// The last 2 events wait for flush_interval, or for shutdown, which drains them.
	require.NoError(t, exp.Shutdown(context.Background()))
	assert.ElementsMatch(t, vids(0, 12), deliveredIDs(t, srv))
}

func TestFlushIntervalIsTheAgeOfTheOldestEvent(t *testing.T) {
	srv := replica(t)
	cfg := deliveryConfig(srv)
	cfg.BatchSize = 5000
	cfg.FlushInterval = 300 * time.Millisecond
	exp := startLogs(t, cfg)
	defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()

	// A trickle faster than flush_interval: an idle timer reset by each event would
	// never fire; the age of the oldest event does, about every 300ms.
	for i := 0; i < 30; i++ {
		require.NoError(t, exp.ConsumeLogs(context.Background(), logsOf(impression("v"+itoa(i), "checkout_redesign", "checkout_redesign_ab", "control"))))
		time.Sleep(50 * time.Millisecond)
	}
	assert.GreaterOrEqual(t, len(srv.Accepted()), 3, "requests were sent while events kept arriving")
}

func TestBatchOfBatchSizeSendsAtOnce(t *testing.T) {
	srv := replica(t)
	cfg := deliveryConfig(srv)
	cfg.BatchSize = 50
	cfg.FlushInterval = time.Hour
	exp := startLogs(t, cfg)
	defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()
	require.NoError(t, exp.ConsumeLogs(context.Background(), visitors(50)))
	require.Eventually(t, func() bool { return len(srv.Accepted()) == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, vids(0, 50), deliveredIDs(t, srv))
}

func TestNewRevisionFlushesTheOldBatch(t *testing.T) {
	srv := replica(t)
	cfg := deliveryConfig(srv)
	cfg.BatchSize = 100
	cfg.FlushInterval = time.Hour
	exp, inner, err := newLogsExporter(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	dest := inner.dest.(*optimizely.Destination)

	require.NoError(t, exp.ConsumeLogs(context.Background(), visitors(3)))
	data, err := os.ReadFile("testdata/datafile.json")
	require.NoError(t, err)
	df, err := optimizely.Parse([]byte(strings.Replace(string(data), `"revision": "131"`, `"revision": "132"`, 1)))
	require.NoError(t, err)
	dest.SetDatafile(df)
	require.NoError(t, exp.ConsumeLogs(context.Background(), logsOf(impression("n0", "checkout_redesign", "checkout_redesign_ab", "control"))))

	// Neither batch_size nor flush_interval is reached: the revision change flushes.
	require.Eventually(t, func() bool { return len(srv.Accepted()) == 1 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, exp.Shutdown(context.Background()))
	batches := accepted(t, srv)
	require.Len(t, batches, 2)
	assert.Equal(t, "131", batches[0].Revision)
	assert.Len(t, batches[0].Visitors, 3)
	assert.Equal(t, "132", batches[1].Revision)
	assert.Len(t, batches[1].Visitors, 1)
}

func TestPoisonEventInABatchOfTen(t *testing.T) {
	srv := replica(t)
	srv.SetFault(func(_ *http.Request, body []byte) *eventsapi.Step {
		if strings.Contains(string(body), `"visitor_id":"v4"`) {
			return &eventsapi.Step{Status: http.StatusBadRequest, Body: `{"error":"visitors[0]: poison"}`}
		}
		return nil
	})
	cfg := deliveryConfig(srv)
	cfg.BatchSize = 10
	exp := startLogs(t, cfg)
	require.NoError(t, exp.ConsumeLogs(context.Background(), visitors(10)))
	require.NoError(t, exp.Shutdown(context.Background()))
	assert.ElementsMatch(t, append(vids(0, 4), vids(5, 10)...), deliveredIDs(t, srv), "exactly 9 arrive")
}

func TestPayloadTooLargeIsSplit(t *testing.T) {
	srv := replica(t)
	srv.Script(eventsapi.Step{Status: http.StatusRequestEntityTooLarge})
	cfg := deliveryConfig(srv)
	cfg.BatchSize = 10
	exp := startLogs(t, cfg)
	require.NoError(t, exp.ConsumeLogs(context.Background(), visitors(10)))
	require.NoError(t, exp.Shutdown(context.Background()))
	batches := accepted(t, srv)
	require.Len(t, batches, 2)
	assert.Len(t, batches[0].Visitors, 5)
	assert.Equal(t, vids(0, 10), deliveredIDs(t, srv))
}

func TestRetryAfterIsHonoured(t *testing.T) {
	srv := replica(t)
	srv.Script(eventsapi.Step{Status: http.StatusServiceUnavailable, RetryAfter: "2"})
	cfg := deliveryConfig(srv)
	cfg.BatchSize = 3
	exp := startLogs(t, cfg)
	require.NoError(t, exp.ConsumeLogs(context.Background(), visitors(3)))
	require.Eventually(t, func() bool { return len(srv.Accepted()) == 1 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, exp.Shutdown(context.Background()))
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, http.StatusServiceUnavailable, reqs[0].Status)
	// The backoff alone would retry after ~10ms; Retry-After says 2s.
	assert.GreaterOrEqual(t, reqs[1].At.Sub(reqs[0].At), 2*time.Second)
}

func TestConcurrentConsumersDeliverEveryEventExactlyOnce(t *testing.T) {
	srv := replica(t)
	// Some requests fail and are retried: still exactly once.
	var mu sync.Mutex
	n := 0
	srv.SetFault(func(*http.Request, []byte) *eventsapi.Step {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n%7 == 0 {
			return &eventsapi.Step{Status: http.StatusInternalServerError}
		}
		return nil
	})
	cfg := deliveryConfig(srv)
	cfg.BatchSize = 10
	cfg.FlushInterval = 20 * time.Millisecond
	cfg.QueueConfig.Get().NumConsumers = 8
	exp := startLogs(t, cfg)

	const producers, perProducer = 16, 125
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Go(func() {
			for i := 0; i < perProducer; i += 5 {
				fns := make([]func(plog.LogRecord), 5)
				for k := range fns {
					fns[k] = impression("p"+itoa(p)+"-"+itoa(i+k), "checkout_redesign", "checkout_redesign_ab", "treatment")
				}
				assert.NoError(t, exp.ConsumeLogs(context.Background(), logsOf(fns...)))
			}
		})
	}
	wg.Wait()
	require.NoError(t, exp.Shutdown(context.Background()))

	uuids := srv.UUIDs()
	assert.Equal(t, producers*perProducer, len(uuids), "distinct events delivered")
	dups := 0
	for _, c := range uuids {
		dups += c - 1
	}
	assert.Zero(t, dups, "events delivered more than once")
	for _, b := range accepted(t, srv) {
		assert.LessOrEqual(t, len(b.Visitors), 10)
	}
}

func TestShutdownDrainsTheQueue(t *testing.T) {
	srv := replica(t)
	cfg := deliveryConfig(srv)
	cfg.BatchSize = 1000
	cfg.FlushInterval = time.Hour
	exp := startLogs(t, cfg)
	require.NoError(t, exp.ConsumeLogs(context.Background(), visitors(50)))
	assert.Empty(t, srv.Requests())
	require.NoError(t, exp.Shutdown(context.Background()))
	assert.Equal(t, vids(0, 50), deliveredIDs(t, srv))
}

// Shutdown says at info level what it drains, for how long, and what happens to the rest.
func TestShutdownSaysWhatItDrains(t *testing.T) {
	for _, persistent := range []bool{false, true} {
		cfg := testConfig("http://127.0.0.1:1/v1/events")
		cfg.TimeoutInterval = 7 * time.Second
		if persistent {
			id := component.MustNewID("file_storage")
			cfg.QueueConfig.Get().StorageID = &id
		}
		core, logs := observer.New(zap.InfoLevel)
		set := exportertest.NewNopSettings(metadata.Type)
		set.Logger = zap.New(core)
		e, err := newExporter(cfg, set)
		require.NoError(t, err)
		deadline, ok := e.drain.begin(context.Background()).Deadline()
		require.True(t, ok)
		assert.WithinDuration(t, time.Now().Add(7*time.Second), deadline, time.Second)
		lines := logs.FilterMessageSnippet("Shutting down").All()
		require.Len(t, lines, 1)
		assert.Equal(t, 7*time.Second, lines[0].ContextMap()["timeout_interval"])
		if persistent {
			assert.Contains(t, lines[0].Message, "stay in the persistent queue")
		} else {
			assert.Contains(t, lines[0].Message, "are lost")
		}
	}
}

// A 413 is learnt: after the first batch is bisected, later batches are cut to a size
// the API took, with no further 413s.
func TestPayloadTooLargeIsRemembered(t *testing.T) {
	srv := replica(t)
	var limit int
	srv.SetFault(func(r *http.Request, body []byte) *eventsapi.Step {
		if len(body) > limit {
			return &eventsapi.Step{Status: http.StatusRequestEntityTooLarge}
		}
		return nil
	})
	cfg := deliveryConfig(srv)
	cfg.BatchSize = 16
	cfg.FlushInterval = time.Hour
	e := startedExporter(t, cfg)
	one, err := e.convert(context.Background(), visitors(1))
	require.NoError(t, err)
	limit = one.(*eventBatch).BytesSize() * 5 // a proxy that takes about 5 events

	for k := 0; k < 3; k++ {
		req, err := e.convert(context.Background(), visitors(16))
		require.NoError(t, err)
		before := len(srv.Requests())
		require.NoError(t, e.push(context.Background(), req))
		tooLarge := 0
		for _, r := range srv.Requests()[before:] {
			if r.Status == http.StatusRequestEntityTooLarge {
				tooLarge++
			}
		}
		if k == 0 {
			assert.Positive(t, tooLarge, "the first batch learns the limit")
		} else {
			assert.Zero(t, tooLarge, "batch %d is cut to the learnt size at once", k)
		}
	}
	assert.Len(t, deliveredIDs(t, srv), 48)
}

// A 400 whose body names the bad event isolates it in 4 requests instead of the 9 of
// bisection, and a wrong hint still delivers every good event.
func TestBadRequestNamingTheEventNeedsFewerRequests(t *testing.T) {
	for _, tc := range []struct {
		name      string
		hint      func(body []byte) string
		wantCalls int
	}{
		{"the body names the bad event", func(body []byte) string {
			var b struct {
				Visitors []struct {
					ID string `json:"visitor_id"`
				} `json:"visitors"`
			}
			_ = json.Unmarshal(body, &b)
			for i, v := range b.Visitors {
				if v.ID == "v4" {
					return fmt.Sprintf(`{"error":"visitors[%d].attributes[0].value: poison"}`, i)
				}
			}
			return ""
		}, 4},
		{"the body names the wrong event", func([]byte) string { return `{"error":"visitors[0]: poison"}` }, 0},
		{"the body names nothing: bisection", func([]byte) string { return `{"error":"bad request"}` }, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := replica(t)
			srv.SetFault(func(_ *http.Request, body []byte) *eventsapi.Step {
				if strings.Contains(string(body), `"visitor_id":"v4"`) {
					return &eventsapi.Step{Status: http.StatusBadRequest, Body: tc.hint(body)}
				}
				return nil
			})
			cfg := deliveryConfig(srv)
			e := startedExporter(t, cfg)
			req, err := e.convert(context.Background(), visitors(10))
			require.NoError(t, err)
			require.NoError(t, e.push(context.Background(), req))
			assert.ElementsMatch(t, append(vids(0, 4), vids(5, 10)...), deliveredIDs(t, srv), "exactly the 9 good events arrive")
			if tc.wantCalls > 0 {
				assert.Equal(t, tc.wantCalls, len(srv.Requests()), "requests sent")
			}
		})
	}
}

// One push larger than the sending queue is queued in parts instead of being refused
// forever ("element size too large").
func TestPushLargerThanTheQueueIsQueuedInParts(t *testing.T) {
	srv := replica(t)
	cfg := deliveryConfig(srv)
	cfg.BatchSize = 50
	cfg.QueueConfig.Get().QueueSize = 100
	require.NoError(t, cfg.Validate())
	exp := startLogs(t, cfg)
	ld := visitors(250)
	// Two resources, so parts also cut across resource and scope boundaries.
	ld.ResourceLogs().At(0).CopyTo(ld.ResourceLogs().AppendEmpty())
	require.NoError(t, exp.ConsumeLogs(context.Background(), ld))
	require.NoError(t, exp.Shutdown(context.Background()))
	assert.Equal(t, 500, srv.Stats().Impressions)
	assert.Len(t, srv.UUIDs(), 250, "each record once, twice sent")
}

func TestSplitLogsKeepsEveryRecordInOrder(t *testing.T) {
	ld := visitors(7)
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("service.name", "a")
	second := ld.ResourceLogs().AppendEmpty()
	second.Resource().Attributes().PutStr("service.name", "b")
	visitors(5).ResourceLogs().At(0).ScopeLogs().At(0).CopyTo(second.ScopeLogs().AppendEmpty())
	parts := splitLogs(ld, 3)
	require.Len(t, parts, 4)
	var ids, services []string
	for _, p := range parts {
		assert.LessOrEqual(t, p.LogRecordCount(), 3)
		for i := 0; i < p.ResourceLogs().Len(); i++ {
			rl := p.ResourceLogs().At(i)
			svc, _ := rl.Resource().Attributes().Get("service.name")
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				lrs := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					id, _ := lrs.At(k).Attributes().Get("feature_flag.context.id")
					ids = append(ids, id.Str())
					services = append(services, svc.Str())
				}
			}
		}
	}
	assert.Equal(t, append(vids(0, 7), vids(0, 5)...), ids)
	assert.Equal(t, []string{"a", "a", "a", "a", "a", "a", "a", "b", "b", "b", "b", "b"}, services)
}
