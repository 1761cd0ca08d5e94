// Package jscompat compares the exporter's Optimizely events with those the official
// Optimizely JavaScript SDK (@optimizely/optimizely-sdk 6.6.1, run by node/decide.mjs)
// dispatches for the same decisions and conversions. It is a separate module, and the SDK
// a Node.js package under node/, so neither enters the exporter's build.
package jscompat

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/experimentationexporter/experimentationexporter/internal/reason"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

var (
	strict   = flag.Bool("jscompat.strict", false, "also fail on the known, documented differences")
	numUsers = flag.Int("jscompat.users", 300, "users per attribute set")
	verbose  = flag.Bool("jscompat.verbose", false, "log an example of every mismatch category")
	numGen   = flag.Int("jscompat.generated", 3, "seeded generated datafiles to compare")
	genSeed  = flag.Int64("jscompat.seed", 20260301, "the first generated datafile's seed")
	capture  = flag.Bool("jscompat.capture", false, "rewrite the SDK's requests in ../eventsapi/testdata/optimizely_js_*.json instead of checking them")
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(m.Run())
}

// ---- the cases ----

// attrSet gives the attributes of user i (nil: none).
type attrSet struct {
	name  string
	attrs func(i int) map[string]any
}

func fixed(m map[string]any) func(int) map[string]any { return func(int) map[string]any { return m } }

func with(base map[string]any, kv ...any) map[string]any {
	m := make(map[string]any, len(base)+len(kv)/2)
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
			continue
		}
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

type datafileCase struct {
	name  string
	path  string // or data
	data  []byte
	sets  []attrSet
	modes []string // decide modes: sync (user.decide), async (user.decideAsync, CMAB answered)
	// rules the SDK may never choose (their audiences never match, their status keeps them
	// out…); every other rule of a hand-written datafile must be chosen at least once.
	neverChosen map[string]bool
	generated   bool
	// known differences every run of this datafile must show (each needs a count > 0).
	wantKnown []string
}

