package vwocompat

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	vwosdk "github.com/wingify/vwo-go-sdk"
	"github.com/wingify/vwo-go-sdk/pkg/api"
	"github.com/wingify/vwo-go-sdk/pkg/service"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
	"github.com/experimentationexporter/experimentationexporter/internal/vwo"
)

// The VWO Node SDK (vwo-node-sdk, pinned by node/package-lock.json) as a second ground
// truth: node/decide.js runs it over the calls an app makes for each user of a settings
// file and prints what each call returned and every batch-events event it would send;
// this test builds, for every call, the record the app would emit with only what the
// SDK's API gave it, runs it through internal/vwo's builder and compares the events, one
// by one. It also asks the VWO Go SDK the same questions and lists where the two SDKs
// decide differently.

var (
	nodeVerbose = flag.Bool("vwocompat.verbose", false, "Node comparison: up to 5 examples per category, the SDK's decision paths, the Go SDK cross-check in full")
	nodeUsersN  = flag.Int("vwocompat.users", 120, "Node comparison: users per settings file")
	nodeSeedsF  = flag.String("vwocompat.seeds", defaultNodeSeeds, "Node comparison: seeds of the random settings files (held-out check), comma-separated; known differences are asserted to occur only with the default")
	nodeKeep    = flag.String("vwocompat.keep", "", "Node comparison: keep the jobs, generated settings files and decide.js output in this directory")
)

const defaultNodeSeeds = "1,2,3,4,5,6"

// nodeSDKRelease is the vwo-node-sdk version node/package-lock.json pins.
const nodeSDKRelease = "1.73.0"

// nodeSettingsFiles are the hand-written settings files, each about one part of the SDK's
// decision (testdata/node).
var nodeSettingsFiles = []string{"basic", "traffic", "seeds_nb", "seeds_nbv2", "seeds_nb_nbv2", "groups", "whitelisting", "presegment"}

// nodeFormat are the ways the Node SDK writes an event differently from the exporter while
// meaning the same: not failures, and not counted against "reproduced".
var nodeFormat = map[string]string{
	"key only in SDK: visitor_ua": "the Node SDK sends visitor_ua on every impression and conversion (\"\" unless the app passes userAgent); " +
		"the exporter only when the record has user_agent.original",
	"key only in SDK: visitor_ip": "the Node SDK sends visitor_ip on every impression and conversion (\"\" unless the app passes userIpAddress); " +
		"the exporter only when the record has client.address",
	"r type (SDK string, exporter number; equal as numbers)": "the Node SDK sends revenue as the app gave it, a string stays a string " +
		"(\"7.25\"); the exporter sends a JSON number",
}

// nodeKnown are the differences between the Node SDK's events and the exporter's (which
// buckets conversions since internal/vwo's decide.go) that are understood, as rules over
// the categories. Each rule must match a category (with the default seeds and users):
// when one stops matching, the exporter changed and the list must follow. A category no
// rule matches fails the test.
var nodeKnown = []struct {
	name   string
	match  func(cat string) bool
	reason string
}{
	{"isFeatureEnabled", exactly(
		"only the SDK sent [isFeatureEnabled FEATURE_TEST] (exporter: skipped no_variant)",
		"only the SDK sent [isFeatureEnabled FEATURE_ROLLOUT] (exporter: skipped no_variant)"),
		"isFeatureEnabled() returns a boolean, not the variation, so the app's evaluation record has no variant and the exporter skips it; " +
			"the SDK sent an impression for the variation it decided (for a rollout too, which the Go SDK does not)"},
	{"getVariationName", exactly("only the exporter sent [getVariationName FEATURE_TEST]"),
		"getVariationName() decides without sending an impression; the app's evaluation record of it carries the variation, which the " +
			"exporter sends as an impression"},
	{"push without an event", exactly(
		"only the SDK sent [activate VISUAL_AB + push] (exporter: skipped no_variant)",
		"only the SDK sent [activate VISUAL_AB PAUSED + push] (exporter: skipped campaign_not_running)"),
		"push() sends a custom dimension on its own; the exporter sends custom dimensions only with a record's impression or conversion, " +
			"and this activate's record is not one (the SDK gave no variation)"},
	{"one attributes map", func(cat string) bool { return strings.Contains(cat, splitAttributes) },
		"the record carries customVariables and variationTargetingVariables in one experiment.visitor.attributes map; the SDK " +
			"pre-segments on customVariables only and whitelists on variationTargetingVariables only (DecisionUtil.js:125-137, 243-246), " +
			"so for a user whose two maps differ the exporter can decide otherwise (not_in_campaign, extra campaigns, another variation); " +
			"the other rules' differences show here too"},
	{"revenue \"abc\"", func(cat string) bool {
		return strings.HasPrefix(cat, "only the SDK sent [track ") && strings.Contains(cat, "(exporter: dropped invalid_revenue)")
	},
		"DIVERGENCE: a non-numeric revenueValue (\"abc\"): the Node SDK sends r:\"abc\" (which the replica, like VWO, refuses); the " +
			"exporter drops the conversion as invalid_revenue"},
	{"regex", func(cat string) bool {
		return strings.Contains(cat, regexSegments) && !strings.Contains(cat, splitAttributes)
	},
		"DIVERGENCE: a regex operand that Go's RE2 cannot compile (lookahead, backreferences): the Node SDK matches it as a JavaScript " +
			"RegExp (SegmentUtil.js:194-201), the exporter's segment is false"},
}

func exactly(cats ...string) func(string) bool {
	return func(cat string) bool { return slices.Contains(cats, cat) }
}

// knownRule names the rule that explains a category, or "".
func knownRule(cat string) string {
	for _, r := range nodeKnown {
		if r.match(cat) {
			return r.name
		}
	}
	return ""
}

// nodeCrossKnown are where the VWO Go SDK v1.26.0 decides differently from the Node SDK
// 1.73.0 on the hand-written settings files, by campaign (decisions: activate,
// getVariationName, isFeatureEnabled) or by call form (track), with why; asserted to occur.
var nodeCrossKnown = map[string]string{}

