//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/experimentationexporter/experimentationexporter/internal/harness"
)

// TestRealGoClient runs e2e/goclient, a Go app that decides flags with the official
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

	missingKeys, extra, differ := diffImpressions(want, arrivedImpressions(t, e.api.Accepted()))
	report(t, "impressions missing", missingKeys)
	report(t, "impressions extra", extra)
	report(t, "impressions that differ from the SDK's", differ)
}

// diffImpressions compares the SDK's impressions with those that arrived.
func diffImpressions(want map[evalKey]impression, got map[evalKey][]impression) (missing, extra, differ []string) {
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			missing = append(missing, fmt.Sprintf("%v (%s %s)", k, w.RuleType, w.RuleKey))
		case len(g) > 1:
			extra = append(extra, fmt.Sprintf("%v arrived %d times", k, len(g)))
		case g[0] != w:
			differ = append(differ, fmt.Sprintf("%v:\n    sdk:     %+v\n    arrived: %+v", k, w, g[0]))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, fmt.Sprintf("%v (%s %s %s), the SDK sent none", k, g[0].RuleType, g[0].RuleKey, g[0].VariationKey))
		}
	}
	return missing, extra, differ
}

// impression is what the test compares of one Optimizely decision and its event.
type impression struct {
	CampaignID   string
	ExperimentID string
	VariationID  string // "" for null
	RuleKey      string
	RuleType     string
	VariationKey string
	Enabled      bool
	EntityID     string
	EventKey     string
}

// evalKey is (visitor_id, flag_key): the app evaluates each pair once.
type evalKey [2]string

type wireDecision struct {
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

type wireEvent struct {
	EntityID string `json:"entity_id"`
	Key      string `json:"key"`
}

func toImpression(d wireDecision, ev wireEvent) impression {
	vid := ""
	if d.VariationID != nil {
		vid = *d.VariationID
	}
	// Compared as sent: for holdouts the Go SDK v2.3.1 sends campaign_id and entity_id
	// "" (a holdout has no layerId) and variation_id "$opt_dummy_variation_id".
	return impression{CampaignID: d.CampaignID, ExperimentID: d.ExperimentID, VariationID: vid,
		RuleKey: d.Metadata.RuleKey, RuleType: d.Metadata.RuleType, VariationKey: d.Metadata.VariationKey,
		Enabled: d.Metadata.Enabled, EntityID: ev.EntityID, EventKey: ev.Key}
}

// readExpect reads the goclient's -expect file: the SDK's impressions by evaluation,
// and the number of evaluations.
func readExpect(t *testing.T, path string) (map[evalKey]impression, int) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	want := map[evalKey]impression{}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			User         string         `json:"user"`
			Flag         string         `json:"flag"`
			VariationKey string         `json:"variation_key"`
			SDKDecisions []wireDecision `json:"sdk_decisions"`
			SDKEvent     *wireEvent     `json:"sdk_event"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), sc.Text())
		n++
		if len(line.SDKDecisions) == 0 {
			continue
		}
		require.Len(t, line.SDKDecisions, 1, sc.Text())
		require.NotNil(t, line.SDKEvent, sc.Text())
		d := line.SDKDecisions[0]
		require.Equal(t, line.VariationKey, d.Metadata.VariationKey, "the OpenFeature variant is the SDK's decision")
		want[evalKey{line.User, line.Flag}] = toImpression(d, *line.SDKEvent)
	}
	require.NoError(t, sc.Err())
	return want, n
}

// arrivedImpressions collects every impression the Event API accepted, by evaluation.
func arrivedImpressions(t *testing.T, reqs []eventsapi.Received) map[evalKey][]impression {
	t.Helper()
	got := map[evalKey][]impression{}
	for _, r := range reqs {
		var b struct {
			Visitors []struct {
				ID        string `json:"visitor_id"`
				Snapshots []struct {
					Decisions []wireDecision `json:"decisions"`
					Events    []wireEvent    `json:"events"`
				} `json:"snapshots"`
			} `json:"visitors"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &b))
		for _, v := range b.Visitors {
			for _, s := range v.Snapshots {
				if !assert.Len(t, s.Decisions, 1, "visitor %s: an impression has one decision", v.ID) ||
					!assert.Len(t, s.Events, 1, "visitor %s", v.ID) {
					continue
				}
				k := evalKey{v.ID, s.Decisions[0].Metadata.FlagKey}
				got[k] = append(got[k], toImpression(s.Decisions[0], s.Events[0]))
			}
		}
	}
	return got
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

// buildGoClient builds e2e/goclient (its own module) into a temporary directory.
func buildGoClient(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "goclient")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = repoPath(t, "e2e/goclient")
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "building e2e/goclient: %s", out)
	return bin
}
