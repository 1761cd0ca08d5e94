package experimentationexporter

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
)

// recorder is an httptest handler that answers with respond and keeps every body.
type recorder struct {
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
	respond func(n int, body []byte, w http.ResponseWriter)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	n := len(rec.bodies)
	rec.bodies = append(rec.bodies, body)
	rec.headers = append(rec.headers, r.Header.Clone())
	rec.mu.Unlock()
	if rec.respond == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	rec.respond(n, body, w)
}

func (rec *recorder) requests() [][]byte {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([][]byte(nil), rec.bodies...)
}

// visitorIDs lists the visitor ids of EventBatch bodies in order.
func visitorIDs(t *testing.T, bodies ...[]byte) []string {
	var out []string
	for _, body := range bodies {
		var batch struct {
			Visitors []struct {
				ID string `json:"visitor_id"`
			} `json:"visitors"`
		}
		require.NoError(t, json.Unmarshal(body, &batch), string(body))
		for _, v := range batch.Visitors {
			out = append(out, v.ID)
		}
	}
	return out
}

// visitors builds n impressions for visitors v0..v(n-1).
func visitors(n int) plog.Logs {
	fns := make([]func(plog.LogRecord), n)
	for i := range fns {
		fns[i] = impression("v"+itoa(i), "checkout_redesign", "checkout_redesign_ab", "control")
	}
	return logsOf(fns...)
}

func itoa(i int) string { return strconv.Itoa(i) }

func vids(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, "v"+itoa(i))
	}
	return out
}

func pushAll(t *testing.T, e *experimentationExporter, ld plog.Logs) error {
	t.Helper()
	req, err := e.convert(context.Background(), ld)
	require.NoError(t, err)
	return e.push(context.Background(), req)
}

func TestStatusHandling(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		wantErr    string
		permanent  bool
		throttle   string
	}{
		{name: "204 accepted", status: 204},
		{name: "200 accepted", status: 200},
		{name: "202 accepted", status: 202},
		{name: "429 with Retry-After seconds", status: 429, retryAfter: "7", wantErr: "events API answered 429", throttle: "Throttle (7s)"},
		{name: "503 with Retry-After date", status: 503, retryAfter: time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), wantErr: "events API answered 503", throttle: "Throttle (59m"},
		{name: "503 without Retry-After retries", status: 503, wantErr: "events API answered 503"},
		{name: "408 retries", status: 408, wantErr: "events API answered 408"},
		{name: "500 retries", status: 500, wantErr: "events API answered 500"},
		{name: "502 retries", status: 502, wantErr: "events API answered 502"},
		{name: "401 is permanent", status: 401, wantErr: "events API answered 401", permanent: true},
		{name: "403 is permanent", status: 403, wantErr: "events API answered 403", permanent: true},
		{name: "404 is permanent", status: 404, wantErr: "events API answered 404", permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{respond: func(_ int, _ []byte, w http.ResponseWriter) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, `{"error":"because"}`)
			}}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			e := startedExporter(t, testConfig(srv.URL+"/v1/events"))
			err := pushAll(t, e, visitors(3))
			require.Len(t, rec.requests(), 1)
			assert.Equal(t, "application/json", rec.headers[0].Get("Content-Type"))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			assert.Equal(t, tt.permanent, consumererror.IsPermanent(err))
			if tt.throttle != "" {
				assert.Contains(t, err.Error(), tt.throttle)
			} else {
				assert.NotContains(t, err.Error(), "Throttle")
			}
			if !tt.permanent {
				var pe *partialError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, 3, pe.remaining.ItemsCount())
			}
		})
	}
}

func TestNetworkErrorRetriesWithoutURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/v1/events"
	srv.Close()
	e := startedExporter(t, testConfig(url))
	err := pushAll(t, e, visitors(2))
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err))
	assert.NotContains(t, err.Error(), url)
}

