//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/experimentationexporter/experimentationexporter/testbed/harness"
)

// audiencesDatafile is a datafile whose audiences decide between rules of a flag that
// hold the same variation keys (internal/sdkcompat/testdata/rich_datafile.json with
// every holdout global and running, and recs_everyone_else at 100%): which rule gave a
// user "on" or "off" depends on the user's attributes. It has no scoped holdouts
// (go-sdk v2.3.1 honours includedFlags/excludedFlags, the JavaScript SDK 6.x and the
// exporter do not) and nothing that is not running (go-sdk ignores experiment status),
// so the Go SDK's decisions are the ones the exporter recomputes.
const audiencesDatafile = "testbed/e2e/testdata/audiences_datafile.json"

// TestRecipeNodeVisitorAttributes is the README's Node.js recipe: the app puts the visitor
// attributes in the OpenFeature evaluation context and creates the EventHook with an
// attributeMapper that copies them to experiment.visitor.attributes (emit.mjs
// --attributes). The exporter evaluates the datafile's audiences on them, so every
// impression is the one the Optimizely SDK sent, field by field, and no rule is guessed:
// impressions_resolved{resolution="ambiguous"} stays 0. The same evaluations sent
// without the attributes (the hook's defaults) are counted as ambiguous: the metric
// that tells an operator to apply the recipe.
func TestRecipeNodeVisitorAttributes(t *testing.T) {
	const users = 200
	binary(t)
	nodeDir := nodeClient(t)

	dir := t.TempDir()
	expectPath := filepath.Join(dir, "expect.jsonl")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, buildGoClient(t), "-datafile", repoPath(t, audiencesDatafile),
		"-users", strconv.Itoa(users), "-attributes", "-otlp", "", "-expect", expectPath).CombinedOutput()
	require.NoError(t, err, "goclient: %s", out)
	want, evaluations := readExpect(t, expectPath)
	require.Len(t, want, evaluations, "the SDK sends an impression for every evaluation of this datafile")

	// Half of the users over OTLP/HTTP protobuf, half over JSON: the nested map must
	// survive both encodings.
	files := map[string]string{}
	for proto, lines := range splitByUser(t, expectPath) {
		p := filepath.Join(dir, strings.ReplaceAll(proto, "/", "-")+".jsonl")
		require.NoError(t, os.WriteFile(p, lines, 0o600))
		files[proto] = p
	}

	runs := map[bool]map[string]int{} // --attributes → resolutions
	for _, withAttrs := range []bool{true, false} {
		name := "with --attributes"
		if !withAttrs {
			name = "without --attributes"
		}
		start := time.Now()
		metricsPort, err := harness.FreePort()
		require.NoError(t, err)
		e := newEnv(t, options{batchSize: 100, datafile: audiencesDatafile, metricsPort: metricsPort})
		for proto, p := range files {
			args := []string{"emit.mjs", "--otlp", "http://" + e.otlp, "--evaluations", p, "--protocol", proto}
			if withAttrs {
				args = append(args, "--attributes")
			}
			cmd := exec.CommandContext(ctx, "node", args...)
			cmd.Dir = nodeDir
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "emit.mjs %v:\n%s", args[1:], out)
		}
		ok := harness.WaitFor(ctx, 20*time.Second, func() bool { return e.api.Stats().Impressions >= len(want) })
		time.Sleep(time.Second) // flush_interval is 200ms: anything extra arrives by now
		st := e.api.Stats()
		assert.True(t, ok, "%s: the events API received %d of the %d impressions within 20s", name, st.Impressions, len(want))
		assert.Zero(t, st.Rejected, "%s: requests the events API rejected", name)

		res := resolutions(t, metricsPort, st.Impressions)
		runs[withAttrs] = res
		missingKeys, extra, differ := harness.DiffImpressions(want, receivedImpressions(t, e.api.Accepted()))
		t.Logf("%s: %d evaluations, %d SDK impressions, %d arrived (%d missing, %d extra, %d differ from the SDK's); resolutions %v; %s",
			name, evaluations, len(want), st.Impressions, len(missingKeys), len(extra), len(differ), res, time.Since(start).Round(time.Millisecond))
		report(t, name+": impressions missing", missingKeys)
		report(t, name+": impressions extra", extra)
		if withAttrs {
			report(t, name+": impressions that differ from the SDK's", differ)
			assert.Zero(t, res["ambiguous"], "with the visitor attributes no rule is a guess")
			assert.Equal(t, len(want), sum(res), "every impression counted once in impressions_resolved")
		}
	}
	assert.Positive(t, runs[false]["ambiguous"],
		"without the visitor attributes, audiences of this datafile decide between rules: some impressions are counted as ambiguous")
	assert.Positive(t, runs[true]["bucketing"], "with the attributes, the rules shared by variation keys are found by bucketing")
}

