//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
	"github.com/experimentationexporter/experimentationexporter/testbed/harness"
)

// The README's programs and configs are files under examples/ (readme_test.go keeps the
// README's blocks equal to them); these tests run the programs against the Event API
// replica through the collector built with ocb, and validate the configs with it.

// exampleRun is what one program of examples/ must deliver to the replica.
type exampleRun struct {
	env         []string // besides OTEL_EXPORTER_OTLP_ENDPOINT
	impressions int
	conversions int
	resolution  string // how the exporter found the impression's rule (impressions_resolved)
	// attributes the impression's visitor carries to Optimizely (keys the datafile knows)
	attributes []string
}

// wantGo lists every program of examples/go: a program without an entry fails the test.
var wantGo = map[string]exampleRun{
	"impressions": {impressions: 1, resolution: "unique"},
	"rulekey":     {impressions: 1, resolution: "record"},
	"conversions": {conversions: 1},
	// Run offline: the datafile to start with, no SDK key (never polled within the run).
	"decisionlistener": {impressions: 1, resolution: "record", env: []string{"OPTIMIZELY_DATAFILE=testdata/datafile.json"}},
}

// wantNode lists every script of examples/node.
var wantNode = map[string]exampleRun{
	"app.mjs":        {impressions: 1, resolution: "unique"},
	"attributes.mjs": {impressions: 1, resolution: "unique", attributes: []string{"country", "plan"}},
	"conversion.mjs": {conversions: 1},
}

// TestExamplesGo builds examples/go (its own module) and runs each program against a
// collector with a logs and a traces pipeline, as the README's configs have.
func TestExamplesGo(t *testing.T) {
	binary(t)
	dir := repoPath(t, "examples/go")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var programs []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "main.go")); e.IsDir() && err == nil {
			programs = append(programs, e.Name())
		}
	}
	require.ElementsMatch(t, slices.Sorted(maps.Keys(wantGo)), programs,
		"every program of examples/go has an entry in wantGo (what it must deliver)")

	bin := t.TempDir()
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "building examples/go: %s", out)
	t.Logf("examples/go built in %s", time.Since(start).Round(time.Millisecond))

	for _, name := range programs {
		t.Run(name, func(t *testing.T) {
			runExample(t, wantGo[name], filepath.Join(bin, name))
		})
	}
}

// TestExamplesNode runs each script of examples/node with Node.js and the packages of
// testbed/e2e/nodeclient (make nodeclient; the same pinned versions as
// examples/node/package.json, which readme_test.go checks): the script is copied into a
// directory whose node_modules links to the client's, since ES modules resolve packages
// from the script's own directory up, never through NODE_PATH.
func TestExamplesNode(t *testing.T) {
	binary(t)
	nodeDir := nodeClient(t)
	src := repoPath(t, "examples/node")
	scripts, err := filepath.Glob(filepath.Join(src, "*.mjs"))
	require.NoError(t, err)
	for i, s := range scripts {
		scripts[i] = filepath.Base(s)
	}
	require.ElementsMatch(t, slices.Sorted(maps.Keys(wantNode)), scripts,
		"every script of examples/node has an entry in wantNode (what it must deliver)")

	dir := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(nodeDir, "node_modules"), filepath.Join(dir, "node_modules")))
	for _, name := range append(scripts, "package.json") {
		raw, err := os.ReadFile(filepath.Join(src, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), raw, 0o644))
	}
	for _, name := range scripts {
		t.Run(name, func(t *testing.T) {
			runExample(t, wantNode[name], "node", filepath.Join(dir, name))
		})
	}
}