func init() {
	add := func(reason string, cats ...string) {
		for _, c := range cats {
			nodeCrossKnown[c] = reason
		}
	}
	add("revenue 0 on a revenue goal: the Node SDK refuses the goal (revenueValue must be truthy, track.js:407); the Go SDK only refuses a "+
		"missing revenue and sends r:\"0\"",
		"track (key): Node false, Go true: REVENUE_TRACKING goal, revenue 0",
		"track (null): Node false, Go true: REVENUE_TRACKING goal, revenue 0",
		"track (null with goalTypeToTrack): Node false, Go true: REVENUE_TRACKING goal, revenue 0",
		"track (list of keys): Node false, Go true: REVENUE_TRACKING goal, revenue 0")
	add("a group of three campaigns normalized to floor(100/3)=33% each leaves bucket values 9901-10000 without a winner: the Node SDK "+
		"throws (DecisionUtil.js:1198, winnerCampaign.key of null), track() returns null and the campaigns after it in the loop are not "+
		"tracked (those before it are queued already); the Go SDK has no groups",
		"track (null): Node null after an SDK error, Go true")
	add("murmurhash 0.0.2 (the Node SDK's) hashes the low byte of each UTF-16 code unit (murmurhash.js:78-81), the Go SDK's murmur3 the "+
		"UTF-8 bytes: user ids (and so seeds) with non-ASCII characters bucket differently",
		"decision for a user id with non-ASCII characters")
	add("isMAB: the Node SDK refuses activate/isFeatureEnabled/track(key) for a multi-armed-bandit campaign without user storage "+
		"(activate.js:112, track.js:122); the Go SDK does not know isMAB",
		"decision basic/mab_pricing (VISUAL_AB)")
	add("mutually exclusive groups (campaignGroups/groups): the Node SDK lets one campaign of the group win per user "+
		"(DecisionUtil.js:252-378); the Go SDK has no groups and decides each campaign alone",
		"decision groups/meg_a (VISUAL_AB)", "decision groups/meg_b (FEATURE_TEST)", "decision groups/meg_c (VISUAL_AB)",
		"decision groups/meg_d (VISUAL_AB)", "decision groups/meg_e (FEATURE_TEST)", "decision groups/meg_f (VISUAL_AB)",
		"decision groups/meg_g (VISUAL_AB)", "decision groups/meg_i (VISUAL_AB)",
		"decision groups/meg_j (VISUAL_AB)", "decision groups/meg_l (VISUAL_AB)")
	add("isNB/isNBv2 (settings) with isOB/isOBv2 (campaign): the Node SDK seeds traffic with campaignId_userId and the variation with "+
		"userId (multiplier 1), campaignId_accountId_userId (multiplier 1) or the old seed (BucketingService.js:139-165, "+
		"CampaignUtil.js:366-379); the Go SDK reads none of these flags",
		"decision seeds_nb/nb_old (VISUAL_AB)", "decision seeds_nb/nb_new (VISUAL_AB)",
		"decision seeds_nb/nb_new_seedflag (VISUAL_AB)",
		"decision seeds_nbv2/v2_obv2 (VISUAL_AB)", "decision seeds_nbv2/v2_new (VISUAL_AB)", "decision seeds_nbv2/v2_ob_only (VISUAL_AB)",
		"decision seeds_nbv2/v2_new_ft (FEATURE_TEST)",
		"decision seeds_nb_nbv2/both_ob (VISUAL_AB)", "decision seeds_nb_nbv2/both_obv2 (VISUAL_AB)", "decision seeds_nb_nbv2/both_new (VISUAL_AB)",
		"decision seeds_nb_nbv2/both_ob_obv2 (FEATURE_TEST)")
	add("gt/gte/lt/lte operands: the Node SDK compares numbers (SegmentUtil.js:202-237); the Go SDK has no such operators and compares "+
		"the text \"gte(18)\" for equality",
		"decision presegment/ps_numeric (VISUAL_AB)", "decision presegment/ps_gt_float (VISUAL_AB)", "decision presegment/ps_nested (VISUAL_AB)")
	add("numbers that parse to 0: the Node SDK leaves both sides unprocessed when either parses to 0 (parseFloat falsy, SegmentUtil.js:51-60), "+
		"so \"0.0\" is not \"0\"; the Go SDK normalizes both and matches",
		"decision presegment/ps_zero (VISUAL_AB)")
	add("regex operands are JavaScript regular expressions in the Node SDK (lookahead works) and RE2 in the Go SDK (lookahead does not compile: false)",
		"decision presegment/ps_regex_lookahead (VISUAL_AB)")
	add("several whitelisted variations: the Node SDK scales their weights to 100 before bucketing (CampaignUtil.js:73-83); the Go SDK's "+
		"ScaleVariations scales copies (utils/campaign.go), so the ranges keep the raw weights and bucket values past them fall to normal bucketing",
		"decision whitelisting/wl_multi (FEATURE_TEST)")
}

func TestCompareWithNodeSDK(t *testing.T) {
	node := nodeBinary(t)
	start := time.Now()
	dir := t.TempDir()
	if *nodeKeep != "" {
		dir = *nodeKeep
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	type input struct {
		name, path  string
		handWritten bool
		userSeed    uint64
	}
	var inputs []input
	for _, name := range nodeSettingsFiles {
		p, err := filepath.Abs(filepath.Join("testdata", "node", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, input{name: name, path: p, handWritten: true, userSeed: 7})
	}
	for _, s := range strings.Split(*nodeSeedsF, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("-vwocompat.seeds: %v", err)
		}
		users := makeUsers(*nodeUsersN, seed)
		p := filepath.Join(dir, fmt.Sprintf("random_%d.json", seed))
		if err := os.WriteFile(p, randomNodeSettings(seed, users), 0o644); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, input{name: fmt.Sprintf("random_%d", seed), path: p, userSeed: seed})
	}

	all := newNodeTally("all settings files")
	cross := newCrossTally("all settings files")
	crossHand := newCrossTally("hand-written settings files")
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			raw, err := os.ReadFile(in.path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := parseNodeSettings(raw)
			if err != nil {
				t.Fatal(err)
			}
			job := makeNodeJob(s, in.path, makeUsers(*nodeUsersN, in.userSeed), in.userSeed)
			began := time.Now()
			out := runDecide(t, node, dir, in.name, job)
			nodeTook := time.Since(began)

			ty := compareNode(t, in.name, raw, s, job, out)
			ct := crossCheckGoSDK(t, in.name, in.path, s, job, out)
			t.Logf("\n%s\n%s(decide.js %v, total %v)", ty.report(*nodeVerbose), ct.report(*nodeVerbose), nodeTook.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
			all.merge(ty)
			cross.merge(ct)
			if in.handWritten {
				crossHand.merge(ct)
			}
		})
	}
	t.Logf("\n%s\n%s\nGo SDK comparison (compare_test.go) and this one differ:\n%s\n(%v)", all.report(*nodeVerbose), cross.report(false), goVsNodeText(), time.Since(start).Round(time.Millisecond))

	for _, cat := range all.order {
		_, f := nodeFormat[cat]
		if !f && knownRule(cat) == "" {
			c := all.cats[cat]
			t.Errorf("unexpected difference with the Node SDK %q (%d×), e.g. %s", cat, c.n, c.examples[0])
		}
	}
	for _, cat := range crossHand.order {
		if _, k := nodeCrossKnown[cat]; !k {
			c := crossHand.cats[cat]
			t.Errorf("unexpected Go SDK / Node SDK difference %q (%d×), e.g. %s", cat, c.n, c.examples[0])
		}
	}
	if *nodeSeedsF == defaultNodeSeeds && *nodeUsersN == 120 {
		for _, r := range nodeKnown {
			found := false
			for _, cat := range all.order {
				found = found || r.match(cat)
			}
			if !found {
				t.Errorf("known difference with the Node SDK no longer occurs: %q (%s)", r.name, r.reason)
			}
		}
		for cat := range nodeCrossKnown {
			if crossHand.cats[cat] == nil {
				t.Errorf("known Go SDK / Node SDK difference no longer occurs: %q", cat)
			}
		}
	}
}

