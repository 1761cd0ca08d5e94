//go:build e2e

package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
)

// TestGracefulShutdownDrains stops the collector (SIGTERM) while the events API is down
// and its in-memory queue holds events: the exporter keeps retrying during shutdown and
// delivers them once the API recovers, before the process exits.
func TestGracefulShutdownDrains(t *testing.T) {
	const users = 1000 // 2000 events
	e := newEnv(t, options{batchSize: 100})
	recoverAt := time.Now().Add(2 * time.Second)
	e.api.SetFault(func(*http.Request, []byte) *eventsapi.Step {
		if time.Now().Before(recoverAt) {
			return &eventsapi.Step{Status: http.StatusServiceUnavailable}
		}
		return nil
	})
	e.emit(0, users, true)
	start := time.Now()
	require.NoError(t, e.collector.Stop(40*time.Second))
	t.Logf("SIGTERM to exit: %s", time.Since(start).Round(time.Millisecond))
	uuids := e.api.UUIDs()
	n, some := missing(uuids, wantIDs(0, users, true))
	assert.Zero(t, n, "not delivered before exit, e.g. %v", some)
	assert.NotZero(t, e.api.Stats().Rejected)
}
