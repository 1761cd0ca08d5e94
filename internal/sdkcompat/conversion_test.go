package sdkcompat

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/optimizely/go-sdk/v2/pkg/event"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/experimentationexporter/experimentationexporter/internal/optimizely"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

var numConvUsers = flag.Int("sdkcompat.conversion-users", 200, "users per attribute set in the conversion comparison")

// The exporter's client name and version (exporter.go); the SDK sends its own, so they
// only need to be well-formed here.
const (
	exporterClientName    = "otel-collector-experimentation-exporter"
	exporterClientVersion = "0.1.0"
)

// ---- capturing whole batches ----

// sdkBatch is one batch the SDK dispatched: its endpoint, its top-level fields (raw) and
// its visitors (raw, in order).
type sdkBatch struct {
	endpoint string
	header   map[string]json.RawMessage // every top-level field but visitors
	visitors []json.RawMessage
}

// batchDispatcher records every batch the SDK dispatches, in dispatch order.
type batchDispatcher struct {
	mu      sync.Mutex
	batches []sdkBatch
	err     error
}

func (d *batchDispatcher) DispatchEvent(le event.LogEvent) (bool, error) {
	b, err := json.Marshal(le.Event)
	var sb sdkBatch
	if err == nil {
		sb, err = splitBatch(b)
		sb.endpoint = le.EndPoint
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.err = err
	} else {
		d.batches = append(d.batches, sb)
	}
	return true, nil
}

func (d *batchDispatcher) result(t *testing.T) []sdkBatch {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		t.Fatalf("decoding the SDK's batch: %v", d.err)
	}
	return d.batches
}

// splitBatch parses an EventBatch into its top-level fields and its visitors.
func splitBatch(b []byte) (sdkBatch, error) {
	var sb sdkBatch
	if err := json.Unmarshal(b, &sb.header); err != nil {
		return sb, err
	}
	raw, ok := sb.header["visitors"]
	if !ok {
		return sb, fmt.Errorf("batch without visitors: %s", b)
	}
	delete(sb.header, "visitors")
	return sb, json.Unmarshal(raw, &sb.visitors)
}

// exporterBody is the exporter's request body for one visitor, as optimizely.go sends it.
func exporterBody(prefix, visitor []byte) []byte {
	b := append(append([]byte(nil), prefix...), visitor...)
	return append(b, "]}"...)
}

// ---- top-level fields ----

// The top-level fields compared, and those that differ by design (each side names itself).
var (
	headerFields   = []string{"account_id", "project_id", "revision", "anonymize_ip", "enrich_decisions", "region"}
	headerExpected = map[string]bool{"client_name": true, "client_version": true}
)

// compareHeader compares the SDK's top-level fields with the exporter's. It returns the
// unexplained differences and the expected ones (client name and version).
func compareHeader(sdk, exp map[string]json.RawMessage) (mismatch, expected []string) {
	keys := map[string]bool{}
	for k := range sdk {
		keys[k] = true
	}
	for k := range exp {
		keys[k] = true
	}
	for _, k := range headerFields {
		keys[k] = true // reported even when both lack it
	}
	for _, k := range sortedKeys(keys) {
		s, sok := sdk[k]
		e, eok := exp[k]
		switch {
		case !sok && !eok:
			mismatch = append(mismatch, fmt.Sprintf("%s: neither side sends it", k))
		case !sok || !eok || !jsonEqual(s, e):
			d := fmt.Sprintf("%s: SDK %s, exporter %s", k, orNone(s, sok), orNone(e, eok))
			if headerExpected[k] && sok && eok {
				expected = append(expected, d)
			} else {
				mismatch = append(mismatch, d)
			}
		}
	}
	return mismatch, expected
}

func orNone(raw json.RawMessage, ok bool) string {
	if !ok {
		return "(absent)"
	}
	return string(raw)
}

// jsonEqual compares two JSON texts as values (numbers as float64).
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

// headerTally counts the SDK's batches whose top-level fields were compared.
type headerTally struct {
	batches, exact, mismatched int
	expected                   map[string]int
	first                      []string
}

func newHeaderTally() *headerTally { return &headerTally{expected: map[string]int{}} }

