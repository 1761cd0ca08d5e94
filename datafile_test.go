package experimentationexporter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/experimentationexporter/experimentationexporter/internal/metadata"
	"github.com/experimentationexporter/experimentationexporter/internal/metadatatest"
	"github.com/experimentationexporter/experimentationexporter/internal/optimizely"
)

// cdn serves a datafile whose revision tests can change, or 503 while down.
type cdn struct {
	mu       sync.Mutex
	revision string
	down     bool
	auth     []string
}

func (c *cdn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.auth = append(c.auth, r.Header.Get("Authorization"))
	if c.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	data, _ := os.ReadFile("testdata/datafile.json")
	_, _ = w.Write([]byte(strings.Replace(string(data), `"revision": "131"`, `"revision": "`+c.revision+`"`, 1)))
}

func (c *cdn) set(revision string, down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revision, c.down = revision, down
}

func sdkKeyConfig(t *testing.T, eventsURL, cdnURL string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = eventsURL
	cfg.Optimizely.SDKKey = "SdkKeySecret123"
	cfg.Optimizely.DatafileAccessToken = "TokenSecret456"
	cfg.Optimizely.DatafileURL = cdnURL + "/datafiles/auth/%s.json"
	cfg.Optimizely.PollingInterval = time.Second
	cfg.RetryConfig.InitialInterval = 10 * time.Millisecond
	require.NoError(t, cfg.Validate())
	return cfg
}

func TestSDKKeyDatafileFromCDN(t *testing.T) {
	srv := replica(t)
	c := &cdn{revision: "131"}
	cdnSrv := httptest.NewServer(c)
	defer cdnSrv.Close()
	cfg := sdkKeyConfig(t, srv.URL()+"/v1/events", cdnSrv.URL)
	cfg.BatchSize = 2
	exp := startLogs(t, cfg)
	require.NoError(t, exp.ConsumeLogs(context.Background(), visitors(2)))
	require.Eventually(t, func() bool { return len(srv.Accepted()) == 1 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, exp.Shutdown(context.Background()))
	c.mu.Lock()
	assert.Equal(t, "Bearer TokenSecret456", c.auth[0])
	c.mu.Unlock()
}

func TestCDNDownAtStartKeepsRecordsUntilTheDatafileArrives(t *testing.T) {
	srv := replica(t)
	c := &cdn{revision: "131", down: true}
	cdnSrv := httptest.NewServer(c)
	defer cdnSrv.Close()
	cfg := sdkKeyConfig(t, srv.URL()+"/v1/events", cdnSrv.URL)
	cfg.BatchSize = 5
	cfg.FlushInterval = 50 * time.Millisecond
	core, logs := observer.New(zap.InfoLevel)
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	exp, _, err := newLogsExporter(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()), "the collector starts without a datafile")

	require.NoError(t, exp.ConsumeLogs(context.Background(), visitors(7)))
	time.Sleep(300 * time.Millisecond)
	assert.Empty(t, srv.Requests(), "nothing can be built or sent yet")

	c.set("131", false)
	require.Eventually(t, func() bool { return len(deliveredIDs(t, srv)) == 7 }, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, exp.Shutdown(context.Background()))
	assert.ElementsMatch(t, vids(0, 7), deliveredIDs(t, srv))
	assert.Equal(t, 1, logs.FilterMessageSnippet("waiting for the first Optimizely datafile").Len(), "logged once, not per record")
	for _, e := range logs.All() {
		for _, s := range append([]string{e.Message}, fieldStrings(e.Context)...) {
			assert.NotContains(t, s, "SdkKeySecret123")
			assert.NotContains(t, s, "TokenSecret456")
		}
	}
}

