package optimizely

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/experimentationexporter/experimentationexporter/internal/poller"
	"github.com/experimentationexporter/experimentationexporter/internal/poller/pollertest"
)

const (
	testKey   = "SecretSdkKeyXyz123"
	testToken = "SecretTokenAbc456"
	lm1       = "Mon, 01 Jan 2024 00:00:00 GMT"
	lm2       = "Tue, 02 Jan 2024 00:00:00 GMT"
	lm3       = "Wed, 03 Jan 2024 00:00:00 GMT"
)

func datafileBytes(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/datafile.json")
	require.NoError(t, err)
	require.Contains(t, string(b), `"revision": "131"`)
	return b
}

func rev132(t *testing.T) []byte {
	return bytes.Replace(datafileBytes(t), []byte(`"revision": "131"`), []byte(`"revision": "132"`), 1)
}

type updates struct {
	mu   sync.Mutex
	revs []string
}

func (u *updates) on(df *Datafile, _ string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.revs = append(u.revs, df.Revision)
}

func (u *updates) get() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.revs...)
}

type harness struct {
	cdn     *pollertest.CDN
	srv     *httptest.Server
	poller  *poller.Poller[*Datafile]
	logs    *observer.ObservedLogs
	updates *updates
}

// newHarness starts a fake CDN and a poller pointed at it. At cleanup it asserts that
// neither the sdk key nor the token appears in any log entry.
func newHarness(t *testing.T, token string, interval time.Duration) *harness {
	t.Helper()
	h := &harness{cdn: &pollertest.CDN{Body: datafileBytes(t), LastModified: lm1, Blocked: make(chan struct{}, 16)}, updates: &updates{}}
	h.srv = httptest.NewServer(h.cdn)
	t.Cleanup(h.srv.Close)
	core, logs := observer.New(zapcore.DebugLevel)
	h.logs = logs
	path := "/datafiles/%s.json"
	if token != "" {
		path = "/datafiles/auth/%s.json"
	}
	h.poller = NewPoller(PollConfig{
		SDKKey:      testKey,
		AccessToken: configopaque.String(token),
		URL:         h.srv.URL + path,
		Interval:    interval,
		Client:      h.srv.Client(),
		Logger:      zap.New(core),
	}, h.updates.on)
	t.Cleanup(h.poller.Shutdown)
	t.Cleanup(func() { pollertest.AssertNoSecrets(t, logs, testKey, testToken) })
	return h
}

func TestURLFor(t *testing.T) {
	assert.Equal(t, "https://cdn.optimizely.com/datafiles/KEY.json", URLFor(PollConfig{SDKKey: "KEY"}))
	assert.Equal(t, "https://config.optimizely.com/datafiles/auth/KEY.json", URLFor(PollConfig{SDKKey: "KEY", AccessToken: "tok"}))
	assert.Equal(t, "http://x/df/KEY", URLFor(PollConfig{SDKKey: "KEY", URL: "http://x/df/%s"}))
	assert.Equal(t, "http://x/fixed.json", URLFor(PollConfig{SDKKey: "KEY", AccessToken: "tok", URL: "http://x/fixed.json"}))
}

