package jscompat

import (
	"fmt"
	"sort"
	"strings"
)

// outcome is the comparison of one case (one decision or one conversion).
type outcome struct {
	known     []string // known differences found
	mismatch  []string // unexplained differences, described
	category  string   // the mismatch's category for the summary
	attrOrder bool     // attributes equal as a multiset but in another order
}

func (o *outcome) fail(category, detail string) {
	if o.category == "" {
		o.category = category
	} else {
		o.category += " + " + category
	}
	o.mismatch = append(o.mismatch, detail)
}

// tally counts the cases of one datafile run.
type tally struct {
	name          string
	cases         int
	sdkSent       int // cases where the SDK dispatched something
	exact         int // identical
	matchedKnown  int // identical but for known differences
	mismatched    int
	attrOrder     int
	known         map[string]int
	categories    map[string]int
	catExample    map[string]string
	firstMismatch []string
	byRuleType    map[string][2]int // the SDK's rule type → {cases, mismatched}
	byRule        map[string]int    // rule keys the SDK chose (also holdouts of extra impressions) → cases
	resolutions   map[string]int    // how the exporter found the rule of its built impressions
	headers       headerTally
}

type headerTally struct {
	logEvents, mismatched int
	expected, known       map[string]int
	first                 []string
}

func newTally(name string) *tally {
	return &tally{name: name, known: map[string]int{}, categories: map[string]int{}, catExample: map[string]string{},
		byRuleType: map[string][2]int{}, byRule: map[string]int{}, resolutions: map[string]int{},
		headers: headerTally{expected: map[string]int{}, known: map[string]int{}}}
}

func (t *tally) add(desc, ruleType string, sent bool, o outcome) {
	t.cases++
	if sent {
		t.sdkSent++
	}
	c := t.byRuleType[ruleType]
	c[0]++
	if o.attrOrder {
		t.attrOrder++
	}
	for _, k := range o.known {
		t.known[k]++
	}
	switch {
	case len(o.mismatch) > 0:
		t.mismatched++
		c[1]++
		t.categories[o.category]++
		line := desc + ": " + strings.Join(o.mismatch, "; ")
		if _, ok := t.catExample[o.category]; !ok {
			t.catExample[o.category] = line
		}
		if len(t.firstMismatch) < 10 {
			t.firstMismatch = append(t.firstMismatch, line)
		}
	case len(o.known) > 0:
		t.matchedKnown++
	default:
		t.exact++
	}
	t.byRuleType[ruleType] = c
}

func (t *tally) addHeader(desc string, mismatch, expected, known []string) {
	h := &t.headers
	h.logEvents++
	for _, e := range expected {
		h.expected[e]++
	}
	for _, k := range known {
		h.known[k]++
	}
	if len(mismatch) > 0 {
		h.mismatched++
		if len(h.first) < 10 {
			h.first = append(h.first, desc+": "+strings.Join(mismatch, "; "))
		}
	}
}

func (t *tally) failed(strict bool) bool {
	return t.mismatched > 0 || t.headers.mismatched > 0 || (strict && (t.matchedKnown > 0 || len(t.headers.known) > 0))
}

func (t *tally) summary(verbose bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d cases (the SDK dispatched for %d): %d matched exactly, %d matched but for known differences, %d mismatched",
		t.name, t.cases, t.sdkSent, t.exact, t.matchedKnown, t.mismatched)
	if t.cases == 0 {
		b.Reset()
		b.WriteString(t.name + ":")
	}
	b.WriteString("\n  by kind (cases/mismatched):")
	for _, k := range sortedKeys(t.byRuleType) {
		fmt.Fprintf(&b, " %s %d/%d;", k, t.byRuleType[k][0], t.byRuleType[k][1])
	}
	if len(t.byRule) > 0 {
		b.WriteString("\n  rules the SDK chose (cases):")
		for _, k := range sortedKeys(t.byRule) {
			fmt.Fprintf(&b, " %s %d;", k, t.byRule[k])
		}
	}
	if len(t.resolutions) > 0 {
		b.WriteString("\n  the exporter's rule resolution (built impressions):")
		for _, k := range sortedKeys(t.resolutions) {
			fmt.Fprintf(&b, " %s %d;", k, t.resolutions[k])
		}
	}
	if len(t.known) > 0 {
		b.WriteString("\n  known differences:")
		for _, k := range sortedKeys(t.known) {
			fmt.Fprintf(&b, "\n    %6d  %s", t.known[k], k)
		}
	}
	if t.attrOrder > 0 {
		fmt.Fprintf(&b, "\n  attributes in another order (not a difference): %d", t.attrOrder)
	}
	h := t.headers
	fmt.Fprintf(&b, "\n  batch top level (%s, region, endpoint) of %d SDK LogEvents: %d mismatched",
		strings.Join(headerFields, ", "), h.logEvents, h.mismatched)
	for _, m := range []map[string]int{h.expected, h.known} {
		for _, k := range sortedKeys(m) {
			fmt.Fprintf(&b, "\n    %6d  %s", m[k], k)
		}
	}
	for _, l := range h.first {
		b.WriteString("\n    " + l)
	}
	if len(t.categories) > 0 {
		b.WriteString("\n  mismatch categories:")
		cats := sortedKeys(t.categories)
		sort.SliceStable(cats, func(i, j int) bool { return t.categories[cats[i]] > t.categories[cats[j]] })
		for _, k := range cats {
			fmt.Fprintf(&b, "\n    %6d  %s", t.categories[k], k)
			if verbose {
				fmt.Fprintf(&b, "\n            e.g. %s", t.catExample[k])
			}
		}
		if !verbose {
			b.WriteString("\n  first mismatches (-jscompat.verbose: an example of each category):")
			for _, l := range t.firstMismatch {
				b.WriteString("\n    " + l)
			}
		}
	}
	return b.String()
}
