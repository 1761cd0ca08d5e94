package optimizely

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Audience evaluation as the Optimizely Go SDK (v2) does it: condition trees with
// and/or/not, three-valued (a condition on a missing or mistyped attribute is neither
// true nor false), and the matchers exact, exists, substring, gt, ge, lt, le, semver_*
// and qualified.

type condOp uint8

const (
	opLeaf condOp = iota
	opOr
	opAnd
	opNot
)

// condNode is a node of an audience-condition tree (leaves name audiences) or of an
// audience's own condition tree (leaves are conditions).
type condNode struct {
	op       condOp
	nodes    []*condNode
	audience string     // leaf of an experiment's audience tree
	cond     *condition // leaf of an audience's condition tree
}

type condition struct {
	name, match, typ string
	value            any // string, bool, float64 or anything else JSON allows
}

func opOf(s string) condOp {
	switch s {
	case "and":
		return opAnd
	case "not":
		return opNot
	}
	return opOr
}

// parseAudienceTree builds an experiment's audience tree from audienceConditions, or
// from audienceIds when audienceConditions is absent. nil means everyone qualifies.
func parseAudienceTree(conditions json.RawMessage, ids []string) *condNode {
	var v any
	if len(conditions) > 0 {
		if err := json.Unmarshal(conditions, &v); err != nil {
			return &condNode{op: opOr, nodes: []*condNode{{}}} // unreadable: never qualifies
		}
	}
	switch c := v.(type) {
	case nil:
		if len(ids) == 0 {
			return nil
		}
		list := make([]any, len(ids))
		for i, id := range ids {
			list[i] = id
		}
		return audienceTree(list)
	case []any:
		if len(c) == 0 {
			return nil
		}
		return audienceTree(c)
	case string:
		if c == "" {
			return nil
		}
		return audienceTree([]any{c})
	}
	return nil
}

func audienceTree(list []any) *condNode {
	root := &condNode{op: opOr}
	for _, item := range list {
		switch x := item.(type) {
		case string:
			switch x {
			case "and", "or", "not":
				root.op = opOf(x)
			default:
				root.nodes = append(root.nodes, &condNode{audience: x})
			}
		case []any:
			child := audienceTree(x)
			if child.op == opOr && !hasOperator(x) {
				child.op = opLeaf // a nested list without operator is an invalid node in the SDK
				child.nodes = nil
			}
			root.nodes = append(root.nodes, child)
		default:
			root.nodes = append(root.nodes, &condNode{})
		}
	}
	return root
}

func hasOperator(list []any) bool {
	for _, item := range list {
		if s, ok := item.(string); ok && (s == "and" || s == "or" || s == "not") {
			return true
		}
	}
	return false
}

// parseConditionTree builds an audience's condition tree from its conditions: a JSON
// string (audiences) or a JSON value (typedAudiences). nil means it cannot be read.
func parseConditionTree(raw json.RawMessage) *condNode {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil
	}
	if s, ok := v.(string); ok {
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil
		}
	}
	switch c := v.(type) {
	case map[string]any:
		return &condNode{op: opOr, nodes: []*condNode{leafCondition(c)}}
	case []any:
		root := &condNode{}
		conditionList(root, c)
		if root.op == opLeaf && root.nodes == nil {
			return nil
		}
		return root
	}
	return nil
}

// conditionList fills n from a list: a string sets the operator, a map is a condition,
// a list is a subtree; anything else is a node that never evaluates.
func conditionList(n *condNode, list []any) {
	for _, item := range list {
		switch x := item.(type) {
		case string:
			n.op = opOf(x)
		case map[string]any:
			n.nodes = append(n.nodes, leafCondition(x))
		case []any:
			child := &condNode{}
			conditionList(child, x)
			n.nodes = append(n.nodes, child)
		default:
			n.nodes = append(n.nodes, &condNode{})
		}
	}
}

func leafCondition(m map[string]any) *condNode {
	c := &condition{value: m["value"]}
	c.name, _ = m["name"].(string)
	c.match, _ = m["match"].(string)
	c.typ, _ = m["type"].(string)
	return &condNode{cond: c}
}

// visitorAttrs are the attributes of one record that audiences are evaluated against.
type visitorAttrs struct {
	m  pcommon.Map
	ok bool
}

func (a visitorAttrs) get(name string) (pcommon.Value, bool) {
	if !a.ok {
		return pcommon.Value{}, false
	}
	v, ok := a.m.Get(name)
	if !ok || v.Type() == pcommon.ValueTypeEmpty {
		return pcommon.Value{}, false
	}
	return v, true
}

func (a visitorAttrs) str(name string) (string, bool) {
	v, ok := a.get(name)
	if !ok || v.Type() != pcommon.ValueTypeStr {
		return "", false
	}
	return v.Str(), true
}

func (a visitorAttrs) float(name string) (float64, bool) {
	v, ok := a.get(name)
	if !ok {
		return 0, false
	}
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return float64(v.Int()), true
	case pcommon.ValueTypeDouble:
		return v.Double(), true
	}
	return 0, false
}

// evalAudiences evaluates an experiment's audience tree; nil qualifies everyone.
func evalAudiences(n *condNode, audiences map[string]*condNode, attrs visitorAttrs) bool {
	if n == nil {
		return true
	}
	res, _ := eval(n, audiences, attrs)
	return res
}