// runExample starts the replica and a collector, runs the program with
// OTEL_EXPORTER_OTLP_ENDPOINT pointing at the collector and checks what arrived.
func runExample(t *testing.T, want exampleRun, command ...string) {
	metricsPort, err := harness.FreePort()
	require.NoError(t, err)
	e := newEnv(t, options{batchSize: 10, traces: true, metricsPort: metricsPort})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Dir = repoPath(t, ".")
	cmd.Env = append(withoutOTelEnv(os.Environ()), "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+e.otlp)
	cmd.Env = append(cmd.Env, want.env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s:\n%s", filepath.Base(command[len(command)-1]), out)
	ran := time.Since(start)

	ok := harness.WaitFor(ctx, 20*time.Second, func() bool {
		st := e.api.Stats()
		return st.Impressions >= want.impressions && st.Conversions >= want.conversions
	})
	time.Sleep(500 * time.Millisecond) // flush_interval is 200ms: anything extra arrives by now
	st := e.api.Stats()
	t.Logf("ran in %s, events at the replica after %s: %d impressions, %d conversions; output: %s",
		ran.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), st.Impressions, st.Conversions, strings.TrimSpace(string(out)))
	assert.True(t, ok, "the replica received %d of %d impressions and %d of %d conversions within 20s",
		st.Impressions, want.impressions, st.Conversions, want.conversions)
	assert.Equal(t, want.impressions, st.Impressions, "impressions")
	assert.Equal(t, want.conversions, st.Conversions, "conversions")
	assert.Zero(t, st.Rejected, "requests the replica rejected")

	got := exampleEvents(t, e.api.Accepted())
	for _, ev := range got {
		assert.Equal(t, "user-123", ev.visitor)
		if ev.conversion {
			assert.Equal(t, "purchase", ev.key)
			assert.Equal(t, 4200, ev.revenue)
			continue
		}
		assert.Equal(t, "checkout_redesign", ev.flag)
		assert.Equal(t, "checkout_redesign_ab", ev.rule, "the only rule with the variation")
		assert.Equal(t, "treatment", ev.variation)
		assert.ElementsMatch(t, want.attributes, ev.attributes, "visitor attributes")
		// The DECISION listener prints what the SDK decided: the impression is that one.
		if m := regexp.MustCompile(`variation "([^"]*)" of rule "([^"]*)"`).FindSubmatch(out); m != nil {
			assert.Equal(t, string(m[1]), ev.variation, "the SDK's variation")
			assert.Equal(t, string(m[2]), ev.rule, "the SDK's rule")
		}
	}
	if want.impressions > 0 {
		assert.Equal(t, map[string]int{want.resolution: want.impressions}, resolutions(t, metricsPort, st.Impressions),
			"impressions_resolved by resolution")
	}
}

// exampleEvent is one event of an accepted Optimizely batch, flattened.
type exampleEvent struct {
	visitor, flag, rule, variation, key string
	conversion                          bool
	revenue                             int
	attributes                          []string // keys, without $opt_*
}

func exampleEvents(t *testing.T, reqs []eventsapi.Received) []exampleEvent {
	t.Helper()
	var out []exampleEvent
	for _, r := range reqs {
		var b struct {
			Visitors []struct {
				ID         string `json:"visitor_id"`
				Attributes []struct {
					Key string `json:"key"`
				} `json:"attributes"`
				Snapshots []struct {
					Decisions []struct {
						Metadata struct {
							FlagKey      string `json:"flag_key"`
							RuleKey      string `json:"rule_key"`
							VariationKey string `json:"variation_key"`
						} `json:"metadata"`
					} `json:"decisions"`
					Events []struct {
						Key     string `json:"key"`
						Revenue int    `json:"revenue"`
					} `json:"events"`
				} `json:"snapshots"`
			} `json:"visitors"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &b))
		for _, v := range b.Visitors {
			var attrs []string
			for _, a := range v.Attributes {
				if !strings.HasPrefix(a.Key, "$opt_") {
					attrs = append(attrs, a.Key)
				}
			}
			for _, s := range v.Snapshots {
				for _, ev := range s.Events {
					x := exampleEvent{visitor: v.ID, key: ev.Key, revenue: ev.Revenue, attributes: attrs}
					if len(s.Decisions) == 0 {
						x.conversion = true
					} else {
						md := s.Decisions[0].Metadata
						x.flag, x.rule, x.variation = md.FlagKey, md.RuleKey, md.VariationKey
					}
					out = append(out, x)
				}
			}
		}
	}
	return out
}

// withoutOTelEnv drops OTEL_* variables of the test's environment: a
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT there would win over the endpoint the test sets.
func withoutOTelEnv(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "OTEL_") })
}

// TestExampleConfigFragments validates the README's config fragments (examples/config/*.yaml)
// the way examples/README.md tells users to use them: merged over examples/production.yaml
// (the collector merges the --config files it is given, later ones over earlier ones). A
// fragment with a typo must fail the same way, so the merge is seen to check it.
func TestExampleConfigFragments(t *testing.T) {
	bin := binary(t)
	env := append(withoutOTelEnv(os.Environ()), "OPTIMIZELY_SDK_KEY=x", "VWO_SDK_KEY=y", "VISITOR_ID_KEY=0123456789abcdef-e2e")
	validate := func(files ...string) (string, error) {
		args := []string{"validate"}
		for _, f := range files {
			args = append(args, "--config", f)
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	base := repoPath(t, "examples/production.yaml")

	// The complete configs are validated alone by TestExampleConfigs; a new one must be
	// added there.
	complete, err := filepath.Glob(repoPath(t, "examples/*.yaml"))
	require.NoError(t, err)
	for i, f := range complete {
		complete[i] = filepath.Base(f)
	}
	assert.ElementsMatch(t, []string{"demo.yaml", "production.yaml"}, complete, "examples/*.yaml: each validated by TestExampleConfigs")

	fragments, err := filepath.Glob(repoPath(t, "examples/config/*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, fragments)
	for _, f := range fragments {
		out, err := validate(base, f)
		assert.NoError(t, err, "examples/production.yaml + examples/config/%s: %s", filepath.Base(f), out)
	}

	typo := filepath.Join(t.TempDir(), "typo.yaml")
	require.NoError(t, os.WriteFile(typo, []byte("exporters:\n  experimentation:\n    flsh_interval: 1s\n"), 0o600))
	out, err := validate(base, typo)
	assert.Error(t, err, "a fragment with an unknown key fails validation")
	assert.Contains(t, out, "flsh_interval")
}