func TestFetchConditionalAndRevisions(t *testing.T) {
	h := newHarness(t, "", time.Hour)
	ctx := context.Background()
	require.Nil(t, h.poller.Current())

	// First fetch: loaded, OnUpdate once.
	require.NoError(t, h.poller.FetchNow(ctx))
	require.NotNil(t, h.poller.Current())
	assert.Equal(t, "131", h.poller.Current().Revision)
	assert.Equal(t, []string{"131"}, h.updates.get())
	assert.Equal(t, 1, pollertest.CountMessage(h.logs, "datafile loaded"))
	loaded := h.logs.FilterMessage("datafile loaded").All()[0]
	assert.Equal(t, zapcore.InfoLevel, loaded.Level)
	assert.Equal(t, "131", loaded.ContextMap()["revision"])
	req := h.cdn.Seen()
	require.Len(t, req, 1)
	assert.Equal(t, "/datafiles/"+testKey+".json", req[0].Path)
	assert.Empty(t, req[0].IfModifiedSince)
	assert.Empty(t, req[0].Authorization)

	// 304: If-Modified-Since echoes Last-Modified, nothing delivered.
	first := h.poller.Current()
	require.NoError(t, h.poller.FetchNow(ctx))
	req = h.cdn.Seen()
	require.Len(t, req, 2)
	assert.Equal(t, lm1, req[1].IfModifiedSince)
	assert.Same(t, first, h.poller.Current())
	assert.Equal(t, []string{"131"}, h.updates.get())

	// New revision: delivered.
	h.cdn.Set(rev132(t), lm2)
	require.NoError(t, h.poller.FetchNow(ctx))
	assert.Equal(t, "132", h.poller.Current().Revision)
	assert.Equal(t, []string{"131", "132"}, h.updates.get())
	assert.Equal(t, lm1, h.cdn.Seen()[2].IfModifiedSince)

	// Same revision served again with a new Last-Modified: not delivered, not rebuilt,
	// but the new Last-Modified is remembered.
	second := h.poller.Current()
	h.cdn.Set(rev132(t), lm3)
	require.NoError(t, h.poller.FetchNow(ctx))
	assert.Same(t, second, h.poller.Current())
	assert.Equal(t, []string{"131", "132"}, h.updates.get())
	require.NoError(t, h.poller.FetchNow(ctx))
	req = h.cdn.Seen()
	require.Len(t, req, 5)
	assert.Equal(t, lm2, req[3].IfModifiedSince)
	assert.Equal(t, lm3, req[4].IfModifiedSince)
	assert.Equal(t, []string{"131", "132"}, h.updates.get())
	assert.Equal(t, 0, pollertest.CountMessage(h.logs, "waiting for the first"))
}

func TestAuthenticatedDatafile(t *testing.T) {
	h := newHarness(t, testToken, time.Hour)
	require.NoError(t, h.poller.FetchNow(context.Background()))
	req := h.cdn.Seen()
	require.Len(t, req, 1)
	assert.Equal(t, "/datafiles/auth/"+testKey+".json", req[0].Path)
	assert.Equal(t, "Bearer "+testToken, req[0].Authorization)
	assert.Equal(t, "131", h.poller.Current().Revision)
}

func TestBearerTok(t *testing.T) {
	var gotAuth, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.Path
		_, _ = w.Write(datafileBytes(t))
	}))
	defer srv.Close()
	p := NewPoller(PollConfig{SDKKey: "key", AccessToken: "tok", URL: srv.URL + "/datafiles/auth/%s.json", Interval: time.Hour, Client: srv.Client()}, nil)
	defer p.Shutdown()
	require.NoError(t, p.FetchNow(context.Background()))
	assert.Equal(t, "Bearer tok", gotAuth)
	assert.Equal(t, "/datafiles/auth/key.json", gotPath)
}

func TestRefusedKeepsLastGood(t *testing.T) {
	for _, status := range []int{http.StatusForbidden, http.StatusUnauthorized} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			h := newHarness(t, testToken, time.Hour)
			require.NoError(t, h.poller.FetchNow(context.Background()))
			good := h.poller.Current()

			h.cdn.SetStatus(status)
			err := h.poller.FetchNow(context.Background())
			pollertest.AssertErrNoSecrets(t, err, testKey, testToken)
			assert.Contains(t, err.Error(), fmt.Sprint(status))
			assert.Same(t, good, h.poller.Current())
			assert.Equal(t, []string{"131"}, h.updates.get())

			refused := h.logs.FilterMessageSnippet("optimizely::sdk_key").All()
			require.Len(t, refused, 1)
			assert.Contains(t, refused[0].Message, "optimizely::datafile_access_token")
			assert.GreaterOrEqual(t, refused[0].Level, zapcore.WarnLevel)
			assert.Equal(t, int64(status), refused[0].ContextMap()["status"])
			// The body echoed the path (with the key); it is logged redacted.
			assert.Contains(t, refused[0].ContextMap()["body"], "<sdk_key>")
			assert.Contains(t, refused[0].ContextMap()["url"], "<sdk_key>")
		})
	}
}

