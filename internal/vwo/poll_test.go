package vwo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
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
	testKey              = "SecretSdkKeyXyz123"
	lm1                  = "Mon, 01 Jan 2024 00:00:00 GMT"
	testAccount    int64 = 654321
	testSDKName          = "otel-collector-experimentation-exporter"
	testSDKVersion       = "0.1.0"
)

// vwoSettings is a minimal VWO settings file; like the real one it carries the sdk key.
type vwoSettings struct {
	SDKKey    string            `json:"sdkKey"`
	AccountID int64             `json:"accountId"`
	Version   int               `json:"version"`
	Campaigns []json.RawMessage `json:"campaigns"`
}

func vwoBody(version int) []byte {
	return fmt.Appendf(nil, `{"sdkKey":%q,"accountId":%d,"version":%d,"campaigns":[{"id":1,"key":"c1","goals":[]}]}`,
		testKey, testAccount, version)
}

type vwoUpdates struct {
	mu     sync.Mutex
	got    []*vwoSettings
	parses int
}

func (u *vwoUpdates) parse(data []byte) (*vwoSettings, error) {
	u.mu.Lock()
	u.parses++
	u.mu.Unlock()
	var s vwoSettings
	if err := json.Unmarshal(data, &s); err != nil {
		// Errors may quote the body, which carries the sdk key: the poller redacts them.
		return nil, fmt.Errorf("invalid settings file %.200q: %w", data, err)
	}
	if s.AccountID == 0 {
		return nil, errors.New("settings file without accountId")
	}
	return &s, nil
}

func (u *vwoUpdates) on(s *vwoSettings, _ string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.got = append(u.got, s)
}

func (u *vwoUpdates) versions() []int {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []int
	for _, s := range u.got {
		out = append(out, s.Version)
	}
	return out
}

func (u *vwoUpdates) parseCount() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.parses
}

type vwoHarness struct {
	srv     *pollertest.CDN
	ts      *httptest.Server
	poller  *poller.Poller[*vwoSettings]
	logs    *observer.ObservedLogs
	updates *vwoUpdates
}

// redirectTransport sends every request to the test server, keeping path and query: the
// poller builds its production URL (host, collection prefix) and the test sees it.
type redirectTransport struct {
	target *url.URL
	base   http.RoundTripper
}

func (rt redirectTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("X-Original-URL", req.URL.Scheme+"://"+req.URL.Host+req.URL.Path)
	req.URL.Scheme, req.URL.Host, req.Host = rt.target.Scheme, rt.target.Host, rt.target.Host
	return rt.base.RoundTrip(req)
}

type vwoOption func(*PollConfig)

// newVWOHarness starts a fake VWO server and a settings poller pointed at it. At cleanup it
// asserts that the sdk key appears in no log entry (debug level included).
func newVWOHarness(t *testing.T, interval time.Duration, opts ...vwoOption) *vwoHarness {
	t.Helper()
	h := &vwoHarness{srv: &pollertest.CDN{Body: vwoBody(1), Blocked: make(chan struct{}, 16)}, updates: &vwoUpdates{}}
	h.ts = httptest.NewServer(h.srv)
	t.Cleanup(h.ts.Close)
	core, logs := observer.New(zapcore.DebugLevel)
	h.logs = logs
	cfg := PollConfig{
		AccountID:  testAccount,
		SDKKey:     testKey,
		URL:        h.ts.URL + SettingsPath,
		Interval:   interval,
		Client:     h.ts.Client(),
		Logger:     zap.New(core),
		SDKName:    testSDKName,
		SDKVersion: testSDKVersion,
	}
	for _, o := range opts {
		o(&cfg)
	}
	h.poller = NewSettingsPoller(cfg, h.updates.parse, h.updates.on)
	t.Cleanup(h.poller.Shutdown)
	t.Cleanup(func() { pollertest.AssertNoSecrets(t, logs, testKey) })
	return h
}

// viaProductionURL keeps the default URL (host and prefix) and redirects it to the server.
func viaProductionURL(ts *httptest.Server, prefix string) vwoOption {
	return func(cfg *PollConfig) {
		target, _ := url.Parse(ts.URL)
		cfg.URL = ""
		cfg.CollectionPrefix = prefix
		cfg.Client = &http.Client{Transport: redirectTransport{target: target, base: ts.Client().Transport}}
	}
}