func TestRevisionChangeMidStreamSplitsBatches(t *testing.T) {
	srv := replica(t)
	c := &cdn{revision: "131"}
	cdnSrv := httptest.NewServer(c)
	defer cdnSrv.Close()
	cfg := sdkKeyConfig(t, srv.URL()+"/v1/events", cdnSrv.URL)
	cfg.BatchSize = 1000
	cfg.FlushInterval = time.Hour
	exp, inner, err := newLogsExporter(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	dest := inner.dest.(*optimizely.Destination)
	require.Eventually(t, func() bool { _, ok := dest.Current(); return ok }, 5*time.Second, 10*time.Millisecond)

	require.NoError(t, exp.ConsumeLogs(context.Background(), visitors(4)))
	c.set("132", false)
	require.Eventually(t, func() bool {
		rev, _ := dest.Current()
		return strings.Contains(rev.Context.Key, "\x00132\x00")
	}, 5*time.Second, 20*time.Millisecond, "the poller picks up revision 132")
	require.NoError(t, exp.ConsumeLogs(context.Background(), logsOf(impression("late", "checkout_redesign", "checkout_redesign_ab", "control"))))
	require.Eventually(t, func() bool { return len(srv.Accepted()) == 1 }, 5*time.Second, 10*time.Millisecond, "the old revision's batch flushes at the change")
	require.NoError(t, exp.Shutdown(context.Background()))

	batches := accepted(t, srv)
	require.Len(t, batches, 2)
	assert.Equal(t, "131", batches[0].Revision)
	assert.Len(t, batches[0].Visitors, 4)
	assert.Equal(t, "132", batches[1].Revision)
	assert.Equal(t, "late", batches[1].Visitors[0].ID)
}

func fieldStrings(fields []zap.Field) []string {
	var out []string
	for _, f := range fields {
		out = append(out, f.Key, f.String)
		if f.Interface != nil {
			if s, ok := f.Interface.(interface{ Error() string }); ok {
				out = append(out, s.Error())
			}
		}
	}
	return out
}

// A batch of records kept before the first datafile goes through the persistent queue's
// encoding: read back, it must still wait for the datafile and then be built and sent.
func TestPendingBatchSurvivesThePersistentQueue(t *testing.T) {
	srv := replica(t)
	c := &cdn{revision: "131", down: true}
	cdnSrv := httptest.NewServer(c)
	defer cdnSrv.Close()
	e := startedExporter(t, sdkKeyConfig(t, srv.URL()+"/v1/events", cdnSrv.URL))

	kept, err := e.convert(context.Background(), visitors(3))
	require.NoError(t, err)
	raw, err := batchEncoding{}.Marshal(context.Background(), kept)
	require.NoError(t, err)
	_, restored, err := batchEncoding{}.Unmarshal(raw)
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() { done <- e.push(context.Background(), restored) }()
	select {
	case err := <-done:
		t.Fatalf("a restored pending batch was pushed before the datafile arrived: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	assert.Empty(t, srv.Requests(), "nothing can be built or sent yet")

	c.set("131", false)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the restored pending batch was not delivered after the datafile arrived")
	}
	assert.ElementsMatch(t, vids(0, 3), deliveredIDs(t, srv))
}

// Shutdown stops in time while records wait for a datafile that never comes: an
// in-memory queue gives them up at the drain deadline (timeout_interval here), counted as
// dropped (shutdown) and said once at error level.
func TestShutdownInTimeWithoutDatafile(t *testing.T) {
	srv := replica(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "CDN unavailable", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	cfg := sdkKeyConfig(t, srv.URL()+"/v1/events", down.URL)
	cfg.TimeoutInterval = 300 * time.Millisecond
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	core, logs := observer.New(zapcore.InfoLevel)
	set := metadatatest.NewSettings(tel)
	set.Logger = zap.New(core)
	exp, _, err := newLogsExporter(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	for range 3 {
		require.NoError(t, exp.ConsumeLogs(context.Background(), visitors(5)))
	}

	done := make(chan error, 1)
	go func() { done <- exp.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown still waiting for the datafile after 10s (timeout_interval 300ms)")
	}
	assert.Zero(t, srv.Stats().Requests, "nothing could be built")
	lost := logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessageSnippet("drain deadline passed").All()
	require.Len(t, lost, 1, "said once")
	assert.EqualValues(t, 15, lost[0].ContextMap()["lost"])
	metadatatest.AssertEqualExporterExperimentationEventsDropped(t, tel, []metricdata.DataPoint[int64]{
		{Value: 15, Attributes: attribute.NewSet(exporterAttr, attribute.String("reason", "shutdown"))},
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}
