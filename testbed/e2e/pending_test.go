//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/experimentationexporter/experimentationexporter/testbed/harness"
)

// cdn is a datafile CDN that answers 503 until serve is called.
type cdn struct {
	*httptest.Server
	datafile []byte
	up       atomic.Bool
	requests atomic.Int64 // requests for the datafile
	served   atomic.Int64 // answered with the datafile
}

func newCDN(t *testing.T) *cdn {
	t.Helper()
	df, err := os.ReadFile(repoPath(t, "testdata/datafile.json"))
	require.NoError(t, err)
	c := &cdn{datafile: df}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/datafiles/"+cdnSDKKey+".json" {
			http.NotFound(w, r)
			return
		}
		c.requests.Add(1)
		if !c.up.Load() {
			http.Error(w, "CDN unavailable", http.StatusServiceUnavailable)
			return
		}
		c.served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(c.datafile)
	}))
	t.Cleanup(c.Close)
	return c
}

// TestPendingSurvivesPersistentQueue emits impressions while the CDN is down, so the
// exporter cannot build events and keeps the raw records in the file_storage sending
// queue. With or without a kill -9 in between, every one is delivered once the datafile
// arrives: a pending batch read back from disk is still recognised as pending.
func TestPendingSurvivesPersistentQueue(t *testing.T) {
	const users = 2000 // impressions only
	for _, kill := range []bool{false, true} {
		name := "no_kill"
		if kill {
			name = "kill"
		}
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			c := newCDN(t)
			// A free port for the collector's own metrics rather than the default 8888,
			// which another collector may hold.
			metricsPort, err := harness.FreePort()
			require.NoError(t, err)
			e := newEnv(t, options{batchSize: 100, persistent: true, sdkKeyCDN: c.URL, metricsPort: metricsPort})
			e.emit(0, users, false) // returns when the collector queued every OTLP request

			// The exporter asked the CDN, got 503s, and could not build a single event.
			require.True(t, harness.WaitFor(context.Background(), 10*time.Second, func() bool {
				return c.requests.Load() >= 2
			}), "the exporter polls the CDN")
			time.Sleep(500 * time.Millisecond)
			require.Zero(t, e.api.Stats().Requests, "no event can be built before the datafile")
			require.Zero(t, c.served.Load())

			if kill {
				require.NoError(t, e.collector.Kill()) // kill -9 with everything pending on disk
				before := c.requests.Load()
				require.NoError(t, e.collector.Start(30*time.Second)) // same config and queue directory
				require.True(t, harness.WaitFor(context.Background(), 10*time.Second, func() bool {
					return c.requests.Load() > before
				}), "the restarted collector polls the CDN")
				time.Sleep(500 * time.Millisecond)
				require.Zero(t, e.api.Stats().Requests, "still no datafile after the restart")
			}

			c.up.Store(true)
			upAt := time.Now()
			uuids := e.waitEvents(users, 30*time.Second)
			took := time.Since(upAt)
			n, some := missing(uuids, wantIDs(0, users, false))
			assert.Zero(t, n, "lost records kept before the first datafile, e.g. %v", some)
			assert.Len(t, uuids, users, "no uuid the app did not send")
			d := duplicates(uuids)
			if !kill {
				assert.Zero(t, d, "without a crash nothing is sent twice")
			}
			st := e.api.Stats()
			t.Logf("kill -9=%v: %d of %d delivered %s after the CDN came up (%d CDN requests), %d duplicates, %d requests, %d rejected; subtest %s",
				kill, users-n, users, took.Round(time.Millisecond), c.requests.Load(), d, st.Requests, st.Rejected,
				time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestShutdownInTimeWithoutDatafile: SIGTERM while every record waits for a datafile the
// CDN does not serve. The collector exits within timeout_interval + 5 s; an in-memory
// queue says once, at error level, how many records it gave up; a file_storage queue keeps
// them on disk, and after a plain restart with the CDN up every one is delivered.
func TestShutdownInTimeWithoutDatafile(t *testing.T) {
	const users = 300
	const timeoutInterval = 3 * time.Second
	for _, persistent := range []bool{false, true} {
		name := "in_memory"
		if persistent {
			name = "file_storage"
		}
		t.Run(name, func(t *testing.T) {
			c := newCDN(t)
			e := newEnv(t, options{batchSize: 50, persistent: persistent, sdkKeyCDN: c.URL, timeoutInterval: timeoutInterval.String()})
			e.emit(0, users, false)
			require.True(t, harness.WaitFor(context.Background(), 10*time.Second, func() bool {
				return c.requests.Load() >= 2
			}), "the exporter polls the CDN")

			start := time.Now()
			require.NoError(t, e.collector.Stop(timeoutInterval+5*time.Second), "exit within timeout_interval + 5s")
			took := time.Since(start)
			assert.Zero(t, e.api.Stats().Requests, "no datafile, no event")
			out := e.collector.Output()
			if !persistent {
				assert.Equal(t, 1, strings.Count(out, "the drain deadline passed"), "said once")
				assert.Contains(t, out, fmt.Sprintf(`"lost": %d`, users))
				t.Logf("in-memory queue: stopped in %s, %d records given up", took.Round(time.Millisecond), users)
				return
			}
			assert.NotContains(t, out, "the drain deadline passed", "a persistent queue loses nothing")

			c.up.Store(true)
			require.NoError(t, e.collector.Start(30*time.Second)) // same config and queue directory
			uuids := e.waitEvents(users, 30*time.Second)
			n, some := missing(uuids, wantIDs(0, users, false))
			assert.Zero(t, n, "lost records kept on disk over the shutdown, e.g. %v", some)
			assert.Zero(t, duplicates(uuids))
			t.Logf("file_storage: stopped in %s; after the restart %d of %d delivered", took.Round(time.Millisecond), users-n, users)
		})
	}
}
