package experimentationexporter

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
)

// assertNoSecrets fails when any captured log entry mentions a secret, in its message,
// its fields or the printed form of its field values.
func assertNoSecrets(t *testing.T, logs *observer.ObservedLogs, secrets ...string) {
	t.Helper()
	require.NotZero(t, logs.Len(), "logs were captured")
	for _, e := range logs.All() {
		texts := append([]string{e.Message}, fieldStrings(e.Context)...)
		for _, f := range e.Context {
			texts = append(texts, fmt.Sprint(f.Interface), fmt.Sprint(f.Integer))
		}
		for _, s := range texts {
			for _, secret := range secrets {
				assert.NotContains(t, s, secret, "log entry %q", e.Message)
			}
		}
	}
}

// TestSecretsNeverReachLogs runs a full send, fail, retry and reject cycle with debug
// logging, a datafile CDN that first refuses the token, and checks every log line.
func TestSecretsNeverReachLogs(t *testing.T) {
	const sdkKey, token = "SdkKeyVerySecret42", "DatafileTokenVerySecret43"
	srv := replica(t)
	srv.Script(
		eventsapi.Step{Status: http.StatusServiceUnavailable, RetryAfter: "0", Body: "echo " + sdkKey},
		eventsapi.Step{Status: http.StatusInternalServerError},
		eventsapi.Step{Status: http.StatusBadRequest, Body: `{"error":"` + token + `"}`},
	)
	refused := true
	c := &cdn{revision: "131"}
	cdnSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refused {
			refused = false
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte("forbidden for " + sdkKey))
			return
		}
		c.ServeHTTP(w, r)
	}))
	defer cdnSrv.Close()

	cfg := sdkKeyConfig(t, srv.URL()+"/v1/events", cdnSrv.URL)
	cfg.Optimizely.SDKKey, cfg.Optimizely.DatafileAccessToken = sdkKey, token
	cfg.BatchSize = 4
	cfg.FlushInterval = 20 * time.Millisecond
	exp, logs := startObservedLogs(t, cfg, zap.DebugLevel)
	require.NoError(t, exp.ConsumeLogs(context.Background(), visitors(4)))
	require.Eventually(t, func() bool { return len(deliveredIDs(t, srv)) >= 3 }, 15*time.Second, 20*time.Millisecond)
	require.NoError(t, exp.Shutdown(context.Background()))

	assert.NotZero(t, logs.FilterMessageSnippet("Dispatched events request").Len(), "debug dispatch lines were logged")
	assertNoSecrets(t, logs, sdkKey, token)
}

func TestVWOKeyNeverReachesLogs(t *testing.T) {
	srv := replica(t)
	srv.Script(eventsapi.Step{Status: http.StatusInternalServerError, Body: "bad key " + vwoKey})
	cfg := vwoConfig(srv)
	cfg.BatchSize = 2
	exp, logs := startObservedLogs(t, cfg, zap.DebugLevel)
	require.NoError(t, exp.ConsumeLogs(context.Background(), logsOf(vwoImpression("a", 1, 1), vwoImpression("b", 1, 1))))
	require.Eventually(t, func() bool { return len(srv.Accepted()) == 1 }, 10*time.Second, 10*time.Millisecond)
	srv.Close() // now a network error
	require.NoError(t, exp.ConsumeLogs(context.Background(), logsOf(vwoImpression("c", 1, 1), vwoImpression("d", 1, 1))))
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second) // the API stays down: drain briefly
	defer cancel()
	_ = exp.Shutdown(ctx)
	assertNoSecrets(t, logs, vwoKey)
}

// Header values (an API key for a proxy in front of the events API) are secrets too:
// redacted when the API echoes them, and sent to the events API only, never to the CDN.
func TestHeaderValuesAreSecretsAndStayWithTheEventsAPI(t *testing.T) {
	const apiKey, bearer = "ProxyApiKeyVerySecret44", "Bearer ProxyTokenVerySecret45"
	srv := replica(t)
	srv.Script(eventsapi.Step{Status: http.StatusServiceUnavailable, RetryAfter: "0", Body: "bad request with headers x-api-key=" + apiKey + " authorization=" + bearer})
	var cdnHeaders []http.Header
	c := &cdn{revision: "131"}
	cdnSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		cdnHeaders = append(cdnHeaders, r.Header.Clone())
		c.mu.Unlock()
		c.ServeHTTP(w, r)
	}))
	defer cdnSrv.Close()

	cfg := sdkKeyConfig(t, srv.URL()+"/v1/events", cdnSrv.URL)
	cfg.Optimizely.DatafileAccessToken = ""
	cfg.Headers.Set("X-Api-Key", apiKey)
	cfg.Headers.Set("Authorization", bearer)
	cfg.BatchSize = 2
	cfg.FlushInterval = 20 * time.Millisecond
	exp, logs := startObservedLogs(t, cfg, zap.DebugLevel)
	require.NoError(t, exp.ConsumeLogs(context.Background(), visitors(2)))
	require.Eventually(t, func() bool { return len(deliveredIDs(t, srv)) == 2 }, 15*time.Second, 20*time.Millisecond)
	require.NoError(t, exp.Shutdown(context.Background()))

	for _, r := range srv.Requests() {
		assert.Equal(t, apiKey, r.Header.Get("X-Api-Key"), "the events API gets the configured headers")
		assert.Equal(t, "application/json", r.Header.Get("Accept"), "as the SDKs send it")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	require.NotEmpty(t, cdnHeaders)
	for _, h := range cdnHeaders {
		assert.Empty(t, h.Get("X-Api-Key"), "the CDN never gets the events API's headers")
		assert.Empty(t, h.Get("Authorization"))
	}
	assert.NotZero(t, logs.FilterMessageSnippet("Dispatched events request").Len())
	assertNoSecrets(t, logs, apiKey, "ProxyTokenVerySecret45")
}

func TestProxyPasswordIsASecret(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1/v1/events")
	cfg.ProxyURL = "http://user:ProxyPassword46@127.0.0.1:3128"
	assert.Contains(t, secretValues(cfg), "ProxyPassword46")
}