// nodeBinary finds node and the installed SDK, or skips (fails with VWOCOMPAT_REQUIRE_NODE).
func nodeBinary(t *testing.T) string {
	t.Helper()
	const hint = "run make nodeclient (.ci/npm-ci.sh; CI does) to compare with the VWO Node SDK"
	skip := t.Skip
	if os.Getenv("VWOCOMPAT_REQUIRE_NODE") != "" {
		skip = t.Fatal
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node is not installed: " + hint)
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", "vwo-node-sdk", "package.json")); err != nil {
		skip("node/node_modules/vwo-node-sdk is missing: " + hint)
	}
	return node
}

// decide.js output

type decideCall struct {
	I         int             `json:"i"`
	Call      string          `json:"call"`
	UserID    string          `json:"userId"`
	Result    json.RawMessage `json:"result"`
	TS        int64           `json:"ts"`
	First     int             `json:"first"`
	Events    int             `json:"events"`
	Errors    []string        `json:"errors"`
	Decisions []nodeDecision  `json:"decisions"`
}

type nodeDecision struct {
	CampaignKey       string  `json:"campaignKey"`
	VariationName     *string `json:"variationName"`
	IsFeatureEnabled  *bool   `json:"isFeatureEnabled"`
	IsUserWhitelisted bool    `json:"isUserWhitelisted"`
	GroupID           any     `json:"groupId"`
}

type decideOutput struct {
	version  string
	calls    []decideCall
	requests []Captured
	events   []event // every event of every batch-events request, in order
}

func runDecide(t *testing.T, node, dir, name string, job nodeJob) decideOutput {
	t.Helper()
	b, err := json.MarshalIndent(job, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	jobPath := filepath.Join(dir, name+".job.json")
	if err := os.WriteFile(jobPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("node", "decide.js"), jobPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("decide.js %s: %v\n%s", jobPath, err, stderr.String())
	}
	if *nodeKeep != "" {
		_ = os.WriteFile(filepath.Join(dir, name+".out.jsonl"), stdout, 0o644)
	}
	var out decideOutput
	for _, line := range bytes.Split(bytes.TrimSpace(stdout), []byte("\n")) {
		var head struct {
			Type    string `json:"type"`
			Version string `json:"version"`
		}
		if err := json.Unmarshal(line, &head); err != nil {
			t.Fatalf("decide.js printed %q: %v", line, err)
		}
		switch head.Type {
		case "sdk":
			out.version = head.Version
		case "call":
			var c decideCall
			if err := json.Unmarshal(line, &c); err != nil {
				t.Fatal(err)
			}
			out.calls = append(out.calls, c)
		case "request":
			var c Captured
			if err := json.Unmarshal(line, &c); err != nil {
				t.Fatal(err)
			}
			c.SDK, c.SDKVersion = "vwo-node-sdk", out.version
			out.requests = append(out.requests, c)
			if !strings.HasSuffix(c.Path, "/server-side/batch-events") {
				t.Fatalf("the SDK sent %s %s, not a batch-events request", c.Method, c.Path)
			}
			out.events = append(out.events, decodeEvents(t, []byte(c.Body))...)
		}
	}
	if len(out.calls) != len(job.Calls) {
		t.Fatalf("decide.js answered %d of %d calls", len(out.calls), len(job.Calls))
	}
	if out.version != nodeSDKRelease {
		t.Fatalf("vwo-node-sdk %s is installed, package-lock.json pins %s: run make nodeclient", out.version, nodeSDKRelease)
	}
	return out
}

// Records as the app emits them

func putAny(m pcommon.Map, k string, v any) {
	switch x := v.(type) {
	case string:
		m.PutStr(k, x)
	case int:
		m.PutInt(k, int64(x))
	case float64:
		m.PutDouble(k, x)
	case bool:
		m.PutBool(k, x)
	case map[string]any:
		sub := m.PutEmptyMap(k)
		keys := make([]string, 0, len(x))
		for kk := range x {
			keys = append(keys, kk)
		}
		sort.Strings(keys)
		for _, kk := range keys {
			putAny(sub, kk, x[kk])
		}
	case []any:
		sl := m.PutEmptySlice(k)
		for _, e := range x {
			if str, ok := e.(string); ok {
				sl.AppendEmpty().SetStr(str)
			}
		}
	case []string:
		sl := m.PutEmptySlice(k)
		for _, e := range x {
			sl.AppendEmpty().SetStr(e)
		}
	case [][2]string: // ordered
		sub := m.PutEmptyMap(k)
		for _, kv := range x {
			sub.PutStr(kv[0], kv[1])
		}
	default:
		panic(fmt.Sprintf("attribute %s: %T", k, v))
	}
}

func appRecord(eventName string, tsMillis int64, a map[string]any) plog.LogRecord {
	lr := plog.NewLogRecord()
	lr.SetEventName(eventName)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.UnixMilli(tsMillis)))
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		putAny(lr.Attributes(), k, a[k])
	}
	return lr
}

// nodeStep is one unit of the comparison: an SDK call (an activate with the pushes that
// follow it) and the record the app emits for it.
type nodeStep struct {
	kind  string
	split string // for a conversion of a user whose two option maps differ: splitAttributes
	calls []int
	rec   *plog.LogRecord // nil: the app emits nothing the exporter reads
	push  bool            // the record carries pushed custom dimensions
}

func resultString(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return s, true
	}
	return "", false
}

func resultBool(raw json.RawMessage) bool {
	var b bool
	_ = json.Unmarshal(raw, &b)
	return b
}

func resultMap(raw json.RawMessage) map[string]bool {
	var m map[string]bool
	_ = json.Unmarshal(raw, &m)
	return m
}

// campaignLabel is a campaign's type (and status when not running) for the step kinds.
func campaignLabel(s *nsSettings, key string) string {
	c := s.byKey[key]
	if c == nil {
		return "unknown campaign"
	}
	if c.Status != "RUNNING" {
		return c.Type + " " + c.Status
	}
	return c.Type
}

func trackKind(s *nsSettings, c nodeCall) string {
	var kind string
	switch k := c.Campaign.(type) {
	case string:
		label := campaignLabel(s, k)
		goal := "unknown goal"
		if camp := s.byKey[k]; camp != nil {
			if g := camp.goal(c.Goal); g != nil {
				goal = g.Type
			}
		}
		kind = "track " + label + " " + goal
	case []string:
		kind = "track [list of keys]"
	default:
		kind = "track null"
	}
	if gt, ok := c.Options["goalTypeToTrack"]; ok {
		kind += fmt.Sprintf(" goalTypeToTrack=%v", gt)
	}
	return kind
}