func TestVWOSettingsURL(t *testing.T) {
	assert.Equal(t, "https://dev.visualwebsiteoptimizer.com/server-side/settings", SettingsURL(""))
	assert.Equal(t, "https://dev.visualwebsiteoptimizer.com/eu01/server-side/settings", SettingsURL("eu01"))
	cfg := PollConfig{AccountID: 1, CollectionPrefix: "eu01", SDKName: "n", SDKVersion: "1.2.3"}
	assert.Equal(t,
		"https://dev.visualwebsiteoptimizer.com/eu01/server-side/settings?a=1&i=K&r=0.5&platform=server&sdk=n&sdk-v=1.2.3&api-version=1",
		pollURL(cfg, "K", "0.5"))
	cfg.URL = "http://x/settings"
	assert.Equal(t, "http://x/settings?a=1&i=K&r=0.5&platform=server&sdk=n&sdk-v=1.2.3&api-version=1", pollURL(cfg, "K", "0.5"))
	cfg.URL = "http://x/settings?tenant=t"
	assert.Equal(t, "http://x/settings?tenant=t&a=1&i=K&r=0.5&platform=server&sdk=n&sdk-v=1.2.3&api-version=1", pollURL(cfg, "K", "0.5"))
	assert.Equal(t, "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356", SettingsRevision([]byte("{}\n")))
}

// checkVWOQuery asserts the query is the VWO SDK's, parameters in its order, and returns r.
func checkVWOQuery(t *testing.T, rawQuery string) float64 {
	t.Helper()
	var names []string
	for _, kv := range strings.Split(rawQuery, "&") {
		name, _, _ := strings.Cut(kv, "=")
		names = append(names, name)
	}
	assert.Equal(t, []string{"a", "i", "r", "platform", "sdk", "sdk-v", "api-version"}, names)
	q, err := url.ParseQuery(rawQuery)
	require.NoError(t, err)
	for name, vs := range q {
		assert.Len(t, vs, 1, name)
	}
	assert.Equal(t, strconv.FormatInt(testAccount, 10), q.Get("a"))
	assert.Equal(t, testKey, q.Get("i"))
	r, err := strconv.ParseFloat(q.Get("r"), 64)
	require.NoError(t, err, "r=%q", q.Get("r"))
	assert.GreaterOrEqual(t, r, 0.0)
	assert.Less(t, r, 1.0)
	assert.Equal(t, "server", q.Get("platform"))
	assert.Equal(t, testSDKName, q.Get("sdk"))
	assert.Equal(t, testSDKVersion, q.Get("sdk-v"))
	assert.Equal(t, "1", q.Get("api-version"))
	return r
}

func TestVWOQuery(t *testing.T) {
	h := newVWOHarness(t, time.Hour)
	ctx := context.Background()
	require.NoError(t, h.poller.FetchNow(ctx))
	require.NoError(t, h.poller.FetchNow(ctx))
	req := h.srv.Seen()
	require.Len(t, req, 2)
	r0 := checkVWOQuery(t, req[0].RawQuery)
	r1 := checkVWOQuery(t, req[1].RawQuery)
	assert.NotEqual(t, r0, r1, "r is drawn for each request")
	assert.Equal(t, SettingsPath, req[0].Path)
	assert.Empty(t, req[0].Authorization)
}

func TestVWOCollectionPrefix(t *testing.T) {
	for _, prefix := range []string{"", "eu01"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			var seen []string
			var mu sync.Mutex
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, r.Header.Get("X-Original-URL")+"?"+r.URL.RawQuery)
				mu.Unlock()
				_, _ = w.Write(vwoBody(1))
			}))
			defer ts.Close()
			h := newVWOHarness(t, time.Hour, viaProductionURL(ts, prefix))
			require.NoError(t, h.poller.FetchNow(context.Background()))
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, seen, 1)
			base, query, _ := strings.Cut(seen[0], "?")
			assert.Equal(t, SettingsURL(prefix), base)
			checkVWOQuery(t, query)
			loaded := h.logs.FilterMessage("VWO settings file loaded").All()
			require.Len(t, loaded, 1)
			assert.Equal(t, testAccount, loaded[0].ContextMap()["account_id"])
		})
	}
}

