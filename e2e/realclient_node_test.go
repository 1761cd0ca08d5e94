//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/experimentationexporter/experimentationexporter/internal/harness"
)

// TestRealNodeClient feeds the collector from a real Node.js app: the OpenFeature server
// SDK with the OpenTelemetry EventHook, exporting OTLP/HTTP logs with the OTel JS SDK
// (e2e/nodeclient/emit.mjs). The app evaluates, per user and flag, the variation the
// official Optimizely Go SDK decided (e2e/goclient, with its event dispatcher captured);
// the impressions the exporter sends must equal the ones the Optimizely SDK sent for the
// same evaluations, field by field, none missing and none extra.
//
// The EventHook's records carry no rule key (feature_flag.* attributes only), so the
// exporter has to find the rule from the datafile itself.
func TestRealNodeClient(t *testing.T) {
	// users are user-0 .. user-199: e2e/goclient has no flag to start elsewhere.
	const users = 200
	binary(t)
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not on PATH: e2e/nodeclient/install.sh installs Node.js and the client's packages")
	}
	nodeDir := repoPath(t, "e2e/nodeclient")
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules")); err != nil {
		t.Skip("e2e/nodeclient/node_modules is missing: run e2e/nodeclient/install.sh (npm ci)")
	}
	goclientDir := repoPath(t, "e2e/goclient")
	if _, err := os.Stat(filepath.Join(goclientDir, "go.mod")); err != nil {
		t.Skipf("e2e/goclient is missing: %v", err)
	}

	// A decision as the Optimizely Event API receives it, from the SDK (goclient's
	// sdk_decisions) or from the exporter (the replica's request bodies).
	type decision struct {
		CampaignID   string  `json:"campaign_id"`
		ExperimentID string  `json:"experiment_id"`
		VariationID  *string `json:"variation_id"`
		Metadata     struct {
			FlagKey      string `json:"flag_key"`
			RuleKey      string `json:"rule_key"`
			RuleType     string `json:"rule_type"`
			VariationKey string `json:"variation_key"`
			Enabled      bool   `json:"enabled"`
		} `json:"metadata"`
	}
	// The impression's event, on the fields that do not change from one send to the
	// next (not timestamp or uuid).
	type snapshotEvent struct {
		EntityID string `json:"entity_id"`
		Key      string `json:"key"`
	}
	// text renders an impression field by field: two are equal exactly when their texts
	// are. A null variation_id and "" both mean "no variation" and render alike.
	text := func(d decision, ev snapshotEvent) string {
		vid := ""
		if d.VariationID != nil {
			vid = *d.VariationID
		}
		return fmt.Sprintf("campaign_id=%q experiment_id=%q variation_id=%q metadata={flag_key=%q rule_key=%q rule_type=%q variation_key=%q enabled=%t} event={key=%q entity_id=%q}",
			d.CampaignID, d.ExperimentID, vid, d.Metadata.FlagKey, d.Metadata.RuleKey, d.Metadata.RuleType,
			d.Metadata.VariationKey, d.Metadata.Enabled, ev.Key, ev.EntityID)
	}
	// run runs a command in dir and returns its standard output; the test fails with
	// the command's output if it fails or outlasts timeout.
	run := func(dir string, timeout time.Duration, name string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		require.NoError(t, err, "%s %s (in %s):\n%s%s", name, strings.Join(args, " "), dir, stdout.String(), stderr.String())
		if s := strings.TrimSpace(stderr.String()); s != "" {
			t.Logf("%s: %s", name, s)
		}
		return stdout.String()
	}

	// The Optimizely SDK's decisions and the impressions it sent for them.
	dir := t.TempDir()
	expectPath := filepath.Join(dir, "expect.jsonl")
	run(goclientDir, 5*time.Minute, "go", "run", ".", "-datafile", repoPath(t, "testdata/datafile.json"),
		"-users", fmt.Sprint(users), "-otlp", "", "-expect", expectPath)
	type line struct {
		User         string         `json:"user"`
		Flag         string         `json:"flag"`
		VariationKey string         `json:"variation_key"`
		SDKDecisions []decision     `json:"sdk_decisions"`
		SDKEvent     *snapshotEvent `json:"sdk_event"`
	}
	raw, err := os.ReadFile(expectPath)
	require.NoError(t, err)
	want := map[[2]string][]string{} // (visitor_id, flag_key) -> impressions
	var userOrder []string
	byUser := map[string][][]byte{}
	evaluations, impressions := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var l line
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), "%s", sc.Bytes())
		evaluations++
		if _, ok := byUser[l.User]; !ok {
			userOrder = append(userOrder, l.User)
		}
		byUser[l.User] = append(byUser[l.User], append([]byte(nil), sc.Bytes()...))
		for _, d := range l.SDKDecisions {
			require.NotNil(t, l.SDKEvent, "%s/%s: sdk_decisions without sdk_event", l.User, l.Flag)
			require.Equal(t, l.Flag, d.Metadata.FlagKey, "%s: the SDK's decision is for another flag", l.User)
			k := [2]string{l.User, l.Flag}
			want[k] = append(want[k], text(d, *l.SDKEvent))
			impressions++
		}
	}
	require.NoError(t, sc.Err())
	require.NotZero(t, impressions, "the Optimizely SDK sent no impression: nothing to compare")

	// The Node.js app sends half of the users over OTLP/HTTP protobuf, half over JSON.
	e := newEnv(t, options{batchSize: 50})
	files := map[string]*bytes.Buffer{"http/protobuf": {}, "http/json": {}}
	for i, u := range userOrder {
		f := files["http/protobuf"]
		if i%2 == 1 {
			f = files["http/json"]
		}
		for _, b := range byUser[u] {
			f.Write(b)
			f.WriteByte('\n')
		}
	}
	for _, proto := range []string{"http/protobuf", "http/json"} {
		p := filepath.Join(dir, strings.ReplaceAll(proto, "/", "-")+".jsonl")
		require.NoError(t, os.WriteFile(p, files[proto].Bytes(), 0o600))
		out := run(nodeDir, 2*time.Minute, "node", "emit.mjs", "--otlp", "http://"+e.otlp,
			"--evaluations", p, "--protocol", proto)
		t.Logf("%s", strings.TrimSpace(out))
	}

	// Every OTLP request was acknowledged: wait for the impressions, then a little
	// longer for any the SDK did not send.
	ok := harness.WaitFor(context.Background(), 30*time.Second, func() bool { return e.api.Stats().Impressions >= impressions })
	time.Sleep(time.Second)
	st := e.api.Stats()
	t.Logf("%d evaluations, %d impressions sent by the Optimizely SDK; the exporter sent %d impressions and %d other events in %d requests (%d rejected)",
		evaluations, impressions, st.Impressions, st.Conversions, st.Requests, st.Rejected)
	assert.True(t, ok, "the events API received %d of the %d impressions within 30s", st.Impressions, impressions)
	assert.Zero(t, st.Rejected, "requests the events API rejected")
	assert.Zero(t, st.Conversions, "events other than impressions")

	type batch struct {
		Visitors []struct {
			ID        string `json:"visitor_id"`
			Snapshots []struct {
				Decisions []decision      `json:"decisions"`
				Events    []snapshotEvent `json:"events"`
			} `json:"snapshots"`
		} `json:"visitors"`
	}
	got := map[[2]string][]string{}
	for _, r := range e.api.Accepted() {
		var b batch
		require.NoError(t, json.Unmarshal(r.Body, &b), "%s", r.Body)
		for _, v := range b.Visitors {
			for _, s := range v.Snapshots {
				if len(s.Decisions) == 0 {
					continue // not an impression: counted above
				}
				if !assert.Len(t, s.Events, 1, "visitor %s: an impression snapshot has one event", v.ID) ||
					!assert.Len(t, s.Decisions, 1, "visitor %s: an impression snapshot has one decision", v.ID) {
					continue
				}
				d := s.Decisions[0]
				k := [2]string{v.ID, d.Metadata.FlagKey}
				got[k] = append(got[k], text(d, s.Events[0]))
			}
		}
	}

	var keys [][2]string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	var missingN, extraN, wrongN int
	var report []string
	note := func(format string, args ...any) {
		if len(report) < 20 {
			report = append(report, fmt.Sprintf(format, args...))
		}
	}
	for _, k := range keys {
		w, g := slices.Sorted(slices.Values(want[k])), slices.Sorted(slices.Values(got[k]))
		switch {
		case slices.Equal(w, g):
		case len(g) == 0:
			missingN += len(w)
			note("missing %s %s:\n\twant %s", k[0], k[1], strings.Join(w, "\n\twant "))
		case len(w) == 0:
			extraN += len(g)
			note("extra %s %s (the SDK sent no impression):\n\tgot  %s", k[0], k[1], strings.Join(g, "\n\tgot  "))
		default:
			wrongN++
			note("different %s %s:\n\twant %s\n\tgot  %s", k[0], k[1], strings.Join(w, "\n\twant "), strings.Join(g, "\n\tgot  "))
		}
	}
	if missingN+extraN+wrongN > 0 {
		t.Errorf("impressions that differ from the Optimizely SDK's: %d missing, %d extra, %d (visitor, flag) pairs different; the first ones:\n%s",
			missingN, extraN, wrongN, strings.Join(report, "\n"))
	}
}
