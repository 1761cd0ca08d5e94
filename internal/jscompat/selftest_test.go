package jscompat

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/experimentationexporter/experimentationexporter/internal/reason"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

// These tests guard the comparison itself against passing vacuously; they need no Node.js.

const selfSDK = `{"snapshots":[{"decisions":[{"campaign_id":"10","experiment_id":"11","variation_id":"12",
	"metadata":{"flag_key":"f","rule_key":"r","rule_type":"feature-test","variation_key":"on","enabled":true}}],
	"events":[{"entity_id":"10","timestamp":1772366400000,"key":"campaign_activated","uuid":"a675718a-743f-4178-9a97-1f644c37debb"}]}],
	"visitor_id":"u1","attributes":[{"entity_id":"1","key":"age","type":"custom","value":30},
	{"entity_id":"$opt_bot_filtering","key":"$opt_bot_filtering","type":"custom","value":false}]}`

func TestCompareVisitorsDetectsDifferences(t *testing.T) {
	// Another key order, numbers written otherwise, attributes reordered: equal.
	same := `{"visitor_id":"u1","attributes":[{"entity_id":"$opt_bot_filtering","key":"$opt_bot_filtering","type":"custom","value":false},
		{"entity_id":"1","key":"age","type":"custom","value":30.0}],
		"snapshots":[{"decisions":[{"experiment_id":"11","campaign_id":"10","variation_id":"12",
		"metadata":{"rule_key":"r","variation_key":"on","flag_key":"f","rule_type":"feature-test","enabled":true}}],
		"events":[{"entity_id":"10","key":"campaign_activated","timestamp":1772366400000,"uuid":"a675718a-743f-4178-9a97-1f644c37debb"}]}]}`
	d, order := compareVisitors(json.RawMessage(selfSDK), json.RawMessage(same))
	if len(d) != 0 || !order {
		t.Fatalf("equal visitors: diffs %v, other order %v", d, order)
	}
	for _, c := range []struct{ from, to, want string }{
		{`"visitor_id":"u1"`, `"visitor_id":"u2"`, "visitor_id"},
		{`"campaign_id":"10"`, `"campaign_id":null`, "decision.campaign_id"},
		{`"experiment_id":"11"`, `"experiment_id":""`, "decision.experiment_id"},
		{`"variation_id":"12"`, `"variation_id":null`, "decision.variation_id"},
		{`"rule_key":"r"`, `"rule_key":"r2"`, "decision.metadata.rule_key"},
		{`"rule_type":"feature-test"`, `"rule_type":"rollout"`, "decision.metadata.rule_type"},
		{`"variation_key":"on"`, `"variation_key":"off"`, "decision.metadata.variation_key"},
		{`"enabled":true`, `"enabled":false`, "decision.metadata.enabled"},
		{`"flag_key":"f",`, `"flag_key":"f","cmab_uuid":"x",`, "decision.metadata.cmab_uuid"},
		{`"entity_id":"10"`, `"entity_id":null`, "event.entity_id"},
		{`"key":"campaign_activated"`, `"key":"other"`, "event.key"},
		{`"timestamp":1772366400000`, `"timestamp":1772366400001`, "event.timestamp"},
		{`"uuid":"a675718a-743f-4178-9a97-1f644c37debb"`, `"uuid":"b675718a-743f-4178-9a97-1f644c37debb"`, "event.uuid"},
		{`"value":30}`, `"value":"30"}`, "attributes"},
		{`"entity_id":"1"`, `"entity_id":"2"`, "attributes"},
		{`{"entity_id":"$opt_bot_filtering","key":"$opt_bot_filtering","type":"custom","value":false}`, `{"entity_id":"1","key":"age","type":"custom","value":30}`, "attributes"},
		{`"attributes":[`, `"extra":1,"attributes":[`, "extra"},
		{`"snapshots":[{"decisions"`, `"snapshots":[{"decisions":[]},{"decisions"`, "snapshots"},
	} {
		exp := strings.Replace(selfSDK, c.from, c.to, 1)
		if exp == selfSDK {
			t.Fatalf("%s not found", c.from)
		}
		d, _ := compareVisitors(json.RawMessage(selfSDK), json.RawMessage(exp))
		if f := strings.Join(fieldsOf(d), ","); !strings.Contains(f, c.want) {
			t.Errorf("%s → %s: fields %q, want %s", c.from, c.to, f, c.want)
		}
	}
	// Conversions: tags as one value, revenue an integer on both sides.
	conv := `{"visitor_id":"u1","attributes":[],"snapshots":[{"events":[{"entity_id":"7","key":"purchase","timestamp":1,"uuid":"a",
		"tags":{"revenue":42.99,"category":"shoes"},"revenue":42,"value":2}]}]}`
	for _, c := range []struct{ from, to, want string }{
		{`"revenue":42,`, `"revenue":42.0,`, "event.revenue (not an integer)"},
		{`"revenue":42,`, ``, "event.revenue"},
		{`"value":2}`, `"value":2.5}`, "event.value"},
		{`"category":"shoes"`, `"category":"hats"`, "event.tags"},
	} {
		d, _ := compareVisitors(json.RawMessage(conv), json.RawMessage(strings.Replace(conv, c.from, c.to, 1)))
		if f := strings.Join(fieldsOf(d), ","); !strings.Contains(f, c.want) {
			t.Errorf("%s → %s: fields %q, want %s", c.from, c.to, f, c.want)
		}
	}
}

