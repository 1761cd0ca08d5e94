//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/experimentationexporter/experimentationexporter/testbed/harness"
)

// TestRealNodeClient feeds the collector from a real Node.js app: the OpenFeature server
// SDK with the OpenTelemetry EventHook, exporting OTLP/HTTP logs with the OTel JS SDK
// (testbed/e2e/nodeclient/emit.mjs). The app evaluates, per user and flag, the variation the
// official Optimizely Go SDK decided (testbed/e2e/goclient, with its event dispatcher captured);
// the impressions the exporter sends must equal the ones the Optimizely SDK sent for the
// same evaluations, field by field, none missing and none extra.
//
// The EventHook's records carry no rule key (feature_flag.* attributes only), so the
// exporter has to find the rule from the datafile itself.
func TestRealNodeClient(t *testing.T) {
	const users = 200
	binary(t)
	nodeDir := nodeClient(t)

	// The Optimizely SDK's decisions and the impressions it sent for them.
	dir := t.TempDir()
	expectPath := filepath.Join(dir, "expect.jsonl")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, buildGoClient(t), "-datafile", repoPath(t, "testdata/datafile.json"),
		"-users", strconv.Itoa(users), "-otlp", "", "-expect", expectPath).CombinedOutput()
	require.NoError(t, err, "goclient: %s", out)
	want, evaluations := readExpect(t, expectPath)
	require.NotEmpty(t, want, "the Optimizely SDK sent no impression: nothing to compare")

	// The Node.js app sends half of the users over OTLP/HTTP protobuf, half over JSON;
	// the protobuf half also reports a purchase per user, as the README shows apps how to.
	e := newEnv(t, options{batchSize: 50})
	for proto, lines := range splitByUser(t, expectPath) {
		p := filepath.Join(dir, strings.ReplaceAll(proto, "/", "-")+".jsonl")
		require.NoError(t, os.WriteFile(p, lines, 0o600))
		args := []string{"emit.mjs", "--otlp", "http://" + e.otlp, "--evaluations", p, "--protocol", proto}
		if proto == "http/protobuf" {
			args = append(args, "--conversions")
		}
		cmd := exec.CommandContext(ctx, "node", args...)
		cmd.Dir = nodeDir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "emit.mjs --protocol %s:\n%s", proto, out)
		t.Logf("%s", bytes.TrimSpace(out))
	}

	// Every OTLP request was acknowledged: wait for the impressions, then a little
	// longer for any the SDK did not send.
	const conversions = users / 2
	ok := harness.WaitFor(context.Background(), 30*time.Second, func() bool {
		st := e.api.Stats()
		return st.Impressions >= len(want) && st.Conversions >= conversions
	})
	time.Sleep(time.Second)
	st := e.api.Stats()
	t.Logf("%d evaluations, %d impressions sent by the Optimizely SDK; the exporter sent %d impressions and %d other events in %d requests (%d rejected)",
		evaluations, len(want), st.Impressions, st.Conversions, st.Requests, st.Rejected)
	assert.True(t, ok, "the events API received %d of the %d impressions within 30s", st.Impressions, len(want))
	assert.Zero(t, st.Rejected, "requests the events API rejected")
	assert.Equal(t, conversions, st.Conversions, "one purchase per user of the protobuf half")

	missingKeys, extra, differ := harness.DiffImpressions(want, receivedImpressions(t, e.api.Accepted()))
	report(t, "impressions missing", missingKeys)
	report(t, "impressions extra", extra)
	report(t, "impressions that differ from the SDK's", differ)
}

// splitByUser splits the goclient's -expect lines into two files by user, alternately,
// keyed by the OTLP protocol the Node.js app sends each with.
func splitByUser(t *testing.T, path string) map[string][]byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	files := map[string]*bytes.Buffer{"http/protobuf": {}, "http/json": {}}
	protoOf := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l struct {
			User string `json:"user"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), sc.Text())
		proto, seen := protoOf[l.User]
		if !seen {
			proto = "http/protobuf"
			if len(protoOf)%2 == 1 {
				proto = "http/json"
			}
			protoOf[l.User] = proto
		}
		files[proto].Write(sc.Bytes())
		files[proto].WriteByte('\n')
	}
	require.NoError(t, sc.Err())
	out := map[string][]byte{}
	for proto, b := range files {
		out[proto] = b.Bytes()
	}
	return out
}

// nodeClient returns testbed/e2e/nodeclient, or skips the test when Node.js or the client's
// packages are missing (make nodeclient installs both).
func nodeClient(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not on PATH: make nodeclient (.ci/npm-ci.sh) installs Node.js and the client's packages")
	}
	dir := repoPath(t, "testbed/e2e/nodeclient")
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Skip("testbed/e2e/nodeclient/node_modules is missing: run make nodeclient (testbed/e2e/nodeclient/install.sh, npm ci)")
	}
	return dir
}