// splitAttributes marks the categories of conversions whose user has customVariables
// (pre-segmentation) and variationTargetingVariables (whitelisting) that differ: the record
// carries both in one experiment.visitor.attributes map, so a decision on one of them can
// see keys the SDK's did not.
const splitAttributes = " — customVariables ≠ variationTargetingVariables"

// regexSegments marks the categories of conversions in a campaign whose segments have a
// regex operand Go's regexp (RE2) cannot compile, which JavaScript's RegExp may.
const regexSegments = " — a segment's regex RE2 cannot compile"

func regexTag(s *nsSettings, st nodeStep, ev event) string {
	if !strings.HasPrefix(st.kind, "track") {
		return ""
	}
	id, _ := strconv.ParseInt(fmt.Sprint(ev["e"]), 10, 64)
	if c := s.byID[id]; c != nil && c.re2Incompatible {
		return regexSegments
	}
	return ""
}

// nodeSteps builds the records: activate and getVariationName → an impression with the
// campaign key (activate) or flag key (getVariationName) and the variation name the SDK
// returned, if any; isFeatureEnabled → an impression with the flag key and the boolean;
// track → a conversion with the campaign key when the call named one, the goal identifier,
// the revenue and the user's customVariables and variationTargetingVariables as
// experiment.visitor.attributes; push → the custom dimension on the preceding activate's
// record, as compare_test.go does.
func nodeSteps(s *nsSettings, job nodeJob, out decideOutput) []nodeStep {
	users := map[string]*nodeUser{}
	for i := range job.Users {
		users[job.Users[i].ID] = &job.Users[i]
	}
	var steps []nodeStep
	for i := 0; i < len(job.Calls); i++ {
		c, oc := job.Calls[i], out.calls[i]
		u := users[c.User]
		attrs := u.attributes()
		var a map[string]any
		var event string
		st := nodeStep{calls: []int{i}}
		switch c.Call {
		case "activate":
			event = "feature_flag.evaluation"
			a = map[string]any{"experiment.campaign.key": c.Campaign, "user.id": c.User}
			if name, ok := resultString(oc.Result); ok {
				a["feature_flag.result.variant"] = name
			}
			st.kind = "activate " + campaignLabel(s, c.Campaign.(string))
			var tags [][2]string
			for i+1 < len(job.Calls) && job.Calls[i+1].Call == "push" && job.Calls[i+1].User == c.User {
				i++
				st.calls = append(st.calls, i)
				tags = append(tags, [2]string{job.Calls[i].TagKey, job.Calls[i].TagValue})
			}
			if tags != nil {
				st.kind += " + push"
				st.push = true
				a["experiment.visitor.attributes"] = tags
			} else if attrs != nil {
				a["experiment.visitor.attributes"] = attrs
			}
		case "getVariationName":
			event = "feature_flag.evaluation"
			a = map[string]any{"feature_flag.key": c.Campaign, "feature_flag.context.id": c.User}
			if name, ok := resultString(oc.Result); ok {
				a["feature_flag.result.variant"] = name
			}
			if attrs != nil {
				a["experiment.visitor.attributes"] = attrs
			}
			st.kind = "getVariationName " + campaignLabel(s, c.Campaign.(string))
		case "isFeatureEnabled":
			event = "feature_flag.evaluation"
			a = map[string]any{"feature_flag.key": c.Campaign, "feature_flag.context.id": c.User, "feature_flag.result.value": resultBool(oc.Result)}
			if attrs != nil {
				a["experiment.visitor.attributes"] = attrs
			}
			st.kind = "isFeatureEnabled " + campaignLabel(s, c.Campaign.(string))
		case "track":
			event = "experiment.conversion"
			a = map[string]any{"user.id": c.User, "experiment.event.key": c.Goal}
			switch k := c.Campaign.(type) {
			case string:
				a["experiment.campaign.key"] = k
			case []any, []string: // track([keys]): the list as a slice attribute
				a["experiment.campaign.key"] = k
			}
			if gt, ok := c.Options["goalTypeToTrack"].(string); ok {
				a["experiment.goal.type"] = gt
			}
			if v, ok := c.Options["revenueValue"]; ok {
				a["experiment.revenue"] = v
			}
			if attrs != nil {
				a["experiment.visitor.attributes"] = attrs
			}
			st.kind = trackKind(s, c)
			if u.ambiguous() {
				st.split = splitAttributes
			}
		case "push": // not after an activate: nothing the exporter can send it with
			st.kind = "push"
			steps = append(steps, st)
			continue
		}
		lr := appRecord(event, oc.TS, a)
		st.rec = &lr
		steps = append(steps, st)
	}
	return steps
}

// The comparison

type nodeCat struct {
	n        int
	class    string // missing, extra, mismatch, format
	examples []string
	paths    map[string]int
}

type nodeTally struct {
	name                                                       string
	calls, steps, sdkRequests, sdkEvents, expEvents            int
	sdkByType                                                  map[string]int
	paired, reproduced, mismatched, missing, extra, agreedNone int
	sIDExact, sIDPlusOne                                       int
	sdkErrors                                                  map[string]int
	replicaRefusedSDK                                          int
	replicaRefusedExample                                      string
	replicaRefusedExporter                                     string
	cats                                                       map[string]*nodeCat
	order                                                      []string
}

func newNodeTally(name string) *nodeTally {
	return &nodeTally{name: name, sdkByType: map[string]int{}, sdkErrors: map[string]int{}, cats: map[string]*nodeCat{}}
}

func (ty *nodeTally) add(cat, class, example, path string) {
	c := ty.cats[cat]
	if c == nil {
		c = &nodeCat{class: class, paths: map[string]int{}}
		ty.cats[cat] = c
		ty.order = append(ty.order, cat)
	}
	c.n++
	if len(c.examples) < 5 {
		c.examples = append(c.examples, example)
	}
	if path != "" {
		c.paths[path]++
	}
}

func (ty *nodeTally) merge(o *nodeTally) {
	ty.calls += o.calls
	ty.steps += o.steps
	ty.sdkRequests += o.sdkRequests
	ty.sdkEvents += o.sdkEvents
	ty.expEvents += o.expEvents
	for k, v := range o.sdkByType {
		ty.sdkByType[k] += v
	}
	ty.paired += o.paired
	ty.reproduced += o.reproduced
	ty.mismatched += o.mismatched
	ty.missing += o.missing
	ty.extra += o.extra
	ty.agreedNone += o.agreedNone
	ty.sIDExact += o.sIDExact
	ty.sIDPlusOne += o.sIDPlusOne
	for k, v := range o.sdkErrors {
		ty.sdkErrors[k] += v
	}
	ty.replicaRefusedSDK += o.replicaRefusedSDK
	if ty.replicaRefusedExample == "" {
		ty.replicaRefusedExample = o.replicaRefusedExample
	}
	if ty.replicaRefusedExporter == "" {
		ty.replicaRefusedExporter = o.replicaRefusedExporter
	}
	for _, cat := range o.order {
		oc := o.cats[cat]
		c := ty.cats[cat]
		if c == nil {
			c = &nodeCat{class: oc.class, paths: map[string]int{}}
			ty.cats[cat] = c
			ty.order = append(ty.order, cat)
		}
		c.n += oc.n
		for _, e := range oc.examples {
			if len(c.examples) < 5 {
				c.examples = append(c.examples, o.name+": "+e)
			}
		}
		for p, n := range oc.paths {
			c.paths[p] += n
		}
	}
}