func TestVWOUnchangedAndChanged(t *testing.T) {
	h := newVWOHarness(t, time.Hour)
	ctx := context.Background()
	require.Nil(t, h.poller.Current())
	assert.Empty(t, h.poller.Revision())

	require.NoError(t, h.poller.FetchNow(ctx))
	first := h.poller.Current()
	require.NotNil(t, first)
	assert.Equal(t, testAccount, first.AccountID)
	assert.Equal(t, SettingsRevision(vwoBody(1)), h.poller.Revision())
	assert.Equal(t, []int{1}, h.updates.versions())
	loaded := h.logs.FilterMessage("VWO settings file loaded").All()
	require.Len(t, loaded, 1)
	assert.Equal(t, zapcore.InfoLevel, loaded[0].Level)
	assert.Equal(t, SettingsRevision(vwoBody(1)), loaded[0].ContextMap()["revision"])

	// Same body again (no validators): not delivered, not even parsed again.
	for range 3 {
		require.NoError(t, h.poller.FetchNow(ctx))
	}
	assert.Same(t, first, h.poller.Current())
	assert.Equal(t, []int{1}, h.updates.versions())
	assert.Equal(t, 1, h.updates.parseCount())
	assert.Equal(t, 3, pollertest.CountMessage(h.logs, "VWO settings file unchanged"))

	// Changed body: delivered.
	h.srv.SetBody(vwoBody(2))
	require.NoError(t, h.poller.FetchNow(ctx))
	assert.Equal(t, 2, h.poller.Current().Version)
	assert.Equal(t, []int{1, 2}, h.updates.versions())
	updated := h.logs.FilterMessage("VWO settings file updated").All()
	require.Len(t, updated, 1)
	assert.Equal(t, SettingsRevision(vwoBody(2)), updated[0].ContextMap()["revision"])
	assert.Equal(t, SettingsRevision(vwoBody(1)), updated[0].ContextMap()["previous_revision"])

	// Any byte counts: whitespace alone is a new revision.
	h.srv.SetBody(append(vwoBody(2), '\n'))
	require.NoError(t, h.poller.FetchNow(ctx))
	assert.Equal(t, []int{1, 2, 2}, h.updates.versions())
	assert.Equal(t, 0, pollertest.CountMessage(h.logs, "waiting for the first"))
	assert.Equal(t, 0, pollertest.CountMessage(h.logs, "Optimizely"))
}

func TestVWOConditionalRequests(t *testing.T) {
	h := newVWOHarness(t, time.Hour)
	h.srv.Lock()
	h.srv.ETag, h.srv.LastModified = `"v1"`, lm1
	h.srv.Unlock()
	ctx := context.Background()
	require.NoError(t, h.poller.FetchNow(ctx))
	require.NoError(t, h.poller.FetchNow(ctx)) // 304
	req := h.srv.Seen()
	require.Len(t, req, 2)
	assert.Empty(t, req[0].IfNoneMatch)
	assert.Empty(t, req[0].IfModifiedSince)
	assert.Equal(t, `"v1"`, req[1].IfNoneMatch)
	assert.Equal(t, lm1, req[1].IfModifiedSince)
	assert.Equal(t, 1, pollertest.CountMessage(h.logs, "VWO settings file not modified"))
	assert.Equal(t, []int{1}, h.updates.versions())
}

func TestVWODefaultParse(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(vwoBody(7))
	}))
	defer ts.Close()
	var got []map[string]any
	p := NewSettingsPoller(PollConfig{AccountID: testAccount, SDKKey: testKey, URL: ts.URL, Client: ts.Client()},
		nil, func(m map[string]any, _ string) { got = append(got, m) })
	defer p.Shutdown()
	require.NoError(t, p.FetchNow(context.Background()))
	require.Len(t, got, 1)
	assert.InDelta(t, 7, got[0]["version"], 0)
	assert.Equal(t, got[0], p.Current())
}