func (h *headerTally) add(desc string, sdk sdkBatch, expHeader map[string]json.RawMessage, expEndpoint string) {
	h.batches++
	mismatch, expected := compareHeader(sdk.header, expHeader)
	if sdk.endpoint != expEndpoint {
		mismatch = append(mismatch, fmt.Sprintf("endpoint: SDK %s, exporter %s", sdk.endpoint, expEndpoint))
	}
	for _, e := range expected {
		h.expected[e]++
	}
	if len(mismatch) > 0 {
		h.mismatched++
		if len(h.first) < 20 {
			h.first = append(h.first, desc+": "+strings.Join(mismatch, "; "))
		}
		return
	}
	h.exact++
}

func (h *headerTally) summary(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d SDK batches, top level (%s, endpoint): %d matched, %d mismatched",
		name, h.batches, strings.Join(headerFields, ", "), h.exact, h.mismatched)
	if len(h.expected) > 0 {
		b.WriteString("\n  expected differences (each side names itself):")
		for _, k := range sortedKeys(h.expected) {
			fmt.Fprintf(&b, "\n    %6d  %s", h.expected[k], k)
		}
	}
	if len(h.first) > 0 {
		b.WriteString("\n  first mismatches:")
		for _, l := range h.first {
			b.WriteString("\n    " + l)
		}
	}
	return b.String()
}

// knownNoBotFiltering is the one difference when the datafile has no botFiltering: the Go
// SDK then sends $opt_bot_filtering false (GetBotFiltering's zero value), the exporter
// nothing, as the JavaScript and Python SDKs do: they add it only when the datafile's
// botFiltering is a boolean.
const knownNoBotFiltering = `attributes: ["$opt_bot_filtering","$opt_bot_filtering","custom",false]: SDK ×1, exporter ×0`

// datafileVariant rewrites the top-level fields of a datafile.
type datafileVariant struct {
	name string
	set  map[string]any // nil value: delete the field
}

func variantsOf() []datafileVariant {
	return []datafileVariant{
		{"as_is", nil},
		{"eu", map[string]any{"region": "EU", "anonymizeIP": false}},
		{"no_region_no_flags", map[string]any{"region": nil, "anonymizeIP": nil, "botFiltering": nil}},
		{"eu_lowercase", map[string]any{"region": "eu"}},
		{"unknown_region", map[string]any{"region": "APAC", "anonymizeIP": true}},
	}
}