// eventKey pairs the SDK's and the exporter's events of a step: impressions and
// conversions by type and campaign, pushes by the dimension's key (so a value that
// differs is a mismatch, not a missing and an extra event).
func eventKey(ev event) string {
	et := fmt.Sprint(ev["eT"])
	if et == "3" {
		if d, err := decodeT(fmt.Sprint(ev["t"])); err == nil {
			var keys []string
			for k := range d["u"] {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return "3|" + strings.Join(keys, ",")
		}
		return "3|" + fmt.Sprint(ev["t"])
	}
	return et + "|" + fmt.Sprint(ev["e"])
}

// decisionPath says how the SDK came to the campaign's variation in a call.
func decisionPath(s *nsSettings, oc decideCall, ev event) string {
	if fmt.Sprint(ev["eT"]) == "3" {
		return "push"
	}
	id, _ := strconv.ParseInt(fmt.Sprint(ev["e"]), 10, 64)
	c := s.byID[id]
	if c == nil {
		return "unknown campaign"
	}
	for _, d := range oc.Decisions {
		if d.CampaignKey != c.Key {
			continue
		}
		switch {
		case d.IsUserWhitelisted:
			return "whitelisted"
		case d.GroupID != nil:
			return fmt.Sprintf("group %v winner", d.GroupID)
		default:
			return "bucketed (traffic, weights)"
		}
	}
	return "no decision reported"
}

// trackRefusal says why the SDK's track() sent nothing for a campaign the exporter credited,
// from the call and what the SDK logged.
func trackRefusal(s *nsSettings, c nodeCall, oc decideCall, camp *nsCampaign) string {
	for _, e := range oc.Errors {
		if !strings.Contains(e, "Campaign:"+camp.Key+" ") && !strings.Contains(e, "campaign: "+camp.Key+" ") {
			continue
		}
		switch {
		case strings.Contains(e, "Revenue value should be passed"):
			return "revenue goal refused, revenueValue falsy"
		case strings.Contains(e, "MAB configured"):
			return "MAB campaign refused without user storage"
		}
	}
	for _, e := range oc.Errors {
		if strings.Contains(e, "Cannot read properties of null") {
			return "threw in a group without a winner, track() returned null"
		}
	}
	if keys, ok := c.Campaign.([]string); ok && !slices.Contains(keys, camp.Key) {
		return "campaign not in the call's list"
	}
	if gt, ok := c.Options["goalTypeToTrack"].(string); ok && gt != "ALL" {
		if g := camp.goal(c.Goal); g != nil && g.Type != gt {
			return "goal type is not goalTypeToTrack"
		}
	}
	for _, d := range oc.Decisions {
		if d.CampaignKey == camp.Key && d.VariationName != nil {
			return "decided " + *d.VariationName + ", sent nothing"
		}
	}
	return "did not bucket the user"
}

func describeCall(c nodeCall, oc decideCall) string {
	args := []any{c.Campaign, c.User}
	switch c.Call {
	case "track":
		args = append(args, c.Goal)
		if c.Options != nil {
			args = append(args, c.Options)
		}
	case "push":
		args = []any{c.TagKey, c.TagValue, c.User}
	}
	b, _ := json.Marshal(args)
	s := fmt.Sprintf("%s(%s) → %s", c.Call, strings.Trim(string(b), "[]"), oc.Result)
	if len(oc.Errors) > 0 {
		s += fmt.Sprintf(" (SDK error: %s)", oc.Errors[0])
	}
	return s
}

func compareNode(t *testing.T, name string, raw []byte, s *nsSettings, job nodeJob, out decideOutput) *nodeTally {
	t.Helper()
	settings, err := vwo.ParseSettings(raw)
	if err != nil {
		t.Fatal(err)
	}
	plain := vwo.NewBuilder(accountID, false, settings)
	pushing := vwo.NewBuilder(accountID, true, settings)
	reader := record.NewReader(record.DefaultMapping())
	ty := newNodeTally(name)
	ty.calls = len(job.Calls)
	ty.sdkRequests = len(out.requests)
	ty.sdkEvents = len(out.events)
	for _, ev := range out.events {
		ty.sdkByType[fmt.Sprint(ev["eT"])]++
	}
	for _, oc := range out.calls {
		for _, e := range oc.Errors {
			// One kind of error whatever the user (and campaign) it names.
			if oc.UserID != "" {
				e = strings.ReplaceAll(e, oc.UserID, "<user>")
			}
			for _, c := range s.Campaigns {
				e = strings.ReplaceAll(e, ":"+c.Key+" ", ":<campaign> ")
				e = strings.ReplaceAll(e, ": "+c.Key+" ", ": <campaign> ")
			}
			ty.sdkErrors[e]++
		}
	}
	var all [][]byte
	for _, st := range nodeSteps(s, job, out) {
		ty.steps++
		var sdkEvs []event
		var owner []int // the call of each SDK event
		for _, ci := range st.calls {
			oc := out.calls[ci]
			for k := oc.First; k < oc.First+oc.Events; k++ {
				sdkEvs = append(sdkEvs, out.events[k])
				owner = append(owner, ci)
			}
		}
		var expEvs []event
		outcome := "no record"
		if st.rec != nil {
			var f record.Fields
			reader.Read(*st.rec, &f)
			b := plain
			if st.push {
				b = pushing
			}
			data, ends, verdict, reason := b.Append(nil, nil, &f)
			outcome = strings.TrimSpace(verdictName(verdict) + " " + reason)
			start := 0
			for _, end := range ends {
				all = append(all, data[start:end])
				expEvs = append(expEvs, decodeEvent(t, data[start:end]))
				start = end
			}
		}
		ty.expEvents += len(expEvs)
		if len(sdkEvs) == 0 && len(expEvs) == 0 {
			ty.agreedNone++
			continue
		}
		first := st.calls[0]
		call := describeCall(job.Calls[first], out.calls[first])
		used := make([]bool, len(expEvs))
		for i, sev := range sdkEvs {
			oc := out.calls[owner[i]]
			match := -1
			for j, eev := range expEvs {
				if !used[j] && eventKey(eev) == eventKey(sev) {
					match = j
					break
				}
			}
			path := decisionPath(s, oc, sev)
			if match < 0 {
				ty.missing++
				ty.add(fmt.Sprintf("only the SDK sent [%s] (exporter: %s)%s%s", st.kind, outcome, regexTag(s, st, sev), st.split), "missing",
					fmt.Sprintf("user %s: %s: SDK %v", oc.UserID, call, sev), path)
				continue
			}
			used[match] = true
			eev := expEvs[match]
			ty.paired++
			switch s, e := num(sev["sId"]), num(eev["sId"]); {
			case s == e:
				ty.sIDExact++
			case s == e+1:
				ty.sIDPlusOne++
			}
			core := false
			for _, d := range compareEvents(sev, eev) {
				class := "mismatch"
				if _, ok := nodeFormat[d.category]; ok {
					class = "format"
				} else {
					core = true
				}
				cat := d.category
				if class == "mismatch" {
					cat += regexTag(s, st, sev) + st.split
				}
				ty.add(cat, class, fmt.Sprintf("[%s] user %s: %s: %s", st.kind, oc.UserID, call, d.detail), path)
			}
			if core {
				ty.mismatched++
			} else {
				ty.reproduced++
			}
		}
		for j, eev := range expEvs {
			if used[j] {
				continue
			}
			ty.extra++
			oc := out.calls[first]
			path := "SDK: no decision"
			why := ""
			id, _ := strconv.ParseInt(fmt.Sprint(eev["e"]), 10, 64)
			if c := s.byID[id]; c != nil {
				for _, d := range oc.Decisions {
					if d.CampaignKey == c.Key && d.VariationName != nil {
						path = "SDK decided " + *d.VariationName + ", sent nothing"
					}
				}
				if job.Calls[first].Call == "track" {
					why = " (SDK: " + trackRefusal(s, job.Calls[first], oc, c) + ")"
				}
			}
			ty.add(fmt.Sprintf("only the exporter sent [%s]%s%s%s", st.kind, why, regexTag(s, st, eev), st.split), "extra",
				fmt.Sprintf("user %s: %s: exporter %v", oc.UserID, call, eev), path)
		}
	}

	// Every request of the SDK, and the exporter's events as one batch, through the replica.
	for _, c := range out.requests {
		req := httptest.NewRequest(c.Method, "https://"+c.Host+c.Path+"?"+c.Query, strings.NewReader(c.Body))
		for k, vs := range c.Header {
			req.Header[http.CanonicalHeaderKey(k)] = vs
		}
		w := httptest.NewRecorder()
		eventsapi.New(eventsapi.Options{}).ServeHTTP(w, req)
		if w.Code != 200 {
			ty.replicaRefusedSDK++
			if ty.replicaRefusedExample == "" {
				ty.replicaRefusedExample = fmt.Sprintf("%d %s", w.Code, strings.TrimSpace(w.Body.String()))
			}
		}
	}
	if len(all) > 0 {
		body := append([]byte(vwo.BodyPrefix), bytes.Join(all, []byte(","))...)
		body = append(body, vwo.BodySuffix...)
		const key = "d1f2a3b4c5d6e7f8091a2b3c4d5e6f70"
		req := httptest.NewRequest(http.MethodPost, vwo.EventsURL("")+"?"+vwo.Query(accountID, "otel", "test")+"&env="+key, bytes.NewReader(body))
		req.Header.Set("Authorization", key)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		eventsapi.New(eventsapi.Options{MaxVWOEvents: len(all) + 1, MaxBodyBytes: int64(len(body)) + 1}).ServeHTTP(w, req)
		if w.Code != 200 {
			ty.replicaRefusedExporter = fmt.Sprintf("%d %s", w.Code, w.Body.String())
			t.Errorf("the replica refused the exporter's %d events: %s", len(all), ty.replicaRefusedExporter)
		}
	}
	return ty
}

func (ty *nodeTally) report(verbose bool) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "== %s: %d calls, %d steps (call + record)\n", ty.name, ty.calls, ty.steps)
	fmt.Fprintf(&sb, "SDK: %d requests, %d events (impressions %d, conversions %d, pushes %d); exporter: %d events\n",
		ty.sdkRequests, ty.sdkEvents, ty.sdkByType["1"], ty.sdkByType["2"], ty.sdkByType["3"], ty.expEvents)
	fmt.Fprintf(&sb, "reproduced %d, mismatched %d (of %d paired), missing %d, extra %d; steps where neither sent: %d\n",
		ty.reproduced, ty.mismatched, ty.paired, ty.missing, ty.extra, ty.agreedNone)
	fmt.Fprintf(&sb, "sId of paired events: equal %d, the SDK's one second later %d (it rounds the time up, the exporter down)\n", ty.sIDExact, ty.sIDPlusOne)
	if ty.replicaRefusedSDK > 0 {
		fmt.Fprintf(&sb, "replica refused %d SDK requests, e.g. %s\n", ty.replicaRefusedSDK, ty.replicaRefusedExample)
	}
	if len(ty.sdkErrors) > 0 {
		type kv struct {
			k string
			n int
		}
		var errs []kv
		for k, n := range ty.sdkErrors {
			errs = append(errs, kv{k, n})
		}
		sort.Slice(errs, func(i, j int) bool { return errs[i].n > errs[j].n || errs[i].n == errs[j].n && errs[i].k < errs[j].k })
		fmt.Fprintf(&sb, "SDK errors logged (%d kinds):\n", len(errs))
		for i, e := range errs {
			if i == 6 && !verbose || i == 30 {
				fmt.Fprintf(&sb, "  … (-vwocompat.verbose for more)\n")
				break
			}
			fmt.Fprintf(&sb, "  %5d× %s\n", e.n, e.k)
		}
	}
	for _, class := range []string{"missing", "extra", "mismatch", "format"} {
		var cats []string
		for _, cat := range ty.order {
			if ty.cats[cat].class == class {
				cats = append(cats, cat)
			}
		}
		if cats == nil {
			continue
		}
		sort.SliceStable(cats, func(i, j int) bool { return ty.cats[cats[i]].n > ty.cats[cats[j]].n })
		fmt.Fprintf(&sb, "%s:\n", map[string]string{"missing": "MISSING (only the SDK sent)", "extra": "EXTRA (only the exporter sent)",
			"mismatch": "MISMATCHED (paired events differ)", "format": "format (same meaning, written differently)"}[class])
		for _, cat := range cats {
			c := ty.cats[cat]
			mark := ""
			switch {
			case nodeFormat[cat] != "":
				mark = " [format]"
			case knownRule(cat) != "":
				mark = " [known: " + knownRule(cat) + "]"
			default:
				mark = " [UNEXPECTED]"
			}
			fmt.Fprintf(&sb, "  %5d× %s%s\n", c.n, cat, mark)
			n := 1
			if verbose {
				n = len(c.examples)
			}
			for _, e := range c.examples[:min(n, len(c.examples))] {
				fmt.Fprintf(&sb, "         e.g. %s\n", e)
			}
			if len(c.paths) > 0 && (verbose || class != "format") {
				var ps []string
				for p, k := range c.paths {
					ps = append(ps, fmt.Sprintf("%s %d", p, k))
				}
				sort.Strings(ps)
				fmt.Fprintf(&sb, "         SDK decision: %s\n", strings.Join(ps, ", "))
			}
		}
	}
	return sb.String()
}