func TestVWOInvalidKeepsLastGood(t *testing.T) {
	h := newVWOHarness(t, time.Hour)
	require.NoError(t, h.poller.FetchNow(context.Background()))
	good := h.poller.Current()

	// The parse error quotes the body, which holds the key: redacted in the error and logs.
	h.srv.SetBody(append([]byte("<html>"), vwoBody(2)...))
	err := h.poller.FetchNow(context.Background())
	pollertest.AssertErrNoSecrets(t, err, testKey)
	assert.Contains(t, err.Error(), poller.SDKKeyPlaceholder)
	h.srv.SetBody([]byte(`{"version":3}`))
	err = h.poller.FetchNow(context.Background())
	pollertest.AssertErrNoSecrets(t, err, testKey)
	assert.Same(t, good, h.poller.Current())
	assert.Equal(t, []int{1}, h.updates.versions())

	warns := h.logs.FilterLevelExact(zapcore.WarnLevel).All()
	require.Len(t, warns, 2)
	for _, w := range warns {
		assert.Equal(t, "VWO settings file rejected; keeping the last good settings file", w.Message)
		assert.Contains(t, w.ContextMap(), "error")
		assert.Equal(t, SettingsRevision(vwoBody(1)), w.ContextMap()["current_revision"])
		assert.Contains(t, w.ContextMap()["url"], "i="+poller.SDKKeyPlaceholder)
	}

	// The rejected bodies did not become the revision: the first body is still unchanged.
	h.srv.SetBody(vwoBody(1))
	require.NoError(t, h.poller.FetchNow(context.Background()))
	assert.Equal(t, []int{1}, h.updates.versions())
}

func TestVWORefusedKeepsLastGood(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			h := newVWOHarness(t, time.Hour)
			require.NoError(t, h.poller.FetchNow(context.Background()))
			good := h.poller.Current()

			h.srv.SetStatus(status)
			err := h.poller.FetchNow(context.Background())
			pollertest.AssertErrNoSecrets(t, err, testKey)
			assert.Contains(t, err.Error(), fmt.Sprint(status))
			assert.Contains(t, err.Error(), "vwo::account_id")
			assert.Contains(t, err.Error(), "vwo::sdk_key")
			assert.Same(t, good, h.poller.Current())
			assert.Equal(t, []int{1}, h.updates.versions())

			refused := h.logs.FilterMessageSnippet("vwo::sdk_key").All()
			require.Len(t, refused, 1)
			assert.Contains(t, refused[0].Message, "VWO settings file request refused")
			assert.Contains(t, refused[0].Message, "vwo::account_id")
			assert.NotContains(t, refused[0].Message, "optimizely")
			assert.GreaterOrEqual(t, refused[0].Level, zapcore.WarnLevel)
			assert.Equal(t, int64(status), refused[0].ContextMap()["status"])
			// The body echoed the URL (with the key); it is logged redacted.
			assert.Contains(t, refused[0].ContextMap()["body"], "i="+poller.SDKKeyPlaceholder)
			assert.Contains(t, refused[0].ContextMap()["url"], "i="+poller.SDKKeyPlaceholder)
		})
	}
	t.Run("other statuses give no hint", func(t *testing.T) {
		h := newVWOHarness(t, time.Hour)
		h.srv.SetStatus(http.StatusInternalServerError)
		err := h.poller.FetchNow(context.Background())
		pollertest.AssertErrNoSecrets(t, err, testKey)
		assert.NotContains(t, err.Error(), "vwo::")
		assert.Equal(t, 1, pollertest.CountMessage(h.logs, "VWO settings file request failed; keeping the last good settings file"))
	})
}

func TestVWONetworkErrorRedactsURL(t *testing.T) {
	h := newVWOHarness(t, time.Hour)
	h.ts.Close() // server unreachable
	for range 3 {
		err := h.poller.FetchNow(context.Background())
		pollertest.AssertErrNoSecrets(t, err, testKey)
		assert.NotContains(t, err.Error(), "server-side")
		assert.Contains(t, err.Error(), "settings file request failed")
	}
	assert.Nil(t, h.poller.Current())
	assert.Equal(t, 1, pollertest.CountMessage(h.logs, "waiting for the first VWO settings file; records are kept in the sending queue until it arrives"))
	assert.Len(t, h.logs.FilterLevelExact(zapcore.WarnLevel).All(), 3)
}

func TestVWOEscapedKeyRedacted(t *testing.T) {
	const key = "Secret+Key/With=Odd&Chars"
	var gotKey string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey = r.URL.Query().Get("i")
		http.Error(w, "bad key "+r.URL.RawQuery+" raw "+r.URL.Query().Get("i"), http.StatusForbidden)
	}))
	defer ts.Close()
	core, logs := observer.New(zapcore.DebugLevel)
	p := NewSettingsPoller(PollConfig{AccountID: 1, SDKKey: configopaque.String(key), URL: ts.URL, Client: ts.Client(), Logger: zap.New(core)},
		nil, func(map[string]any, string) {})
	defer p.Shutdown()
	err := p.FetchNow(context.Background())
	require.Error(t, err)
	assert.Equal(t, key, gotKey, "the key is query-escaped")
	assert.NotContains(t, err.Error(), key)
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			s := fmt.Sprint(v)
			assert.NotContains(t, s, key, k)
			assert.NotContains(t, s, url.QueryEscape(key), k)
		}
	}
	assert.Equal(t, 1, logs.FilterMessageSnippet("vwo::sdk_key").Len())
}

