package jscompat

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The Event API replica (internal/eventsapi) must accept every request the JS SDK sends.
// TestJSCompatReplicaCaptures takes one real request of each kind from the SDK (its
// default dispatcher POSTs JSON.stringify(params) with content-type application/json)
// and checks it against ../eventsapi/testdata/optimizely_js_<scenario>.json, which
// internal/eventsapi's TestOptimizelyRealJSSDKRequests POSTs to the replica. The SDK's
// clock and uuids are seeded, so the captures are reproduced byte for byte; with
// -jscompat.capture the files are rewritten instead.

// jsCapture is the file format (like the vwo_*.json captures).
type jsCapture struct {
	SDK        string              `json:"sdk"`
	SDKVersion string              `json:"sdk_version"`
	Scenario   string              `json:"scenario"`
	Datafile   string              `json:"datafile"`
	Method     string              `json:"method"`
	URL        string              `json:"url"`
	Header     map[string][]string `json:"header"`
	Body       string              `json:"body"`
}

type captureScenario struct {
	name     string
	datafile string
	mode     string
	attrs    map[string]any
	flag     string // decide this flag; or track:
	event    string
	tags     map[string]any
	// pick chooses the LogEvent from a decision's impression metadata.
	pick func(md impressionMeta) bool
}

func captureScenarios() []captureScenario {
	feat, eu := "testdata/js_features.json", "testdata/js_eu_cmab.json"
	pass := map[string]any{"device": "ios", "app_version": "2.5.0", "age": 30, "country": "US", "is_vip": true,
		"email": "ann@example.com", "plan": "pro", "loyalty_points": 1500.5}
	return []captureScenario{
		{name: "experiment_impression", datafile: feat, attrs: with(pass, "country", "DE"), flag: "ab_flag",
			pick: func(md impressionMeta) bool { return md.RuleType == "feature-test" && md.RuleKey == "exp_ab" }},
		{name: "rollout_impression", datafile: feat, attrs: pass, flag: "partial_rollout_flag",
			pick: func(md impressionMeta) bool { return md.RuleType == "rollout" && md.RuleKey != "" }},
		{name: "decisionless_impression", datafile: feat, attrs: pass, flag: "miss_flag",
			pick: func(md impressionMeta) bool { return md.RuleKey == "" }},
		{name: "holdout_impression", datafile: feat, attrs: pass, flag: "holdout_flag",
			pick: func(md impressionMeta) bool { return md.RuleType == "holdout" }},
		{name: "conversion", datafile: feat, attrs: with(pass, "$opt_user_agent", "Mozilla/5.0"), event: "purchase",
			tags: map[string]any{"revenue": 4299.5, "value": 2.5, "category": "shoes", "items": 3, "gift": false}},
		{name: "eu_holdout_impression", datafile: eu, attrs: map[string]any{"tier": "gold", "score": 80}, flag: "eu_flag",
			pick: func(md impressionMeta) bool { return md.RuleType == "holdout" }},
		{name: "eu_conversion", datafile: eu, attrs: map[string]any{"tier": "gold"}, event: "checkout", tags: map[string]any{"revenue": 1000}},
		{name: "cmab_impression", datafile: eu, mode: "async", attrs: map[string]any{"tier": "gold", "score": 80}, flag: "cmab_flag",
			pick: func(md impressionMeta) bool { return md.RuleKey == "cmab_rule" }},
	}
}

func TestJSCompatReplicaCaptures(t *testing.T) {
	nodeDir(t)
	for _, sc := range captureScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			job := jsJob{Datafile: sc.datafile, Mode: sc.mode, Cmab: sc.mode == "async", Seed: "capture/" + sc.name, Bodies: true}
			if abs, err := filepath.Abs(sc.datafile); err == nil {
				job.Datafile = abs
			}
			const users = 200
			for i := range users {
				if sc.event != "" {
					job.Conversions = append(job.Conversions, jsConversion{UserID: userID(i), Attributes: sc.attrs, EventKey: sc.event, Tags: sc.tags})
					break
				}
				job.Users = append(job.Users, jsUser{UserID: userID(i), Attributes: sc.attrs})
			}
			if sc.flag != "" {
				job.Flags = []string{sc.flag}
			}
			decisions, convs := runJS(t, job)
			var le *jsLogEvent
			for _, l := range append(decisions, convs...) {
				for i := range l.LogEvents {
					b, err := oneVisitor(l.LogEvents[i])
					if err != nil {
						t.Fatal(err)
					}
					if sc.pick != nil {
						md, _, err := impressionParts(b.visitors[0])
						if err != nil || !sc.pick(md) {
							continue
						}
					}
					le = &l.LogEvents[i]
					break
				}
				if le != nil {
					break
				}
			}
			if le == nil {
				t.Fatalf("none of %d users gave a LogEvent for %s", users, sc.name)
			}
			if !json.Valid([]byte(le.Body)) || !bytes.Equal(compact(t, le.Body), compact(t, string(le.Params))) {
				t.Fatalf("the body is not the LogEvent's params: %s", le.Body)
			}
			c := jsCapture{SDK: "@optimizely/optimizely-sdk", SDKVersion: wantSDKVersion, Scenario: sc.name,
				Datafile: "internal/jscompat/" + sc.datafile, Method: le.HTTPVerb, URL: le.URL,
				Header: map[string][]string{"Content-Type": {"application/json"}}, Body: le.Body}
			out, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, '\n')
			path := filepath.Join("..", "eventsapi", "testdata", "optimizely_js_"+sc.name+".json")
			if *capture {
				if err := os.WriteFile(path, out, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s", path)
				return
			}
			have, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -run TestJSCompatReplicaCaptures -jscompat.capture writes it)", err)
			}
			if !bytes.Equal(have, out) {
				t.Errorf("%s is not what the SDK sends now (go test -run TestJSCompatReplicaCaptures -jscompat.capture rewrites it):\nhave %s\nwant %s",
					path, strings.TrimSpace(string(have)), strings.TrimSpace(string(out)))
			}
		})
	}
}

func compact(t *testing.T, s string) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