func TestCompareDecisionKnownDifferences(t *testing.T) {
	x := &dfIndex{rules: map[string]*dfRule{
		"ab":   {Key: "ab", ID: "11", LayerID: "10", Kind: "experiment", Variations: map[string]string{"on": "12"}},
		"cmab": {Key: "cmab", ID: "21", LayerID: "20", Kind: "experiment", Cmab: true, Variations: map[string]string{"on": "22", "solo": "23"}},
	}}
	x.flagRules = map[string][]*dfRule{"f": {x.rules["ab"], x.rules["cmab"]}}
	on := "on"
	d := &jsLine{FlagKey: "f", VariationKey: &on}
	mk := func(s string) built { return built{visitor: json.RawMessage(s), verdict: record.Built} }

	if o := compareDecision(x, d, json.RawMessage(selfSDK), mk(selfSDK)); len(o.mismatch)+len(o.known) != 0 {
		t.Fatalf("identical: %+v", o)
	}
	if o := compareDecision(x, d, nil, mk(selfSDK)); len(o.mismatch) == 0 {
		t.Error("an impression the SDK did not send passes")
	}
	if o := compareDecision(x, d, json.RawMessage(selfSDK), built{verdict: record.Dropped, reason: reason.UnknownVariation}); len(o.mismatch) == 0 {
		t.Error("a dropped record passes")
	}
	// Decision-less: known only with no variation on the record and a no_variant skip.
	decisionless := strings.NewReplacer(`"rule_key":"r"`, `"rule_key":""`, `"variation_key":"on"`, `"variation_key":""`).Replace(selfSDK)
	none := &jsLine{FlagKey: "f"}
	if o := compareDecision(x, none, json.RawMessage(decisionless), built{verdict: record.Skipped, reason: reason.NoVariant}); len(o.mismatch) != 0 || len(o.known) != 1 {
		t.Errorf("decision-less: %+v", o)
	}
	if o := compareDecision(x, d, json.RawMessage(decisionless), built{verdict: record.Skipped, reason: reason.NoVariant}); len(o.mismatch) == 0 {
		t.Error("decision-less with a variant on the record passes")
	}
	// CMAB: cmab_uuid missing is known; attribution to the first rule holding the
	// variation is known; anything else is not.
	cmabSDK := strings.NewReplacer(`"campaign_id":"10"`, `"campaign_id":"20"`, `"experiment_id":"11"`, `"experiment_id":"21"`,
		`"variation_id":"12"`, `"variation_id":"22"`, `"rule_key":"r"`, `"rule_key":"cmab"`, `"entity_id":"10"`, `"entity_id":"20"`,
		`"flag_key":"f",`, `"flag_key":"f","cmab_uuid":"c-1",`).Replace(selfSDK)
	asExporter := strings.Replace(cmabSDK, `"flag_key":"f","cmab_uuid":"c-1",`, `"flag_key":"f",`, 1)
	if o := compareDecision(x, d, json.RawMessage(cmabSDK), mk(asExporter)); len(o.mismatch) != 0 || len(o.known) != 1 {
		t.Errorf("CMAB, same rule: %+v", o)
	}
	fallback := strings.Replace(selfSDK, `"rule_key":"r"`, `"rule_key":"ab"`, 1)
	if o := compareDecision(x, d, json.RawMessage(cmabSDK), mk(fallback)); len(o.mismatch) != 0 || len(o.known) != 2 {
		t.Errorf("CMAB, fallback rule: %+v", o)
	}
	if o := compareDecision(x, d, json.RawMessage(cmabSDK), mk(strings.Replace(fallback, `"enabled":true`, `"enabled":false`, 1))); len(o.mismatch) == 0 {
		t.Error("CMAB, fallback rule with another difference passes")
	}
	if o := compareDecision(x, d, json.RawMessage(cmabSDK), mk(strings.Replace(selfSDK, `"rule_key":"r"`, `"rule_key":"zz"`, 1))); len(o.mismatch) == 0 {
		t.Error("CMAB attributed to a rule that is not the fallback passes")
	}
}