// The VWO Go SDK, asked the same questions

type crossTally struct {
	name                 string
	decisions, tracks    int
	decisionDiffs        int
	trackFollowsDecision int
	cats                 map[string]*nodeCat
	order                []string
}

func newCrossTally(name string) *crossTally {
	return &crossTally{name: name, cats: map[string]*nodeCat{}}
}

func (ct *crossTally) add(cat, example string) {
	c := ct.cats[cat]
	if c == nil {
		c = &nodeCat{paths: map[string]int{}}
		ct.cats[cat] = c
		ct.order = append(ct.order, cat)
	}
	c.n++
	if len(c.examples) < 5 {
		c.examples = append(c.examples, example)
	}
}

func (ct *crossTally) merge(o *crossTally) {
	ct.decisions += o.decisions
	ct.tracks += o.tracks
	ct.decisionDiffs += o.decisionDiffs
	ct.trackFollowsDecision += o.trackFollowsDecision
	for _, cat := range o.order {
		oc := o.cats[cat]
		c := ct.cats[cat]
		if c == nil {
			c = &nodeCat{paths: map[string]int{}}
			ct.cats[cat] = c
			ct.order = append(ct.order, cat)
		}
		c.n += oc.n
		for _, e := range oc.examples {
			if len(c.examples) < 5 {
				c.examples = append(c.examples, o.name+": "+e)
			}
		}
	}
}

