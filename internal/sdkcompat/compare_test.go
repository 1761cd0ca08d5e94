package sdkcompat

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

// TestCompareDetectsDifferences guards the comparison itself against passing vacuously.
func TestCompareDetectsDifferences(t *testing.T) {
	const sdk = `{"visitor_id":"u1","attributes":[{"entity_id":"1","key":"age","type":"custom","value":30},
		{"entity_id":"$opt_bot_filtering","key":"$opt_bot_filtering","type":"custom","value":false}],
		"snapshots":[{"decisions":[{"campaign_id":"10","experiment_id":"11","variation_id":"12",
		"metadata":{"flag_key":"f","rule_key":"r","rule_type":"feature-test","variation_key":"on","enabled":true}}],
		"events":[{"entity_id":"10","key":"campaign_activated","timestamp":1,"uuid":"x"}]}]}`
	var v visitorJSON
	if err := json.Unmarshal([]byte(sdk), &v); err != nil {
		t.Fatal(err)
	}
	if o := compare(&v, []byte(sdk), record.Built, "", nil); len(o.mismatch)+len(o.known) != 0 {
		t.Fatalf("identical visitors differ: %+v", o)
	}
	for _, c := range []struct{ from, to, want string }{
		{`"rule_key":"r"`, `"rule_key":"r2"`, "rule_key"},
		{`"variation_id":"12"`, `"variation_id":null`, "variation_id"},
		{`"enabled":true`, `"enabled":false`, "enabled"},
		{`"value":30`, `"value":"30"`, "attribute"},
		{`"entity_id":"1","key":"age"`, `"entity_id":"2","key":"age"`, "attribute"},
		{`"entity_id":"10","key":"campaign_activated"`, `"entity_id":"11","key":"campaign_activated"`, "event.entity_id"},
	} {
		o := compare(&v, []byte(strings.Replace(sdk, c.from, c.to, 1)), record.Built, "", nil)
		if len(o.mismatch) == 0 || !strings.Contains(o.category, c.want) {
			t.Errorf("%s → %s: outcome %+v, want a %s mismatch", c.from, c.to, o, c.want)
		}
	}
	if o := compare(&v, nil, record.Dropped, "unknown_rule", nil); len(o.mismatch) == 0 {
		t.Error("a dropped record passes")
	}
	if o := compare(nil, []byte(sdk), record.Built, "", nil); len(o.mismatch) == 0 {
		t.Error("an impression the SDK did not send passes")
	}
	if o := compare(nil, nil, record.Skipped, "flag_decision_not_sent", nil); len(o.mismatch) != 0 {
		t.Errorf("a skip the SDK agrees with fails: %+v", o)
	}
}

// TestCompareConversionDetectsDifferences guards the conversion comparison.
func TestCompareConversionDetectsDifferences(t *testing.T) {
	const sdk = `{"visitor_id":"u1","attributes":[{"entity_id":"$opt_bot_filtering","key":"$opt_bot_filtering","type":"custom","value":false},
		{"entity_id":"1","key":"age","type":"custom","value":30},
		{"entity_id":"$opt_bot_filtering","key":"$opt_bot_filtering","type":"custom","value":false}],
		"snapshots":[{"events":[{"entity_id":"7","key":"purchase","timestamp":1,"uuid":"a","revenue":42,"value":2,
		"tags":{"revenue":42.99,"value":2,"category":"shoes"}}]}]}`
	// Another order, other uuid and timestamp, numbers written otherwise: equal.
	const same = `{"attributes":[{"entity_id":"1","key":"age","type":"custom","value":30.0},
		{"entity_id":"$opt_bot_filtering","key":"$opt_bot_filtering","type":"custom","value":false},
		{"entity_id":"$opt_bot_filtering","key":"$opt_bot_filtering","type":"custom","value":false}],"visitor_id":"u1",
		"snapshots":[{"events":[{"entity_id":"7","key":"purchase","timestamp":99,"uuid":"b","revenue":42,"value":2.0,
		"tags":{"category":"shoes","value":2.0,"revenue":42.99}}]}]}`
	if m, _ := compareConversion(json.RawMessage(sdk), json.RawMessage(same)); len(m) != 0 {
		t.Fatalf("equal visitors differ: %v", m)
	}
	for _, c := range []struct{ from, to, want string }{
		{`"visitor_id":"u1"`, `"visitor_id":"u2"`, "visitor_id"},
		{`"entity_id":"7"`, `"entity_id":"8"`, "event.entity_id"},
		{`"key":"purchase"`, `"key":"signup"`, "event.key"},
		{`"revenue":42,`, ``, "event.revenue"},
		{`"revenue":42,`, `"revenue":43,`, "event.revenue"},
		{`"revenue":42,`, `"revenue":42.0,`, "event.revenue"},
		{`"value":2,`, ``, "event.value"},
		{`"value":2,`, `"value":2.5,`, "event.value"},
		{`"revenue":42.99,`, `"revenue":42,`, "event.tags"},
		{`,"category":"shoes"`, ``, "event.tags"},
		{`,"uuid":"a"`, ``, "event.uuid"},
		{`,"revenue":42,"value":2,`, `,"revenue":42,"value":2,"extra":1,`, "event.extra"},
		{`{"entity_id":"$opt_bot_filtering","key":"$opt_bot_filtering","type":"custom","value":false},`, ``, "attributes"},
		{`"value":30`, `"value":"30"`, "attributes"},
		{`"entity_id":"1"`, `"entity_id":"2"`, "attributes"},
		{`"snapshots":[{"events"`, `"snapshots":[{"decisions":[{}],"events"`, "snapshots"},
	} {
		exp := strings.Replace(sdk, c.from, c.to, 1)
		if exp == sdk {
			t.Fatalf("%s not found", c.from)
		}
		m, fields := compareConversion(json.RawMessage(sdk), json.RawMessage(exp))
		if len(m) == 0 || !strings.Contains(strings.Join(fields, ","), c.want) {
			t.Errorf("%s → %s: %v %v, want a %s mismatch", c.from, c.to, fields, m, c.want)
		}
	}
}

// TestCompareHeaderDetectsDifferences guards the top-level comparison.
func TestCompareHeaderDetectsDifferences(t *testing.T) {
	const sdk = `{"account_id":"1","project_id":"2","revision":"3","client_name":"go-sdk","client_version":"2.3.0",
		"anonymize_ip":true,"enrich_decisions":true,"region":"US","visitors":[]}`
	parse := func(s string) map[string]json.RawMessage {
		b, err := splitBatch([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b.header
	}
	exp := strings.NewReplacer(`"go-sdk"`, `"other"`, `"2.3.0"`, `"0.1.0"`).Replace(sdk)
	if m, e := compareHeader(parse(sdk), parse(exp)); len(m) != 0 || len(e) != 2 {
		t.Fatalf("client name and version: mismatches %v, expected %v", m, e)
	}
	for _, c := range []struct{ from, to string }{
		{`"account_id":"1"`, `"account_id":"9"`},
		{`"project_id":"2"`, `"project_id":2`},
		{`"revision":"3"`, `"revision":"4"`},
		{`"anonymize_ip":true`, `"anonymize_ip":false`},
		{`"enrich_decisions":true,`, ``},
		{`"region":"US"`, `"region":"EU"`},
		{`"region":"US"`, `"region":"US","extra":1`},
		{`"client_name":"go-sdk",`, ``},
	} {
		if m, _ := compareHeader(parse(sdk), parse(strings.Replace(sdk, c.from, c.to, 1))); len(m) == 0 {
			t.Errorf("%s → %s passes", c.from, c.to)
		}
	}
}