func TestVWOMissingConfig(t *testing.T) {
	requests := 0
	ts := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests++ }))
	defer ts.Close()
	for _, tc := range []struct {
		cfg  PollConfig
		want []string
	}{
		{PollConfig{SDKKey: testKey}, []string{"vwo::account_id is not set"}},
		{PollConfig{AccountID: testAccount}, []string{"vwo::sdk_key is empty"}},
		{PollConfig{}, []string{"vwo::account_id is not set", "vwo::sdk_key is empty"}},
	} {
		core, logs := observer.New(zapcore.DebugLevel)
		tc.cfg.URL, tc.cfg.Client, tc.cfg.Logger = ts.URL, ts.Client(), zap.New(core)
		p := NewSettingsPoller(tc.cfg, nil, func(map[string]any, string) {})
		err := p.FetchNow(context.Background())
		require.Error(t, err)
		for _, w := range tc.want {
			assert.Contains(t, err.Error(), w)
		}
		assert.NotContains(t, err.Error(), testKey)
		assert.Equal(t, 1, logs.FilterMessage("cannot fetch the VWO settings file").Len())
		pollertest.AssertNoSecrets(t, logs, testKey)
		p.Shutdown()
	}
	assert.Zero(t, requests)
}

func TestVWOStartRecoversFromServerDown(t *testing.T) {
	h := newVWOHarness(t, 50*time.Millisecond)
	h.srv.Lock()
	h.srv.FailFirst = 3
	h.srv.Unlock()
	h.poller.Start()
	h.poller.Start() // no second goroutine
	require.Eventually(t, func() bool { return h.poller.Current() != nil }, 15*time.Second, 10*time.Millisecond)
	assert.Equal(t, []int{1}, h.updates.versions())
	assert.Equal(t, 1, pollertest.CountMessage(h.logs, "waiting for the first VWO settings file"))
	assert.GreaterOrEqual(t, len(h.logs.FilterLevelExact(zapcore.WarnLevel).All()), 3)
	assert.Equal(t, 1, pollertest.CountMessage(h.logs, "VWO settings file loaded"))

	// Keeps polling at the interval: unchanged content delivers nothing, a change does.
	n := len(h.srv.Seen())
	require.Eventually(t, func() bool { return len(h.srv.Seen()) >= n+3 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, []int{1}, h.updates.versions())
	h.srv.SetBody(vwoBody(2))
	require.Eventually(t, func() bool { return h.poller.Current().Version == 2 }, 10*time.Second, 10*time.Millisecond)
	h.poller.Shutdown()
	h.poller.Shutdown()
	n = len(h.srv.Seen())
	time.Sleep(150 * time.Millisecond)
	assert.Equal(t, n, len(h.srv.Seen()), "no request after Shutdown")
	assert.Equal(t, []int{1, 2}, h.updates.versions())
	assert.Equal(t, 1, pollertest.CountMessage(h.logs, "waiting for the first VWO settings file"))
	for _, r := range h.srv.Seen() {
		checkVWOQuery(t, r.RawQuery)
	}
}

func TestVWOShutdownCancelsInFlight(t *testing.T) {
	h := newVWOHarness(t, time.Hour)
	h.srv.Lock()
	h.srv.Block = true
	h.srv.Unlock()
	h.poller.Start()
	select {
	case <-h.srv.Blocked:
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
	assert.Equal(t, 1, pollertest.CountMessage(h.logs, "VWO settings file fetch cancelled by shutdown"))

	// FetchNow after Shutdown fails at once.
	pollertest.AssertErrNoSecrets(t, h.poller.FetchNow(context.Background()), testKey)
	assert.Len(t, h.srv.Seen(), 1)
}

func TestVWOShutdownWithoutStart(t *testing.T) {
	p := NewSettingsPoller[map[string]any](PollConfig{AccountID: 1, SDKKey: "k"}, nil, nil)
	p.Shutdown()
	p.Shutdown()
	p.Start() // after Shutdown: no goroutine
	p.Shutdown()
	assert.Nil(t, p.Current())
}
