//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
	"github.com/experimentationexporter/experimentationexporter/testbed/harness"
)

// TestRealGoClient runs testbed/e2e/goclient, a Go app that decides flags with the official
// Optimizely Go SDK behind an OpenFeature provider and reports each evaluation with the
// OpenFeature contrib OpenTelemetry hook (a feature_flag.evaluation span event), into
// a collector with a traces pipeline and no mapping config. The impressions that reach
// the Event API must be exactly those the SDK itself dispatched (captured by the app
// and written to its -expect file): per (visitor_id, flag_key) the same campaign,
// experiment, variation, rule and enabled flag, none missing and none extra.
func TestRealGoClient(t *testing.T) {
	const users = 200
	e := newEnv(t, options{batchSize: 50, traces: true})
	bin := buildGoClient(t)
	expect := filepath.Join(t.TempDir(), "want.jsonl")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"-datafile", repoPath(t, "testdata/datafile.json"),
		"-otlp", "http://"+e.otlp,
		"-users", strconv.Itoa(users),
		"-expect", expect)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "goclient: %s", out)
	t.Logf("%s", out)

	want, evaluations := readExpect(t, expect)
	require.Equal(t, 4*users, evaluations, "every flag of the datafile for every user")
	require.NotEmpty(t, want)

	ok := harness.WaitFor(context.Background(), time.Minute, func() bool {
		return e.api.Stats().Impressions >= len(want)
	})
	time.Sleep(time.Second) // flush_interval is 200ms: anything extra arrives by now
	st := e.api.Stats()
	for _, r := range e.api.Requests() {
		if !r.Accepted() {
			t.Errorf("a rejected request: %d %s", r.Status, r.Error)
			break
		}
	}
	assert.Zero(t, st.Rejected)
	assert.Zero(t, st.Conversions)
	if !ok {
		t.Errorf("the events API received %d of %d impressions", st.Impressions, len(want))
	}

	missingKeys, extra, differ := harness.DiffImpressions(want, receivedImpressions(t, e.api.Accepted()))
	report(t, "impressions missing", missingKeys)
	report(t, "impressions extra", extra)
	report(t, "impressions that differ from the SDK's", differ)
}

// receivedImpressions collects the impressions the Event API accepted, by evaluation.
func receivedImpressions(t *testing.T, reqs []eventsapi.Received) map[harness.EvalKey][]harness.Impression {
	t.Helper()
	bodies := make([][]byte, len(reqs))
	for i, r := range reqs {
		bodies[i] = r.Body
	}
	got, err := harness.ReceivedImpressions(bodies)
	require.NoError(t, err)
	return got
}

// readExpect reads the goclient's -expect file and counts its evaluations.
func readExpect(t *testing.T, path string) (map[harness.EvalKey]harness.Impression, int) {
	t.Helper()
	want, byFlag, err := harness.ReadExpect(path)
	require.NoError(t, err)
	n := 0
	for _, c := range byFlag {
		n += c
	}
	return want, n
}

// report fails the test with the count and the first few of a sorted list.
func report(t *testing.T, what string, items []string) {
	t.Helper()
	if len(items) == 0 {
		return
	}
	sort.Strings(items)
	show := items[:min(10, len(items))]
	t.Errorf("%d %s, e.g.:\n  %s", len(items), what, strings.Join(show, "\n  "))
}

// buildGoClient builds testbed/e2e/goclient (its own module) into a temporary directory.
func buildGoClient(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "goclient")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = repoPath(t, "testbed/e2e/goclient")
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "building testbed/e2e/goclient: %s", out)
	return bin
}