func TestCompareHeaderDetectsDifferences(t *testing.T) {
	const sdk = `{"account_id":"1","project_id":"2","revision":"3","client_name":"node-sdk","client_version":"6.6.1",
		"anonymize_ip":true,"enrich_decisions":true,"visitors":[]}`
	const exp = `{"account_id":"1","project_id":"2","revision":"3","client_name":"otel","client_version":"0.1.0",
		"anonymize_ip":true,"enrich_decisions":true,"region":"US","visitors":[]}`
	const us = "https://logx.optimizely.com/v1/events"
	parse := func(s string) jsBatch {
		b, err := splitBatch([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		b.url = us
		return b
	}
	m, e, k := compareHeader(parse(sdk), parse(exp).header, us, "US")
	if len(m) != 0 || len(e) != 2 || len(k) != 1 {
		t.Fatalf("mismatch %v, expected %v, known %v", m, e, k)
	}
	if m, _, _ := compareHeader(parse(sdk), parse(exp).header, us, "EU"); len(m) == 0 {
		t.Error("the exporter's region is not checked")
	}
	if m, _, _ := compareHeader(parse(sdk), parse(exp).header, "https://eu.logx.optimizely.com/v1/events", "US"); len(m) == 0 {
		t.Error("the endpoint is not compared")
	}
	for _, c := range []struct{ from, to string }{
		{`"account_id":"1"`, `"account_id":"9"`},
		{`"project_id":"2"`, `"project_id":2`},
		{`"revision":"3"`, `"revision":"4"`},
		{`"anonymize_ip":true`, `"anonymize_ip":false`},
		{`"enrich_decisions":true,`, ``},
		{`"region":"US",`, `"region":"US","extra":1,`},
		{`"client_name":"otel",`, ``},
	} {
		if m, _, _ := compareHeader(parse(sdk), parse(strings.Replace(exp, c.from, c.to, 1)).header, us, "US"); len(m) == 0 {
			t.Errorf("%s → %s passes", c.from, c.to)
		}
	}
}

func TestGeneratedDatafilesAreDeterministic(t *testing.T) {
	a, b := generateDatafile(7), generateDatafile(7)
	if string(a) != string(b) {
		t.Fatal("the same seed gave two datafiles")
	}
	if string(a) == string(generateDatafile(8)) {
		t.Fatal("two seeds gave the same datafile")
	}
	x := indexDatafile(t, a)
	if len(x.flags) < 3 || len(x.rules) == 0 {
		t.Fatalf("a thin datafile: %d flags, %d rules", len(x.flags), len(x.rules))
	}
}