// eval returns the node's value and whether it has one.
func eval(n *condNode, audiences map[string]*condNode, attrs visitorAttrs) (result, valid bool) {
	switch n.op {
	case opAnd:
		for _, c := range n.nodes {
			r, ok := eval(c, audiences, attrs)
			if !ok || !r {
				return false, ok
			}
		}
		return true, true
	case opNot:
		if len(n.nodes) == 0 {
			return false, false
		}
		r, ok := eval(n.nodes[0], audiences, attrs)
		return ok && !r, ok
	case opOr:
		sawInvalid := false
		for _, c := range n.nodes {
			r, ok := eval(c, audiences, attrs)
			if !ok {
				sawInvalid = true
			} else if r {
				return true, true
			}
		}
		return false, !sawInvalid
	}
	switch {
	case n.cond != nil:
		return n.cond.eval(attrs)
	case n.audience != "":
		tree, known := audiences[n.audience]
		if !known || tree == nil {
			return false, false
		}
		return eval(tree, audiences, attrs)
	}
	return false, false
}

func (c *condition) eval(attrs visitorAttrs) (result, valid bool) {
	if c.typ != "custom_attribute" && c.typ != "third_party_dimension" {
		return false, false
	}
	switch c.match {
	case "", "exact":
		if _, ok := attrs.get(c.name); !ok {
			return false, false
		}
		switch want := c.value.(type) {
		case string:
			got, ok := attrs.str(c.name)
			return ok && got == want, ok
		case bool:
			v, _ := attrs.get(c.name)
			if v.Type() != pcommon.ValueTypeBool {
				return false, false
			}
			return v.Bool() == want, true
		case float64:
			got, ok := attrs.float(c.name)
			return ok && got == want, ok
		}
		return false, false
	case "exists":
		_, ok := attrs.get(c.name)
		return ok, true
	case "substring":
		want, isStr := c.value.(string)
		got, ok := attrs.str(c.name)
		if !isStr || !ok {
			return false, false
		}
		return strings.Contains(got, want), true
	case "gt", "ge", "lt", "le":
		want, isNum := c.value.(float64)
		got, ok := attrs.float(c.name)
		if !isNum || !ok {
			return false, false
		}
		switch c.match {
		case "gt":
			return got > want, true
		case "ge":
			return got >= want, true
		case "lt":
			return got < want, true
		}
		return got <= want, true
	case "semver_eq", "semver_lt", "semver_le", "semver_gt", "semver_ge":
		want, isStr := c.value.(string)
		got, ok := attrs.str(c.name)
		if !isStr || !ok {
			return false, false
		}
		cmp, err := compareVersion(want, got)
		if !err {
			return false, false
		}
		switch c.match {
		case "semver_eq":
			return cmp == 0, true
		case "semver_lt":
			return cmp < 0, true
		case "semver_le":
			return cmp <= 0, true
		case "semver_gt":
			return cmp > 0, true
		}
		return cmp >= 0, true
	case "qualified":
		// ODP segments never reach the collector: a visitor qualifies for none.
		_, isStr := c.value.(string)
		return false, isStr
	}
	return false, false
}

var digits = regexp.MustCompile(`^\d+$`)

// compareVersion compares the attribute version with the condition's as the JavaScript
// SDK 6.x does (utils/semantic_version compareVersion): -1, 0 or 1, and false when either
// is not a version. Where go-sdk v2.3.1's matcher differs (a shorter attribute against a
// pre-release or build condition, a non-numeric condition part against a numeric one),
// the JavaScript SDK is followed; semver_vectors_test.go asserts each difference.
func compareVersion(condition, attribute string) (int, bool) {
	target, ok := splitVersion(condition)
	if !ok {
		return 0, false
	}
	parts, ok := splitVersion(attribute)
	if !ok {
		return 0, false
	}
	for i := range target {
		switch {
		case len(parts) <= i:
			if isPreRelease(condition) || isBuild(condition) {
				return 1, true
			}
			return -1, true
		case !digits.MatchString(parts[i]):
			if parts[i] < target[i] {
				if isPreRelease(condition) && !isPreRelease(attribute) {
					return 1, true
				}
				return -1, true
			} else if parts[i] > target[i] {
				if !isPreRelease(condition) && isPreRelease(attribute) {
					return -1, true
				}
				return 1, true
			}
		default:
			// parseInt of both: a non-numeric condition part is NaN, and NaN compares
			// neither less nor greater.
			a, _ := strconv.Atoi(parts[i])
			b, err := strconv.Atoi(target[i])
			if err != nil {
				continue
			}
			if a < b {
				return -1, true
			} else if a > b {
				return 1, true
			}
		}
	}
	if isPreRelease(attribute) && !isPreRelease(condition) {
		return -1, true
	}
	return 0, true
}

func splitVersion(v string) ([]string, bool) {
	if v == "" || strings.ContainsAny(v, " \t\n\r\v\f") {
		return nil, false
	}
	prefix := v
	var suffix []string
	if isPreRelease(v) || isBuild(v) {
		sep := "+"
		if isPreRelease(v) {
			sep = "-"
		}
		p := strings.SplitN(v, sep, 2)
		prefix = p[0]
		if p[1] != "" {
			suffix = p[1:]
		}
	}
	parts := strings.Split(prefix, ".")
	if len(parts) > 3 {
		return nil, false
	}
	for _, p := range parts {
		if !digits.MatchString(p) {
			return nil, false
		}
	}
	return append(parts, suffix...), true
}

func isPreRelease(s string) bool {
	if pr := strings.Index(s, "-"); pr >= 0 {
		if b := strings.Index(s, "+"); b >= 0 {
			return pr < b
		}
		return true
	}
	return false
}

func isBuild(s string) bool {
	if b := strings.Index(s, "+"); b >= 0 {
		if pr := strings.Index(s, "-"); pr >= 0 {
			return b < pr
		}
		return true
	}
	return false
}