func applyVariant(t *testing.T, data []byte, v datafileVariant) []byte {
	t.Helper()
	if v.set == nil {
		return data
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for k, x := range v.set {
		if x == nil {
			delete(m, k)
		} else {
			m[k] = x
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSDKCompatBatchTopLevel compares the top-level fields of the SDK's batches (of
// impressions and conversions) and their endpoint with the exporter's, for each datafile
// as is and with its region, anonymizeIP and botFiltering rewritten.
func TestSDKCompatBatchTopLevel(t *testing.T) {
	for _, dc := range datafileCases() {
		base, err := os.ReadFile(dc.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range variantsOf() {
			t.Run(dc.name+"/"+v.name, func(t *testing.T) {
				data := applyVariant(t, base, v)
				df, err := optimizely.Parse(data)
				if err != nil {
					t.Fatalf("exporter rejects the datafile: %v", err)
				}
				b := optimizely.NewBuilder(df, optimizely.FlagDecisionsAuto)
				prefix := df.BatchPrefix(exporterClientName, exporterClientVersion)
				events := eventKeys(t, data)
				tags := map[string]any{"revenue": 100, "value": 2, "category": "shoes", "items": 2}
				disp := &batchDispatcher{}
				c := newSDKClient(t, data, disp)
				const users = 20
				exps := map[string]sdkBatch{} // the exporter's body by user
				for i := range users {
					id := userID(i)
					u := c.CreateUserContext(id, nil)
					u.DecideAll(nil)
					if err := u.TrackEvent(events[0], tags); err != nil {
						t.Fatal(err)
					}
					out, verdict, reason := buildConversion(b, id, events[0], nil, tags)
					if verdict != record.Built {
						t.Fatalf("exporter: %s/%s", verdictName(verdict), reason)
					}
					exp, err := splitBatch(exporterBody(prefix, out))
					if err != nil || len(exp.visitors) != 1 {
						t.Fatalf("the exporter's body is not an EventBatch of one visitor: %v", err)
					}
					exps[id] = exp
				}
				c.Close()
				batches := disp.result(t)
				if len(batches) == 0 {
					t.Fatal("the SDK dispatched nothing")
				}
				h := newHeaderTally()
				tl := newConvTally(dc.name + "/" + v.name)
				known := 0
				for i, sb := range batches {
					h.add(fmt.Sprintf("batch %d", i), sb, exps[userID(0)].header, df.EventsURL())
					// The conversions among the batch's visitors (those without decisions).
					for _, sv := range sb.visitors {
						var vis struct {
							VisitorID string `json:"visitor_id"`
							Snapshots []struct {
								Decisions []json.RawMessage `json:"decisions"`
							} `json:"snapshots"`
						}
						if err := json.Unmarshal(sv, &vis); err != nil {
							t.Fatal(err)
						}
						if len(vis.Snapshots) != 1 || len(vis.Snapshots[0].Decisions) != 0 {
							continue
						}
						exp, ok := exps[vis.VisitorID]
						if !ok {
							t.Fatalf("SDK conversion of an unknown visitor: %s", sv)
						}
						mismatch, fields := compareConversion(sv, exp.visitors[0])
						isKnown := df.BotFiltering == nil && len(mismatch) == 1 && mismatch[0] == knownNoBotFiltering
						if isKnown {
							known++
							mismatch, fields = nil, nil
						}
						tl.add(convCase{"none", vis.VisitorID, events[0], "mixed"}, mismatch, fields, isKnown)
					}
				}
				if tl.cases != users {
					t.Errorf("%d conversions compared, want %d", tl.cases, users)
				}
				if known > 0 {
					t.Logf("known difference in %d conversions: the datafile has no botFiltering: "+
						"the Go SDK sends $opt_bot_filtering false, the exporter (like the JavaScript and Python SDKs) none", known)
					if *strict {
						t.Errorf("known difference in %d conversions (strict)", known)
					}
				}
				for _, r := range []struct {
					failed bool
					sum    string
				}{{h.mismatched > 0, h.summary(dc.name + "/" + v.name)}, {tl.mismatch > 0, tl.summary()}} {
					if r.failed {
						t.Errorf("%s", r.sum)
					} else {
						t.Logf("%s", r.sum)
					}
				}
			})
		}
	}
}

// ---- conversions ----

// tagSet is the event tags an app passes to TrackEvent (nil: none).
type tagSet struct {
	name string
	tags map[string]any
}

func tagSets() []tagSet {
	return []tagSet{
		{"none", nil},
		{"revenue_int", map[string]any{"revenue": 4200}},
		{"revenue_fractional", map[string]any{"revenue": 42.99}},
		{"value_float", map[string]any{"value": 1.5}},
		{"mixed", map[string]any{"revenue": 100, "value": 2, "category": "shoes", "items": 2}},
		{"value_int", map[string]any{"value": 3}},
		// Beyond the brief's sets: zeros (sent, not omitted), a negative fractional
		// revenue (truncated toward zero) and tags without revenue or value.
		{"zeros", map[string]any{"revenue": 0, "value": 0}},
		{"revenue_negative_fractional", map[string]any{"revenue": -250.75}},
		{"other_tags_only", map[string]any{"category": "shoes", "gift": true, "discount": 0.15}},
	}
}

func convSets(dc datafileCase) []attrSet {
	var plain func(i int) map[string]any
	if dc.name == "rich" {
		plain = func(i int) map[string]any {
			return map[string]any{
				"device": []string{"ios", "android", "web"}[i%3], "app_version": "2.6.1", "age": i % 90,
				"country": "US", "is_vip": i%2 == 0, "loyalty_points": float64(i) + 0.5,
				"email": fmt.Sprintf("u%d@example.com", i), "undeclared_attr": "x",
			}
		}
	} else {
		plain = func(i int) map[string]any {
			return map[string]any{"is_beta": i%3 == 0, "plan": "pro", "country": "DE", "age": float64(i % 80), "favourite_color": "blue"}
		}
	}
	return []attrSet{
		{"none", fixed(nil)},
		{"plain", plain},
		{"app_bot_filtering", func(i int) map[string]any { return with(plain(i), "$opt_bot_filtering", false) }},
		{"user_agent", func(i int) map[string]any {
			return with(plain(i), "$opt_user_agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15")
		}},
	}
}

func eventKeys(t *testing.T, data []byte) []string {
	t.Helper()
	var raw struct {
		Events []struct {
			Key string `json:"key"`
		} `json:"events"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, e := range raw.Events {
		ks = append(ks, e.Key)
	}
	if len(ks) == 0 {
		t.Fatal("the datafile has no events")
	}
	return ks
}

// buildConversion sends the record an app would log for TrackEvent(eventKey, tags)
// through the exporter: revenue and value in their own attributes, the other tags in
// experiment.tags.
func buildConversion(b *optimizely.Builder, user, eventKey string, attrs, tags map[string]any) ([]byte, record.Verdict, string) {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName("experiment.conversion")
	lr.SetTimestamp(recordTime)
	a := lr.Attributes()
	a.PutStr("user.id", user)
	a.PutStr("experiment.event.key", eventKey)
	if attrs != nil {
		putAll(a.PutEmptyMap("experiment.visitor.attributes"), attrs)
	}
	rest := map[string]any{}
	for k, v := range tags {
		switch k {
		case "revenue":
			put(a, "experiment.revenue", v)
		case "value":
			put(a, "experiment.value", v)
		default:
			rest[k] = v
		}
	}
	if len(rest) > 0 {
		putAll(a.PutEmptyMap("experiment.tags"), rest)
	}
	var f record.Fields
	record.NewReader(record.DefaultMapping()).Read(lr, &f)
	return b.Append(nil, &f)
}

// convCase is one TrackEvent call.
type convCase struct {
	set, user, event, tags string
}

func (c convCase) String() string {
	return fmt.Sprintf("[%s %s %s tags=%s]", c.set, c.user, c.event, c.tags)
}

// compareConversion compares the SDK's conversion visitor with the exporter's, ignoring
// uuid and timestamp. It returns the differences and the fields they are in.
func compareConversion(sdk, exp json.RawMessage) (mismatch, fields []string) {
	diff := func(field, d string) {
		fields = append(fields, field)
		mismatch = append(mismatch, field+": "+d)
	}
	var sv, ev map[string]json.RawMessage
	if err := json.Unmarshal(sdk, &sv); err != nil {
		diff("SDK visitor", err.Error())
		return
	}
	if err := json.Unmarshal(exp, &ev); err != nil {
		diff("exporter visitor", err.Error())
		return
	}
	for _, k := range unionKeys(sv, ev) {
		s, sok := sv[k]
		e, eok := ev[k]
		switch k {
		case "attributes", "snapshots":
			continue
		}
		if !sok || !eok || !jsonEqual(s, e) {
			diff(k, fmt.Sprintf("SDK %s, exporter %s", orNone(s, sok), orNone(e, eok)))
		}
	}
	// Attributes, as a multiset.
	sa, err1 := attrMultiset(sv["attributes"])
	ea, err2 := attrMultiset(ev["attributes"])
	if err1 != nil || err2 != nil {
		diff("attributes", fmt.Sprintf("not decodable: SDK %v, exporter %v", err1, err2))
	} else {
		for _, k := range unionKeys(sa, ea) {
			if sa[k] != ea[k] {
				diff("attributes", fmt.Sprintf("%s: SDK ×%d, exporter ×%d", k, sa[k], ea[k]))
			}
		}
	}
	se, serr := conversionEvent(sv["snapshots"])
	ee, eerr := conversionEvent(ev["snapshots"])
	if serr != nil || eerr != nil {
		diff("snapshots", fmt.Sprintf("unexpected shape: SDK %v, exporter %v", serr, eerr))
		return
	}
	for _, k := range unionKeys(se, ee) {
		s, sok := se[k]
		e, eok := ee[k]
		switch k {
		case "uuid", "timestamp":
			if !sok || !eok {
				diff("event."+k, fmt.Sprintf("SDK %s, exporter %s", orNone(s, sok), orNone(e, eok)))
			}
			continue
		case "revenue":
			// An integer on both sides (the SDK's is an int64).
			if sok && eok && jsonEqual(s, e) && !isDigits(strings.TrimPrefix(string(e), "-")) {
				diff("event.revenue", fmt.Sprintf("exporter %s is not an integer", e))
				continue
			}
		}
		if !sok || !eok || !jsonEqual(s, e) {
			diff("event."+k, fmt.Sprintf("SDK %s, exporter %s", orNone(s, sok), orNone(e, eok)))
		}
	}
	return mismatch, dedup(fields)
}

func unionKeys[V any](a, b map[string]V) []string {
	ks := map[string]bool{}
	for k := range a {
		ks[k] = true
	}
	for k := range b {
		ks[k] = true
	}
	return sortedKeys(ks)
}

// attrMultiset counts the attributes by entity_id, key, type and value.
func attrMultiset(raw json.RawMessage) (map[string]int, error) {
	var as []map[string]any
	if err := json.Unmarshal(raw, &as); err != nil {
		return nil, err
	}
	m := map[string]int{}
	for _, a := range as {
		for k := range a {
			switch k {
			case "entity_id", "key", "type", "value":
			default:
				return nil, fmt.Errorf("attribute with field %q", k)
			}
		}
		m[js([]any{a["entity_id"], a["key"], a["type"], a["value"]})]++
	}
	return m, nil
}

// conversionEvent returns the only event of the only snapshot (which has no decisions).
func conversionEvent(raw json.RawMessage) (map[string]json.RawMessage, error) {
	var snaps []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &snaps); err != nil {
		return nil, err
	}
	if len(snaps) != 1 {
		return nil, fmt.Errorf("%d snapshots", len(snaps))
	}
	for k, v := range snaps[0] {
		switch k {
		case "events":
		case "decisions":
			var ds []json.RawMessage
			if err := json.Unmarshal(v, &ds); err != nil || len(ds) != 0 {
				return nil, fmt.Errorf("decisions %s", v)
			}
		default:
			return nil, fmt.Errorf("snapshot field %q", k)
		}
	}
	var evs []map[string]json.RawMessage
	if err := json.Unmarshal(snaps[0]["events"], &evs); err != nil {
		return nil, err
	}
	if len(evs) != 1 {
		return nil, fmt.Errorf("%d events", len(evs))
	}
	return evs[0], nil
}

// convTally counts conversion cases.
type convTally struct {
	name                          string
	cases, exact, known, mismatch int
	categories                    map[string]int
	catExample                    map[string]string
	first                         []string
	byTags                        map[string][2]int // tag set → {cases, mismatched}
}

func newConvTally(name string) *convTally {
	return &convTally{name: name, categories: map[string]int{}, catExample: map[string]string{}, byTags: map[string][2]int{}}
}

// add counts a case; known says its only differences are known ones.
func (t *convTally) add(c convCase, mismatch, fields []string, known bool) {
	t.cases++
	bt := t.byTags[c.tags]
	bt[0]++
	if len(mismatch) == 0 {
		if known {
			t.known++
		} else {
			t.exact++
		}
		t.byTags[c.tags] = bt
		return
	}
	bt[1]++
	t.byTags[c.tags] = bt
	t.mismatch++
	cat := "differs in " + strings.Join(fields, ", ")
	line := c.String() + ": " + strings.Join(mismatch, "; ")
	t.categories[cat]++
	if _, ok := t.catExample[cat]; !ok {
		t.catExample[cat] = line
	}
	if len(t.first) < 20 {
		t.first = append(t.first, line)
	}
}

func (t *convTally) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s conversions: %d cases: %d matched exactly, %d matched but for known differences, %d mismatched",
		t.name, t.cases, t.exact, t.known, t.mismatch)
	b.WriteString("\n  by tag set (cases/mismatched):")
	for _, k := range sortedKeys(t.byTags) {
		fmt.Fprintf(&b, " %s %d/%d;", k, t.byTags[k][0], t.byTags[k][1])
	}
	if len(t.categories) > 0 {
		b.WriteString("\n  mismatch categories:")
		cats := sortedKeys(t.categories)
		sort.SliceStable(cats, func(i, j int) bool { return t.categories[cats[i]] > t.categories[cats[j]] })
		for _, k := range cats {
			fmt.Fprintf(&b, "\n    %6d  %s\n            e.g. %s", t.categories[k], k, t.catExample[k])
		}
		b.WriteString("\n  first mismatches:")
		for _, l := range t.first {
			b.WriteString("\n    " + l)
		}
	}
	return b.String()
}

// TestSDKCompatConversions tracks every event of each datafile for users × attribute sets
// × tag sets with the SDK and sends the matching records through the exporter, comparing
// the visitors field by field and the batches' top-level fields.
func TestSDKCompatConversions(t *testing.T) {
	for _, dc := range datafileCases() {
		t.Run(dc.name, func(t *testing.T) {
			data, err := os.ReadFile(dc.path)
			if err != nil {
				t.Fatal(err)
			}
			df, err := optimizely.Parse(data)
			if err != nil {
				t.Fatalf("exporter rejects the datafile: %v", err)
			}
			b := optimizely.NewBuilder(df, optimizely.FlagDecisionsAuto)
			prefix := df.BatchPrefix(exporterClientName, exporterClientVersion)
			events := eventKeys(t, data)
			tl := newConvTally(dc.name)
			ht := newHeaderTally()
			for _, set := range convSets(dc) {
				disp := &batchDispatcher{}
				c := newSDKClient(t, data, disp)
				var cases []convCase
				var exps []sdkBatch // the exporter's body for each case, parsed
				for i := range *numConvUsers {
					id := userID(i)
					attrs := set.attrs(i)
					u := c.CreateUserContext(id, attrs)
					for _, ev := range events {
						for _, ts := range tagSets() {
							if err := u.TrackEvent(ev, ts.tags); err != nil {
								t.Fatalf("SDK TrackEvent: %v", err)
							}
							cc := convCase{set.name, id, ev, ts.name}
							out, verdict, reason := buildConversion(b, id, ev, attrs, ts.tags)
							if verdict != record.Built {
								t.Fatalf("%s: exporter %s/%s", cc, verdictName(verdict), reason)
							}
							body := exporterBody(prefix, out)
							exp, err := splitBatch(body)
							if err != nil || len(exp.visitors) != 1 {
								t.Fatalf("%s: the exporter's body is not an EventBatch of one visitor (%v): %s", cc, err, body)
							}
							cases = append(cases, cc)
							exps = append(exps, exp)
						}
					}
				}
				c.Close()
				n := 0
				for bi, sb := range disp.result(t) {
					ht.add(fmt.Sprintf("%s batch %d", set.name, bi), sb, exps[n].header, df.EventsURL())
					for _, sv := range sb.visitors {
						if n >= len(cases) {
							t.Fatalf("%s: the SDK dispatched more visitors than TrackEvent calls", set.name)
						}
						// The SDK dispatches in call order; check it before comparing.
						var id struct {
							VisitorID string `json:"visitor_id"`
							Snapshots []struct {
								Events []struct {
									Key string `json:"key"`
								} `json:"events"`
							} `json:"snapshots"`
						}
						if err := json.Unmarshal(sv, &id); err != nil || id.VisitorID != cases[n].user ||
							len(id.Snapshots) != 1 || len(id.Snapshots[0].Events) != 1 || id.Snapshots[0].Events[0].Key != cases[n].event {
							t.Fatalf("SDK visitor %d is not %s (%v): %s", n, cases[n], err, sv)
						}
						mismatch, fields := compareConversion(sv, exps[n].visitors[0])
						tl.add(cases[n], mismatch, fields, false)
						n++
					}
				}
				if n != len(cases) {
					t.Fatalf("%s: %d TrackEvent calls, the SDK dispatched %d visitors", set.name, len(cases), n)
				}
			}
			if tl.mismatch > 0 {
				t.Errorf("%s", tl.summary())
			} else {
				t.Logf("%s", tl.summary())
			}
			if ht.mismatched > 0 {
				t.Errorf("%s", ht.summary(dc.name))
			} else {
				t.Logf("%s", ht.summary(dc.name))
			}
		})
	}
}
