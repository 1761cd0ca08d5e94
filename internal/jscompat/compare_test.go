package jscompat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strings"
)

// ---- comparing one visitor ----

// decodeJSON decodes with numbers as json.Number.
func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// sameNumber compares two number literals as exact decimal values: 30 and 30.0 are equal,
// 42 and 42.99 are not.
func sameNumber(a, b json.Number) bool {
	x, ok1 := new(big.Rat).SetString(string(a))
	y, ok2 := new(big.Rat).SetString(string(b))
	if !ok1 || !ok2 {
		return a == b
	}
	return x.Cmp(y) == 0
}

// jsonEqual compares decoded JSON values, numbers by value.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		return ok && sameNumber(x, y)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// diff is one field that differs between the SDK's visitor and the exporter's.
type diff struct {
	field    string // e.g. decision.metadata.rule_key, event.uuid, attributes
	sdk, exp string // the values, as JSON ("(absent)" when missing)
}

func (d diff) String() string { return fmt.Sprintf("%s: SDK %s, exporter %s", d.field, d.sdk, d.exp) }

func show(v any, ok bool) string {
	if !ok {
		return "(absent)"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// compareVisitors compares two visitor objects field by field: every field either side
// has is compared (a field only one side sends is a difference), attributes as a multiset
// ($opt_bot_filtering included), numbers by value. attrOrder reports attributes that are
// equal as a multiset but in another order (not a difference: the API does not care).
func compareVisitors(sdkRaw, expRaw json.RawMessage) (diffs []diff, attrOrder bool) {
	sv, err1 := decodeJSON(sdkRaw)
	ev, err2 := decodeJSON(expRaw)
	s, ok1 := sv.(map[string]any)
	e, ok2 := ev.(map[string]any)
	if err1 != nil || err2 != nil || !ok1 || !ok2 {
		return []diff{{"visitor", string(sdkRaw), string(expRaw)}}, false
	}
	add := func(field string, a any, aok bool, b any, bok bool) {
		diffs = append(diffs, diff{field, show(a, aok), show(b, bok)})
	}
	for _, k := range unionKeys(s, e) {
		a, aok := s[k]
		b, bok := e[k]
		switch {
		case k == "attributes" && aok && bok:
			d, order := compareAttributes(a, b)
			diffs = append(diffs, d...)
			attrOrder = order
		case k == "snapshots" && aok && bok:
			diffs = append(diffs, compareSnapshots(a, b)...)
		case !aok || !bok || !jsonEqual(a, b):
			add(k, a, aok, b, bok)
		}
	}
	return diffs, attrOrder
}

func compareAttributes(a, b any) (diffs []diff, otherOrder bool) {
	as, ok1 := a.([]any)
	bs, ok2 := b.([]any)
	if !ok1 || !ok2 {
		return []diff{{"attributes", show(a, true), show(b, true)}}, false
	}
	canon := func(xs []any) ([]string, map[string]int) {
		var order []string
		m := map[string]int{}
		for _, x := range xs {
			c := canonical(x)
			order = append(order, c)
			m[c]++
		}
		return order, m
	}
	ao, am := canon(as)
	bo, bm := canon(bs)
	for _, k := range unionKeys(am, bm) {
		if am[k] != bm[k] {
			diffs = append(diffs, diff{"attributes", fmt.Sprintf("%s ×%d", k, am[k]), fmt.Sprintf("×%d", bm[k])})
		}
	}
	if len(diffs) == 0 {
		otherOrder = strings.Join(ao, "\n") != strings.Join(bo, "\n")
	}
	return diffs, otherOrder
}

// canonical writes a decoded value with sorted keys and numbers normalized.
func canonical(v any) string {
	switch x := v.(type) {
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(x)); ok {
			return r.RatString()
		}
		return string(x)
	case map[string]any:
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:%s", k, canonical(x[k]))
		}
		b.WriteByte('}')
		return b.String()
	case []any:
		parts := make([]string, len(x))
		for i, y := range x {
			parts[i] = canonical(y)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func compareSnapshots(a, b any) []diff {
	as, ok1 := a.([]any)
	bs, ok2 := b.([]any)
	if !ok1 || !ok2 || len(as) != 1 || len(bs) != 1 {
		return []diff{{"snapshots", shape(a), shape(b)}}
	}
	s, ok1 := as[0].(map[string]any)
	e, ok2 := bs[0].(map[string]any)
	if !ok1 || !ok2 {
		return []diff{{"snapshot", show(as[0], true), show(bs[0], true)}}
	}
	var diffs []diff
	for _, k := range unionKeys(s, e) {
		x, xok := s[k]
		y, yok := e[k]
		name := map[string]string{"decisions": "decision", "events": "event"}[k]
		xs, ok1 := x.([]any)
		ys, ok2 := y.([]any)
		switch {
		case name == "" || !xok || !yok || !ok1 || !ok2 || len(xs) != len(ys):
			diffs = append(diffs, diff{"snapshot." + k, shape(x), shape(y)})
		default:
			for i := range xs {
				diffs = append(diffs, compareObjects(name, xs[i], ys[i])...)
			}
		}
	}
	return diffs
}

// compareObjects compares two objects field by field, one level of nesting deep
// (a decision's metadata).
func compareObjects(path string, a, b any) []diff {
	s, ok1 := a.(map[string]any)
	e, ok2 := b.(map[string]any)
	if !ok1 || !ok2 {
		if jsonEqual(a, b) {
			return nil
		}
		return []diff{{path, show(a, true), show(b, true)}}
	}
	var diffs []diff
	for _, k := range unionKeys(s, e) {
		x, xok := s[k]
		y, yok := e[k]
		p := path + "." + k
		_, xm := x.(map[string]any)
		_, ym := y.(map[string]any)
		switch {
		case xok && yok && xm && ym && !strings.Contains(path, "."):
			if k == "tags" {
				// Tags are compared as one value.
				if !jsonEqual(x, y) {
					diffs = append(diffs, diff{p, show(x, true), show(y, true)})
				}
				continue
			}
			diffs = append(diffs, compareObjects(p, x, y)...)
		case !xok || !yok || !jsonEqual(x, y):
			diffs = append(diffs, diff{p, show(x, xok), show(y, yok)})
		case k == "revenue" && path == "event":
			// Equal in value; the exporter's must also be an integer literal as the SDK's is.
			if n, ok := y.(json.Number); ok && strings.ContainsAny(string(n), ".eE") {
				diffs = append(diffs, diff{p + " (not an integer)", show(x, true), show(y, true)})
			}
		}
	}
	return diffs
}

func shape(v any) string {
	switch x := v.(type) {
	case nil:
		return "(absent)"
	case []any:
		return fmt.Sprintf("%d entries", len(x))
	}
	return show(v, true)
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

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func fieldsOf(ds []diff) []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range ds {
		if !seen[d.field] {
			seen[d.field] = true
			out = append(out, d.field)
		}
	}
	return out
}

func joinDiffs(ds []diff) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.String()
	}
	return strings.Join(parts, "; ")
}

// ---- comparing the batch's top level ----

// The top-level fields compared, and those that differ by design (each side names itself).
var (
	headerFields   = []string{"account_id", "project_id", "revision", "anonymize_ip", "enrich_decisions"}
	headerExpected = map[string]bool{"client_name": true, "client_version": true}
)

// knownRegion: the JS SDK's EventBatch has no "region" (log_event.js makeEventBatch); the
// exporter sends the datafile's region as go-sdk v2.3.1 does. The API takes both.
const knownRegion = "region: the JS SDK sends none, the exporter the datafile's (as go-sdk)"

// compareHeader compares the SDK's top-level fields and endpoint with the exporter's.
// wantRegion is the region the exporter must send (the known difference).
func compareHeader(sdk jsBatch, exp map[string]json.RawMessage, expURL, wantRegion string) (mismatch, expected, known []string) {
	keys := map[string]bool{}
	for k := range sdk.header {
		keys[k] = true
	}
	for k := range exp {
		keys[k] = true
	}
	for _, k := range headerFields {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		s, sok := sdk.header[k]
		e, eok := exp[k]
		var sv, ev any
		if sok {
			sv, _ = decodeJSON(s)
		}
		if eok {
			ev, _ = decodeJSON(e)
		}
		switch {
		case !sok && !eok:
			mismatch = append(mismatch, k+": neither side sends it")
		case k == "region" && !sok && eok:
			if r, _ := ev.(string); r == wantRegion {
				known = append(known, knownRegion)
			} else {
				mismatch = append(mismatch, fmt.Sprintf("region: SDK (absent), exporter %s, want %q", e, wantRegion))
			}
		case !sok || !eok || !jsonEqual(sv, ev):
			d := fmt.Sprintf("%s: SDK %s, exporter %s", k, show(sv, sok), show(ev, eok))
			if headerExpected[k] && sok && eok {
				expected = append(expected, d)
			} else {
				mismatch = append(mismatch, d)
			}
		}
	}
	if sdk.url != expURL {
		mismatch = append(mismatch, fmt.Sprintf("endpoint: SDK %s, exporter %s", sdk.url, expURL))
	}
	return mismatch, expected, known
}