func copyVars(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// crossCheckGoSDK makes the job's decision and track calls with the VWO Go SDK v1.26.0
// (batch events that are never sent) and lists where it answers differently.
func crossCheckGoSDK(t *testing.T, name, path string, s *nsSettings, job nodeJob, out decideOutput) *crossTally {
	t.Helper()
	var m service.SettingsFileManager
	if err := m.ProcessSettingsFile(path); err != nil {
		t.Fatal(err)
	}
	m.Process()
	// Development mode: the SDK decides and builds its events but sends nothing.
	sdk, err := vwosdk.Launch(m.GetSettingsFile(), api.WithDevelopmentMode(), api.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]*nodeUser{}
	for i := range job.Users {
		users[job.Users[i].ID] = &job.Users[i]
	}
	options := func(u *nodeUser, extra map[string]any) map[string]any {
		o := map[string]any{}
		if u.CustomVariables != nil {
			o["customVariables"] = copyVars(u.CustomVariables)
		}
		if u.VariationTargetingVariables != nil {
			o["variationTargetingVariables"] = copyVars(u.VariationTargetingVariables)
		}
		for k, v := range extra {
			o[k] = v
		}
		return o
	}
	ct := newCrossTally(name)
	type uc struct{ user, campaign string }
	differs := map[uc]bool{}
	show := func(raw json.RawMessage) string {
		if v, ok := resultString(raw); ok {
			return v
		}
		if string(raw) == "true" || string(raw) == "false" {
			return string(raw)
		}
		return "none"
	}
	for i, c := range job.Calls {
		oc := out.calls[i]
		u := users[c.User]
		switch c.Call {
		case "activate", "getVariationName", "isFeatureEnabled":
			ct.decisions++
			key := c.Campaign.(string)
			var goV, nodeV string
			switch c.Call {
			case "activate":
				goV = sdk.Activate(key, c.User, options(u, nil))
				nodeV = show(oc.Result)
			case "getVariationName":
				goV = sdk.GetVariationName(key, c.User, options(u, nil))
				nodeV = show(oc.Result)
			default:
				goV = strconv.FormatBool(sdk.IsFeatureEnabled(key, c.User, options(u, nil)))
				nodeV = strconv.FormatBool(resultBool(oc.Result))
			}
			if goV == "" {
				goV = "none"
			}
			if goV != nodeV {
				ct.decisionDiffs++
				differs[uc{c.User, key}] = true
				cat := fmt.Sprintf("decision %s/%s (%s)", name, key, campaignLabel(s, key))
				if !isASCII(c.User) {
					cat = "decision for a user id with non-ASCII characters"
				}
				ct.add(cat, fmt.Sprintf("%s %s/%s user %s (options %s): Node %s, Go %s", c.Call, name, key, c.User, compactJSON(options(u, nil)), nodeV, goV))
			}
		case "track":
			ct.tracks++
			extra := map[string]any{}
			for k, v := range c.Options {
				extra[k] = v
			}
			var campaigns any
			form := "null"
			switch k := c.Campaign.(type) {
			case string:
				campaigns, form = k, "key"
			case []string:
				campaigns, form = k, "list of keys"
			}
			if _, ok := extra["goalTypeToTrack"]; ok {
				form += " with goalTypeToTrack"
			}
			goRes := map[string]bool{}
			for _, r := range sdk.Track(campaigns, c.User, c.Goal, options(u, extra)) {
				goRes[r.CampaignKey] = goRes[r.CampaignKey] || r.TrackValue
			}
			nodeRes := resultMap(oc.Result)
			keys := map[string]bool{}
			for k := range goRes {
				keys[k] = true
			}
			for k := range nodeRes {
				keys[k] = true
			}
			for k := range keys {
				if goRes[k] == nodeRes[k] {
					continue
				}
				if differs[uc{c.User, k}] {
					ct.trackFollowsDecision++
					continue
				}
				rv, given := c.Options["revenueValue"]
				goal := "unknown goal"
				if camp := s.byKey[k]; camp != nil {
					if g := camp.goal(c.Goal); g != nil {
						goal = g.Type
					}
				}
				cat := fmt.Sprintf("track (%s): Node %v, Go %v: %s goal, %s", form, nodeRes[k], goRes[k], goal, revenueKind(rv, given))
				if string(oc.Result) == "null" && len(oc.Errors) > 0 {
					cat = fmt.Sprintf("track (%s): Node null after an SDK error, Go %v", form, goRes[k])
				}
				ct.add(cat, fmt.Sprintf("%s, %s: %s", name, k, describeCall(c, oc)))
			}
		}
	}
	return ct
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func compactJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (ct *crossTally) report(verbose bool) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "-- VWO Go SDK %s asked the same (%s): %d decisions, %d differ; %d tracks, %d campaign results differ only because the decision did\n",
		sdkRelease, ct.name, ct.decisions, ct.decisionDiffs, ct.tracks, ct.trackFollowsDecision)
	cats := slices.Clone(ct.order)
	sort.SliceStable(cats, func(i, j int) bool { return ct.cats[cats[i]].n > ct.cats[cats[j]].n })
	for _, cat := range cats {
		c := ct.cats[cat]
		mark := " [known]"
		if nodeCrossKnown[cat] == "" {
			mark = " [not listed]"
		}
		fmt.Fprintf(&sb, "  %5d× %s%s\n", c.n, cat, mark)
		n := 1
		if verbose {
			n = len(c.examples)
		}
		for _, e := range c.examples[:min(n, len(c.examples))] {
			fmt.Fprintf(&sb, "         e.g. %s\n", e)
		}
	}
	return sb.String()
}