func TestInvalidDatafilesKeepLastGood(t *testing.T) {
	h := newHarness(t, "", time.Hour)
	require.NoError(t, h.poller.FetchNow(context.Background()))
	good := h.poller.Current()

	h.cdn.Set([]byte("<html>garbage</html>"), lm2)
	err := h.poller.FetchNow(context.Background())
	pollertest.AssertErrNoSecrets(t, err, testKey, testToken)
	assert.Same(t, good, h.poller.Current())

	h.cdn.Set(bytes.Replace(datafileBytes(t), []byte(`"version": "4"`), []byte(`"version": "5"`), 1), lm3)
	err = h.poller.FetchNow(context.Background())
	pollertest.AssertErrNoSecrets(t, err, testKey, testToken)
	assert.ErrorIs(t, err, ErrUnsupportedVersion)
	assert.Same(t, good, h.poller.Current())

	assert.Equal(t, []string{"131"}, h.updates.get())
	warns := h.logs.FilterLevelExact(zapcore.WarnLevel).All()
	require.Len(t, warns, 2)
	for _, w := range warns {
		assert.Contains(t, w.ContextMap(), "error")
		assert.Equal(t, "131", w.ContextMap()["current_revision"])
	}
	// A failed parse does not advance Last-Modified.
	h.cdn.Set(rev132(t), lm3)
	require.NoError(t, h.poller.FetchNow(context.Background()))
	assert.Equal(t, lm1, h.cdn.Seen()[3].IfModifiedSince)
	assert.Equal(t, []string{"131", "132"}, h.updates.get())
}

func TestNetworkErrorRedactsURL(t *testing.T) {
	h := newHarness(t, testToken, time.Hour)
	h.srv.Close() // CDN unreachable
	for range 3 {
		err := h.poller.FetchNow(context.Background())
		pollertest.AssertErrNoSecrets(t, err, testKey, testToken)
		assert.NotContains(t, err.Error(), "/datafiles/")
	}
	assert.Nil(t, h.poller.Current())
	assert.Equal(t, 1, pollertest.CountMessage(h.logs, "waiting for the first Optimizely datafile; records are kept in the sending queue until it arrives"))
	assert.Len(t, h.logs.FilterLevelExact(zapcore.WarnLevel).All(), 3)
}

func TestStartRecoversFromCDNDown(t *testing.T) {
	h := newHarness(t, "", 50*time.Millisecond)
	h.cdn.FailFirst = 4
	h.poller.Start()
	h.poller.Start() // no second goroutine
	require.Eventually(t, func() bool { return h.poller.Current() != nil }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, "131", h.poller.Current().Revision)
	assert.Equal(t, 1, pollertest.CountMessage(h.logs, "waiting for the first Optimizely datafile"))
	assert.GreaterOrEqual(t, len(h.logs.FilterLevelExact(zapcore.WarnLevel).All()), 4)
	assert.Equal(t, 1, pollertest.CountMessage(h.logs, "datafile loaded"))

	// Keeps polling at Interval; a new revision is picked up.
	h.cdn.Set(rev132(t), lm2)
	require.Eventually(t, func() bool { return h.poller.Current().Revision == "132" }, 10*time.Second, 10*time.Millisecond)
	h.poller.Shutdown()
	h.poller.Shutdown()
	n := len(h.cdn.Seen())
	time.Sleep(150 * time.Millisecond)
	assert.Equal(t, n, len(h.cdn.Seen()), "no request after Shutdown")
	assert.Equal(t, []string{"131", "132"}, h.updates.get())
	assert.Equal(t, 1, pollertest.CountMessage(h.logs, "waiting for the first Optimizely datafile"))
}

func TestFirstFetchRetriedBeforeInterval(t *testing.T) {
	h := newHarness(t, "", time.Hour)
	h.cdn.FailFirst = 1
	start := time.Now()
	h.poller.Start()
	require.Eventually(t, func() bool { return h.poller.Current() != nil }, 5*time.Second, 10*time.Millisecond)
	assert.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "first retry after about 1s")
	assert.Len(t, h.cdn.Seen(), 2)
}

func TestShutdownCancelsInFlight(t *testing.T) {
	h := newHarness(t, "", time.Hour)
	h.cdn.Block = true
	h.poller.Start()
	select {
	case <-h.cdn.Blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("no request")
	}
	done := make(chan struct{})
	go func() { h.poller.Shutdown(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not cancel the in-flight request")
	}
	assert.Nil(t, h.poller.Current())
	assert.Empty(t, h.logs.FilterLevelExact(zapcore.WarnLevel).All(), "a cancelled fetch is not a failure")
	assert.Equal(t, 0, pollertest.CountMessage(h.logs, "waiting for the first"))

	// FetchNow after Shutdown fails at once.
	assert.Error(t, h.poller.FetchNow(context.Background()))
}

func TestShutdownWithoutStart(t *testing.T) {
	p := NewPoller(PollConfig{SDKKey: "k"}, nil)
	p.Shutdown()
	p.Shutdown()
	p.Start() // after Shutdown: no goroutine
	p.Shutdown()
}