func TestBadRequestBisectsToThePoisonEvent(t *testing.T) {
	rec := &recorder{respond: func(_ int, body []byte, w http.ResponseWriter) {
		if strings.Contains(string(body), `"visitor_id":"v6"`) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"visitors[0]: bad"}`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	e := startedExporter(t, testConfig(srv.URL))
	require.NoError(t, pushAll(t, e, visitors(10)))

	var delivered []string
	for _, b := range rec.requests() {
		if !strings.Contains(string(b), `"visitor_id":"v6"`) {
			delivered = append(delivered, visitorIDs(t, b)...)
		}
	}
	assert.ElementsMatch(t, append(vids(0, 6), vids(7, 10)...), delivered, "exactly the 9 good events arrive")
}

func TestPayloadTooLargeSplitsInHalves(t *testing.T) {
	rec := &recorder{respond: func(_ int, body []byte, w http.ResponseWriter) {
		if len(visitorIDs(t, body)) > 2 {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	e := startedExporter(t, testConfig(srv.URL))
	require.NoError(t, pushAll(t, e, visitors(8)))
	reqs := rec.requests()
	// 8 → 413, 4 → 413, 2 ok, 2 ok, 4 → 413, 2 ok, 2 ok.
	require.Len(t, reqs, 7)
	var delivered []string
	for _, b := range reqs {
		if ids := visitorIDs(t, b); len(ids) <= 2 {
			delivered = append(delivered, ids...)
		}
	}
	assert.Equal(t, vids(0, 8), delivered)
}

func TestRequestsNeverExceedMaxPayloadBytes(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	cfg := testConfig(srv.URL)
	cfg.MaxPayloadBytes = 2048
	e := startedExporter(t, cfg)
	require.NoError(t, pushAll(t, e, visitors(40)))
	var delivered []string
	for _, b := range rec.requests() {
		assert.LessOrEqual(t, len(b), 2048)
		delivered = append(delivered, visitorIDs(t, b)...)
	}
	assert.Equal(t, vids(0, 40), delivered)
	assert.Greater(t, len(rec.requests()), 1)
}

func TestEventLargerThanCapIsDroppedAlone(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	cfg := testConfig(srv.URL)
	cfg.MaxPayloadBytes = 2048
	e := startedExporter(t, cfg)
	huge := with(impression("huge", "checkout_redesign", "checkout_redesign_ab", "control"), func(lr plog.LogRecord) {
		lr.Attributes().PutStr("user_agent.original", strings.Repeat("x", 4000))
	})
	ld := logsOf(impression("a", "checkout_redesign", "checkout_redesign_ab", "control"), huge,
		impression("b", "checkout_redesign", "checkout_redesign_ab", "control"))
	require.NoError(t, pushAll(t, e, ld))
	var delivered []string
	for _, b := range rec.requests() {
		delivered = append(delivered, visitorIDs(t, b)...)
	}
	assert.Equal(t, []string{"a", "b"}, delivered)
}

func TestRetryResendsOnlyEventsNotYetAccepted(t *testing.T) {
	rec := &recorder{respond: func(n int, _ []byte, w http.ResponseWriter) {
		if n == 1 { // the second request fails once
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	cfg := testConfig(srv.URL)
	cfg.MaxPayloadBytes = 2048 // about 3 events a request
	e := startedExporter(t, cfg)
	req, err := e.convert(context.Background(), visitors(9))
	require.NoError(t, err)
	err = e.push(context.Background(), req)
	var pe *partialError
	require.ErrorAs(t, err, &pe)
	// What the retry sender does: push what OnError returns.
	require.NoError(t, e.push(context.Background(), req.(*eventBatch).OnError(err)))

	reqs := rec.requests()
	first := visitorIDs(t, reqs[0])
	failed := visitorIDs(t, reqs[1])
	var afterRetry []string
	for _, b := range reqs[2:] {
		afterRetry = append(afterRetry, visitorIDs(t, b)...)
	}
	assert.Equal(t, vids(len(first), 9), afterRetry, "the retry starts at the failed request")
	assert.Equal(t, failed, afterRetry[:len(failed)])
	assert.Equal(t, vids(0, len(first)), first)
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{"Mon, 23 Nov 2026 10:00:30 GMT", 30 * time.Second, true},
		{"Mon, 23 Nov 2026 09:00:00 GMT", 0, true},
	} {
		got, ok := parseRetryAfter(tt.in, now)
		assert.Equal(t, tt.ok, ok, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	assert.True(t, errors.Is(&partialError{err: context.Canceled}, context.Canceled))
}

func TestConcurrentRequestsReuseConnections(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	e := startedExporter(t, testConfig(srv.URL))
	var wg sync.WaitGroup
	for g := 0; g < 10; g++ {
		wg.Go(func() {
			for i := 0; i < 50; i++ {
				assert.NoError(t, pushAll(t, e, visitors(10)))
			}
		})
	}
	wg.Wait()
	// Go's default of 2 idle connections per host would open hundreds here.
	assert.LessOrEqual(t, conns.Load(), int64(20))
}
