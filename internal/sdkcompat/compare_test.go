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
	if o := compare(&v, []byte(sdk), record.Built, ""); len(o.mismatch)+len(o.known) != 0 {
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
		o := compare(&v, []byte(strings.Replace(sdk, c.from, c.to, 1)), record.Built, "")
		if len(o.mismatch) == 0 || !strings.Contains(o.category, c.want) {
			t.Errorf("%s → %s: outcome %+v, want a %s mismatch", c.from, c.to, o, c.want)
		}
	}
	if o := compare(&v, nil, record.Dropped, "unknown_rule"); len(o.mismatch) == 0 {
		t.Error("a dropped record passes")
	}
	if o := compare(nil, []byte(sdk), record.Built, ""); len(o.mismatch) == 0 {
		t.Error("an impression the SDK did not send passes")
	}
	if o := compare(nil, nil, record.Skipped, "flag_decision_not_sent"); len(o.mismatch) != 0 {
		t.Errorf("a skip the SDK agrees with fails: %+v", o)
	}
}