// goVsNodeComparison lists how this comparison differs from compare_test.go's with the Go
// SDK: what each measures, and what each accepts.
var goVsNodeComparison = []struct{ aspect, goSDK, nodeSDK string }{
	{"ground truth", "vwo-go-sdk " + sdkRelease + " in the test process; a TLS server stands in for VWO; one request per event (eventsPerRequest 1)",
		"vwo-node-sdk " + nodeSDKRelease + " in node/decide.js; https.request stubbed; batches of 100; events attributed to calls by their place in the queue"},
	{"settings", "testdata/settings.json: two running campaigns at 100% traffic, no segments, one paused",
		"testdata/node/*.json (traffic, weights, seeds, groups, whitelisting, pre-segmentation, types, MAB) and seeded random files"},
	{"users", "50, no attributes", "120 (non-ASCII ids among them) and 42 personas, with customVariables and variationTargetingVariables"},
	{"conversions", "track(key) with the variation name from activate/getVariationName on the record: resolution only",
		"track(key | [keys] | null, goalTypeToTrack) with no variation on the record (the API names none): the exporter must bucket"},
	{"impressions", "getVariationName + isFeatureEnabled merged into one feature-test impression",
		"each call its own record: getVariationName (no SDK event), isFeatureEnabled (a boolean, also for rollouts)"},
	{"visitor attributes", "only pushed custom dimensions (push_custom_dimensions on for every record)",
		"the app's customVariables and variationTargetingVariables on every record (builder without push); pushes on the activate's record (builder with push)"},
	{"format differences accepted", "env in every event; r as a string; t as JSON with key and value query-escaped",
		"visitor_ua and visitor_ip (\"\") in every impression and conversion; r as the app gave it (a string stays a string); t as the exporter writes it"},
	{"sId", "the SDK's equals the exporter's (both truncate the time)", "the SDK's is one second later (it rounds up); decide.js freezes the clock at .500 s"},
	{"revenue", "0 sent as r:\"0\", \"abc\" sent as is; only a missing revenue refused (a known divergence each)",
		"0, \"\" and other falsy values refuse the revenue goal; \"0\" and \"abc\" sent as given"},
	{"failing", "unexpected categories fail; expected/divergences need not occur",
		"unexpected categories fail; known differences must occur (default seeds); the Go SDK is asked the same questions and its disagreements must be the listed ones"},
	{"replica", "each SDK request answered by the replica live", "decide.js's requests replayed to the replica afterwards (\"abc\" revenue is refused)"},
}

func goVsNodeText() string {
	var sb strings.Builder
	for _, d := range goVsNodeComparison {
		fmt.Fprintf(&sb, "  %s:\n    Go SDK comparison:   %s\n    Node SDK comparison: %s\n", d.aspect, d.goSDK, d.nodeSDK)
	}
	return sb.String()
}

// quietLogger keeps the Go SDK's log (an ERROR line for every refused call) out of the
// test output.
type quietLogger struct{}

func (quietLogger) CustomLog(level, message string) {}

// TestNodeCompareDetectsDifferences guards compareNode against passing vacuously: a
// decide.js output made up to differ in known ways must be reported so.
func TestNodeCompareDetectsDifferences(t *testing.T) {
	raw := readSettings(t)
	s, err := parseNodeSettings(raw)
	if err != nil {
		t.Fatal(err)
	}
	const alice = "E3B732864F315FB6974BC3EF4E2FD920"
	job := nodeJob{Users: []nodeUser{{ID: "Alice"}}, Calls: []nodeCall{
		{Call: "activate", Campaign: "checkout_button", User: "Alice"},                                                            // reproduced
		{Call: "activate", Campaign: "checkout_button", User: "Alice"},                                                            // c differs
		{Call: "track", Campaign: "checkout_button", User: "Alice", Goal: "purchase", Options: map[string]any{"revenueValue": 5}}, // the SDK's in another campaign
		{Call: "getVariationName", Campaign: "new_search", User: "Alice"},                                                         // extra
		{Call: "activate", Campaign: "checkout_button", User: "Alice"},                                                            // push after it
		{Call: "push", User: "Alice", TagKey: "plan", TagValue: "gold"},                                                           // t differs
	}}
	sid := `"sId":1700000001,"u":"` + alice + `","visitor_ua":"","visitor_ip":""`
	evs := []string{
		`{"e":231,"c":1,"eT":1,` + sid + `}`,
		`{"e":231,"c":2,"eT":1,` + sid + `}`,
		`{"e":233,"c":1,"eT":2,"g":701,"r":5,` + sid + `}`,
		`{"e":231,"c":1,"eT":1,` + sid + `}`,
		`{"eT":3,"t":"%7B%22u%22%3A%7B%22plan%22%3A%22silver%22%7D%7D","sId":1700000001,"u":"` + alice + `"}`,
	}
	out := decideOutput{calls: []decideCall{
		{Call: "activate", Result: json.RawMessage(`"Control"`), TS: nodeClock, First: 0, Events: 1},
		{Call: "activate", Result: json.RawMessage(`"Control"`), TS: nodeClock, First: 1, Events: 1},
		{Call: "track", Result: json.RawMessage(`{"checkout_button":true}`), TS: nodeClock, First: 2, Events: 1},
		{Call: "getVariationName", Result: json.RawMessage(`"Control"`), TS: nodeClock, First: 3, Events: 0},
		{Call: "activate", Result: json.RawMessage(`"Control"`), TS: nodeClock, First: 3, Events: 1},
		{Call: "push", Result: json.RawMessage(`{"plan":true}`), TS: nodeClock, First: 4, Events: 1},
	}}
	for i := range out.calls {
		out.calls[i].UserID = "Alice"
	}
	out.events = decodeEvents(t, []byte(`{"ev":[`+strings.Join(evs, ",")+`]}`))
	ty := compareNode(t, "made up", raw, s, job, out)
	has := func(prefix string) bool {
		for _, cat := range ty.order {
			if strings.HasPrefix(cat, prefix) {
				return true
			}
		}
		return false
	}
	for _, want := range []string{
		"c",
		"t value",
		"only the SDK sent [track VISUAL_AB REVENUE_TRACKING] (exporter: ",
		"only the exporter sent [getVariationName FEATURE_TEST]",
		"key only in SDK: visitor_ua",
	} {
		if !has(want) {
			t.Errorf("no %q in %v", want, ty.order)
		}
	}
	if ty.reproduced != 2 || ty.mismatched != 2 || ty.missing != 1 || ty.extra < 1 || ty.sIDPlusOne != 4 {
		t.Errorf("reproduced %d mismatched %d missing %d extra %d sId+1 %d\n%s", ty.reproduced, ty.mismatched, ty.missing, ty.extra, ty.sIDPlusOne, ty.report(true))
	}
}