// TestRecipeGoRuleKey is the README's Go recipe: the OpenFeature contrib hook's
// WithTracesAttributeSetter sees only the provider's flag metadata (span event
// attributes cannot hold the visitor attributes' map), so the provider puts the rule
// the Optimizely SDK decided in the metadata and the setter copies it to
// experiment.rule.key (goclient -rule-key-setter). With audiences deciding between
// rules (-attributes), every impression is the SDK's and every one is resolved by the
// record: none guessed, none recomputed.
func TestRecipeGoRuleKey(t *testing.T) {
	const users = 200
	metricsPort, err := harness.FreePort()
	require.NoError(t, err)
	e := newEnv(t, options{batchSize: 100, traces: true, datafile: audiencesDatafile, metricsPort: metricsPort})
	bin := buildGoClient(t)
	expect := filepath.Join(t.TempDir(), "want.jsonl")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, bin, "-datafile", repoPath(t, audiencesDatafile),
		"-otlp", "http://"+e.otlp, "-users", strconv.Itoa(users), "-attributes", "-rule-key-setter",
		"-expect", expect).CombinedOutput()
	require.NoError(t, err, "goclient: %s", out)
	t.Logf("%s", bytes.TrimSpace(out))

	want, evaluations := readExpect(t, expect)
	require.Len(t, want, evaluations, "the SDK sends an impression for every evaluation of this datafile")
	ok := harness.WaitFor(ctx, 20*time.Second, func() bool { return e.api.Stats().Impressions >= len(want) })
	time.Sleep(time.Second)
	st := e.api.Stats()
	assert.True(t, ok, "the events API received %d of the %d impressions within 20s", st.Impressions, len(want))
	assert.Zero(t, st.Rejected, "requests the events API rejected")

	res := resolutions(t, metricsPort, st.Impressions)
	missingKeys, extra, differ := harness.DiffImpressions(want, receivedImpressions(t, e.api.Accepted()))
	t.Logf("%d evaluations, %d SDK impressions, %d arrived; resolutions %v; %s",
		evaluations, len(want), st.Impressions, res, time.Since(start).Round(time.Millisecond))
	report(t, "impressions missing", missingKeys)
	report(t, "impressions extra", extra)
	report(t, "impressions that differ from the SDK's", differ)
	assert.Equal(t, map[string]int{"record": len(want)}, res, "every rule named by the record")
}

var resolvedLine = regexp.MustCompile(`^otelcol_exporter_experimentation_impressions_resolved\{([^}]*)\} (\d+)$`)
var resolutionLabel = regexp.MustCompile(`resolution="([^"]*)"`)

// resolutions scrapes the collector's /metrics until impressions_resolved counts n
// impressions (or 10s passed) and returns the count by resolution.
func resolutions(t *testing.T, port, n int) map[string]int {
	t.Helper()
	var res map[string]int
	var body string
	harness.WaitFor(context.Background(), 10*time.Second, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		res = map[string]int{}
		for _, l := range strings.Split(body, "\n") {
			m := resolvedLine.FindStringSubmatch(l)
			if m == nil || !strings.Contains(m[1], `exporter="experimentation"`) {
				continue
			}
			r := resolutionLabel.FindStringSubmatch(m[1])
			require.NotNil(t, r, "no resolution label: %s", l)
			c, err := strconv.Atoi(m[2])
			require.NoError(t, err)
			res[r[1]] += c
		}
		return sum(res) >= n
	})
	if sum(res) != n {
		var lines []string
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "otelcol_exporter_experimentation_") {
				lines = append(lines, l)
			}
		}
		sort.Strings(lines)
		t.Errorf("impressions_resolved counts %d impressions, %d arrived:\n  %s", sum(res), n, strings.Join(lines, "\n  "))
	}
	return res
}

func sum(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}