func (dc datafileCase) load(t *testing.T) []byte {
	t.Helper()
	if dc.data != nil {
		return dc.data
	}
	data, err := os.ReadFile(dc.path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func datafileCases(t *testing.T) []datafileCase {
	cases := []datafileCase{
		// The datafiles of the go-sdk comparison (internal/sdkcompat).
		{name: "rich", path: "../sdkcompat/testdata/rich_datafile.json", sets: richSets(), modes: []string{"sync"},
			neverChosen: map[string]bool{"draft_holdout": true}},
		{name: "datafile.json", path: "../../testdata/datafile.json", sets: datafileSets(), modes: []string{"sync"},
			neverChosen: map[string]bool{"checkout_beta_users": true, "default-rollout-9300000002001": true}},
		// Written for the JS SDK's datafile features (testdata/README.md).
		{name: "js_features", path: "testdata/js_features.json", sets: featureSets(), modes: []string{"sync"},
			neverChosen: jsFeaturesNeverChosen, wantKnown: []string{knownDecisionless}},
		{name: "js_eu_cmab", path: "testdata/js_eu_cmab.json", sets: euSets(), modes: []string{"sync", "async"},
			neverChosen: map[string]bool{"cmab_paused": true}},
	}
	for i := range *numGen {
		seed := *genSeed + int64(i)
		cases = append(cases, datafileCase{name: fmt.Sprintf("generated_%d", seed), data: generateDatafile(seed),
			sets: generatedSets(seed), modes: []string{"sync"}, generated: true})
	}
	return cases
}

func userID(i int) string { return fmt.Sprintf("user-%d", i) }

// ---- known differences (asserted: each is recognized by a predicate, counted, and
// checked against the count it must have) ----

const (
	// With sendFlagDecisions the SDK also sends an impression when no rule matched
	// (campaign_id null, experiment_id "", variation_id null, rule_key ""); the app's
	// record then has no variant and the exporter sends nothing.
	knownDecisionless = "SDK sent a decision-less impression (no rule matched, sendFlagDecisions), the record has no variant: exporter sent nothing"
	// A CMAB rule's variation comes from the prediction service: the exporter cannot know
	// the cmab_uuid the SDK puts in the impression's metadata.
	knownCmabUUID = "CMAB: metadata.cmab_uuid comes from the prediction service, the exporter sends none"
	// Nor can it recompute the decision: it resolves the variation to the first rule of
	// the flag that holds it (resolution "unique" or "fallback"), which is another rule
	// when an earlier one holds the same variation key.
	knownCmabFallback = "CMAB: the exporter cannot recompute the decision and attributes it to the flag's first rule holding the variation"
	// A second impression of one decision (an excludeTargetedDeliveries holdout's) carries a
	// random uuid in the SDK; the exporter derives one from the record (the record's
	// event.id is the first impression's).
	knownSecondUUID = "second impression of a decision: uuid random in the SDK, derived from the record by the exporter"
)

// compareDecision compares what the SDK dispatched for one decision with what the
// exporter built from the app's record.
func compareDecision(x *dfIndex, d *jsLine, sdkVisitor json.RawMessage, exp built) outcome {
	var o outcome
	if sdkVisitor == nil {
		if exp.verdict == record.Built {
			o.fail("SDK sent nothing, exporter built an impression", "exporter: "+string(exp.visitor))
		}
		return o
	}
	var sv struct {
		Snapshots []struct {
			Decisions []struct {
				Metadata struct {
					RuleKey      string `json:"rule_key"`
					RuleType     string `json:"rule_type"`
					VariationKey string `json:"variation_key"`
				} `json:"metadata"`
			} `json:"decisions"`
		} `json:"snapshots"`
	}
	if err := json.Unmarshal(sdkVisitor, &sv); err != nil || len(sv.Snapshots) != 1 || len(sv.Snapshots[0].Decisions) != 1 {
		o.fail("SDK impression of an unexpected shape", string(sdkVisitor))
		return o
	}
	md := sv.Snapshots[0].Decisions[0].Metadata
	if exp.verdict != record.Built {
		if md.RuleKey == "" && md.VariationKey == "" && d.VariationKey == nil && exp.verdict == record.Skipped && exp.reason == reason.NoVariant {
			o.known = append(o.known, knownDecisionless)
			return o
		}
		o.fail(fmt.Sprintf("SDK: %s; exporter %s/%s", x.label(md.RuleKey), verdictName(exp.verdict), exp.reason), "SDK: "+string(sdkVisitor))
		return o
	}
	diffs, order := compareVisitors(sdkVisitor, exp.visitor)
	o.attrOrder = order
	if r := x.rules[md.RuleKey]; r != nil && r.Cmab && r.Kind == "experiment" {
		diffs = cmabKnown(x, d, r, md.VariationKey, diffs, exp, &o)
	}
	if len(diffs) > 0 {
		var e impressionMeta
		if m, _, err := impressionParts(exp.visitor); err == nil {
			e = m
		}
		rules := "same rule " + x.label(md.RuleKey)
		if e.RuleKey != md.RuleKey {
			rules = fmt.Sprintf("SDK: %s; exporter: %s", x.label(md.RuleKey), x.label(e.RuleKey))
		}
		o.fail(rules+"; differs in "+strings.Join(fieldsOf(diffs), ", "), joinDiffs(diffs))
	}
	return o
}

// cmabKnown takes the known CMAB differences out of diffs.
func cmabKnown(x *dfIndex, d *jsLine, r *dfRule, variationKey string, diffs []diff, exp built, o *outcome) []diff {
	var rest []diff
	for _, df := range diffs {
		if df.field == "decision.metadata.cmab_uuid" && df.exp == "(absent)" && df.sdk != "(absent)" {
			o.known = append(o.known, knownCmabUUID)
			continue
		}
		rest = append(rest, df)
	}
	if len(rest) == 0 {
		return nil
	}
	// Attributed to another rule: known only if it is the flag's first rule holding the
	// variation and nothing else differs.
	fb := x.firstRuleWith(d.FlagKey, variationKey)
	if fb == nil || fb.Key == r.Key {
		return rest
	}
	var e struct {
		Snapshots []struct {
			Decisions []struct {
				ExperimentID string `json:"experiment_id"`
				Metadata     struct {
					RuleKey string `json:"rule_key"`
				} `json:"metadata"`
			} `json:"decisions"`
		} `json:"snapshots"`
	}
	if json.Unmarshal(exp.visitor, &e) != nil || len(e.Snapshots) != 1 || len(e.Snapshots[0].Decisions) != 1 {
		return rest
	}
	ed := e.Snapshots[0].Decisions[0]
	if ed.Metadata.RuleKey != fb.Key || ed.ExperimentID != fb.ID {
		return rest
	}
	allowed := map[string]bool{"decision.campaign_id": true, "decision.experiment_id": true, "decision.variation_id": true,
		"decision.metadata.rule_key": true, "decision.metadata.rule_type": true, "event.entity_id": true}
	for _, df := range rest {
		if !allowed[df.field] {
			return rest
		}
	}
	o.known = append(o.known, knownCmabFallback)
	return nil
}

// runDecisions decides every flag for every user of every attribute set with the SDK,
// builds the app's records and compares.
func runDecisions(t *testing.T, dc datafileCase, mode string) {
	data := dc.load(t)
	x := indexDatafile(t, data)
	exp := newExporterRun(t, data)
	wantRegion := x.region
	if wantRegion == "" {
		wantRegion = "US"
	}
	job := jsJob{DatafileText: string(data), Flags: x.flags, Mode: mode, Cmab: mode == "async", Seed: dc.name + "/" + mode}
	var sets []string
	for _, set := range dc.sets {
		for i := range *numUsers {
			job.Users = append(job.Users, jsUser{UserID: userID(i), Attributes: set.attrs(i)})
			sets = append(sets, set.name)
		}
	}
	decisions, _ := runJS(t, job)
	tl := newTally(dc.name + "/" + mode)
	decisionless, cmabDecisions := 0, 0
	for n, d := range decisions {
		set := sets[n/len(x.flags)]
		desc := fmt.Sprintf("[%s %s %s] SDK rule=%s var=%s", set, d.UserID, d.FlagKey, str(d.RuleKey), str(d.VariationKey))
		ruleKey, varKey := str(d.RuleKey), str(d.VariationKey)
		if d.VariationKey == nil {
			if d.RuleKey != nil || d.Enabled {
				t.Fatalf("%s: SDK decision without a variation but with a rule or enabled", desc)
			}
		} else {
			tl.byRule[ruleKey]++
			if r := x.rules[ruleKey]; r != nil && r.Cmab {
				cmabDecisions++
			}
		}
		var sdkVisitor json.RawMessage
		var sent map[string]any
		ruleType := "(none sent)"
		var extra []string
		var sdkExtra []json.RawMessage
		for i, le := range d.LogEvents {
			b, err := oneVisitor(le)
			if err != nil {
				t.Fatalf("%s: %v", desc, err)
			}
			mismatch, expected, known := compareHeader(b, exp.header, exp.df.EventsURL(), wantRegion)
			tl.addHeader(desc, mismatch, expected, known)
			md, ev, err := impressionParts(b.visitors[0])
			if err != nil {
				t.Fatalf("%s: %v", desc, err)
			}
			if i == 0 {
				sdkVisitor, sent = b.visitors[0], ev
				ruleType = md.RuleType
				if md.RuleKey == "" {
					ruleType += " (no rule)"
					decisionless++
				}
				if md.FlagKey != d.FlagKey || md.RuleKey != ruleKey || md.VariationKey != varKey || md.Enabled != d.Enabled {
					t.Fatalf("%s: the SDK's decision disagrees with its impression %+v", desc, md)
				}
				continue
			}
			tl.byRule[md.RuleKey+" (extra impression)"]++
			extra = append(extra, fmt.Sprintf("%s %s/%s", md.RuleType, md.RuleKey, md.VariationKey))
			sdkExtra = append(sdkExtra, b.visitors[0])
		}
		_, lr, err := decisionRecord(d, sent)
		if err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		b, err := exp.append(lr)
		if err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		if b.verdict == record.Built {
			tl.resolutions[b.resolution.String()]++
		}
		var o outcome
		expExtra := b.extra
		if b.verdict == record.Built && d.VariationKey == nil && len(sdkExtra) > 0 {
			// The SDK sent a decision-less impression and a holdout's; the record has no
			// variant, so the exporter sends the holdout's alone.
			o.known = append(o.known, knownDecisionless)
			expExtra = append([]json.RawMessage{b.visitor}, b.extra...)
		} else {
			o = compareDecision(x, d, sdkVisitor, b)
		}
		if len(sdkExtra) != len(expExtra) {
			o.fail(fmt.Sprintf("SDK sent %d impressions for one decision (then %s), exporter %d more", len(d.LogEvents), strings.Join(extraKinds(x, extra), ", "), len(expExtra)),
				"extra: "+strings.Join(extra, ", "))
		}
		for i := 0; i < len(sdkExtra) && i < len(expExtra); i++ {
			diffs, _ := compareVisitors(sdkExtra[i], expExtra[i])
			var rest []diff
			for _, df := range diffs {
				if strings.HasSuffix(df.field, "uuid") {
					o.known = append(o.known, knownSecondUUID)
					continue
				}
				rest = append(rest, df)
			}
			if len(rest) > 0 {
				o.fail("second impression of a decision differs in "+strings.Join(fieldsOf(rest), ", "), joinDiffs(rest))
			}
		}
		tl.add(desc, ruleType, len(d.LogEvents) > 0, o)
	}

	// The known differences' counts are what their predicates say they must be.
	nullVariation := 0
	for _, d := range decisions {
		if d.VariationKey == nil {
			nullVariation++
		}
	}
	if x.sendFlagDec && decisionless != nullVariation {
		t.Errorf("sendFlagDecisions: %d decisions without a variation but %d decision-less impressions", nullVariation, decisionless)
	}
	if !x.sendFlagDec && decisionless != 0 {
		t.Errorf("sendFlagDecisions off, yet %d decision-less impressions", decisionless)
	}
	if got := tl.known[knownDecisionless]; got != decisionless {
		t.Errorf("known difference %q counted %d times, want one per decision-less impression (%d)", knownDecisionless, got, decisionless)
	}
	if got := tl.known[knownCmabUUID]; got != cmabDecisions {
		t.Errorf("known difference %q counted %d times, want one per CMAB decision (%d)", knownCmabUUID, got, cmabDecisions)
	}
	if mode == "async" && cmabDecisions == 0 {
		t.Errorf("mode async: the SDK made no CMAB decision; the CMAB path is not exercised")
	}
	if mode == "sync" && cmabDecisions != 0 {
		t.Errorf("mode sync: the SDK made %d CMAB decisions (decide() does not support CMAB)", cmabDecisions)
	}
	if got, want := tl.headers.known[knownRegion], tl.headers.logEvents; got != want {
		t.Errorf("known difference %q counted %d times, want one per LogEvent (%d)", knownRegion, got, want)
	}
	for _, k := range dc.wantKnown {
		if tl.known[k] == 0 {
			t.Errorf("the datafile must show the known difference %q, it does not", k)
		}
	}
	if !dc.generated {
		// Every rule must be chosen, or a passing comparison proves little.
		for _, k := range sortedKeys(x.rules) {
			r := x.rules[k]
			if r.Cmab && mode == "sync" {
				continue
			}
			if tl.byRule[k]+tl.byRule[k+" (extra impression)"] == 0 && !dc.neverChosen[k] {
				t.Errorf("%s: the SDK never chose rule %q (%s); adjust the datafile or the attribute sets", tl.name, k, r.Kind)
			}
		}
	}
	if tl.failed(*strict) {
		t.Errorf("%s", tl.summary(*verbose))
	} else {
		t.Logf("%s", tl.summary(*verbose))
	}
}

func extraKinds(x *dfIndex, extra []string) []string {
	var out []string
	for _, e := range extra {
		key, _, _ := strings.Cut(strings.Fields(e)[1], "/")
		out = append(out, x.label(key))
	}
	return out
}

type impressionMeta struct {
	FlagKey      string `json:"flag_key"`
	RuleKey      string `json:"rule_key"`
	RuleType     string `json:"rule_type"`
	VariationKey string `json:"variation_key"`
	Enabled      bool   `json:"enabled"`
}

// impressionParts returns an SDK impression's metadata and its event (numbers as
// json.Number).
func impressionParts(visitor json.RawMessage) (impressionMeta, map[string]any, error) {
	var v struct {
		Snapshots []struct {
			Decisions []struct {
				Metadata impressionMeta `json:"metadata"`
			} `json:"decisions"`
			Events []json.RawMessage `json:"events"`
		} `json:"snapshots"`
	}
	if err := json.Unmarshal(visitor, &v); err != nil {
		return impressionMeta{}, nil, err
	}
	if len(v.Snapshots) != 1 || len(v.Snapshots[0].Decisions) != 1 || len(v.Snapshots[0].Events) != 1 {
		return impressionMeta{}, nil, fmt.Errorf("SDK impression of an unexpected shape: %s", visitor)
	}
	ev, err := decodeJSON(v.Snapshots[0].Events[0])
	m, _ := ev.(map[string]any)
	return v.Snapshots[0].Decisions[0].Metadata, m, err
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// TestJSCompatDecisions sends records without a rule key, as real apps do (the OpenFeature
// hook sends none): the exporter must find the rule the SDK chose and build the same
// impression.
func TestJSCompatDecisions(t *testing.T) {
	nodeDir(t)
	for _, dc := range datafileCases(t) {
		for _, mode := range dc.modes {
			t.Run(dc.name+"/"+mode, func(t *testing.T) {
				runDecisions(t, dc, mode)
			})
		}
	}
}
