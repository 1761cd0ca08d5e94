package vwo

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/experimentationexporter/experimentationexporter/internal/jsnum"
)

// Segments as the VWO SDKs evaluate them (vwo-node-sdk 1.73.0 lib/core/SegmentEvaluator.js,
// lib/utils/SegmentUtil.js): and/or/not trees over custom_variable operands (lower(),
// wildcard(), regex(), gt()/gte()/lt()/lte(), else equality, on values as JavaScript
// turns them into text) and user operands (a list of user ids).

type segment struct {
	op       string // and, or, not, custom_variable, user
	children []*segment
	key      string // custom_variable: the variable
	operand  string // custom_variable: the operand; user: the id list
	// custom_variable, parsed once: the operator kind and its value, the value as a
	// number (processValues) and a regex() pattern (nil when it does not compile).
	kind, value string
	number      float64
	numeric     bool
	pattern     *regexp.Regexp
}

// parseSegments reads a segments value: nil without segments (absent, null or not an
// object: has is false), nil with has for {} (no condition), else the tree.
func parseSegments(raw json.RawMessage) (seg *segment, has bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, false, err
	}
	if len(m) == 0 {
		return nil, true, nil
	}
	seg, err = parseNode(raw)
	return seg, true, err
}

// firstKey returns the first key of a JSON object and its value: the SDKs read a node's
// operator as the object's first key.
func firstKey(raw json.RawMessage) (string, json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", nil, errors.New("segment node is not an object")
	}
	t, err := dec.Token()
	if err != nil {
		return "", nil, err
	}
	key, ok := t.(string)
	if !ok {
		return "", nil, errors.New("empty segment node")
	}
	var value json.RawMessage
	if err := dec.Decode(&value); err != nil {
		return "", nil, err
	}
	return key, value, nil
}

func parseNode(raw json.RawMessage) (*segment, error) {
	op, value, err := firstKey(raw)
	if err != nil {
		return nil, err
	}
	n := &segment{op: op}
	switch op {
	case "and", "or":
		var list []json.RawMessage
		if err := json.Unmarshal(value, &list); err != nil {
			return nil, err
		}
		for _, item := range list {
			child, err := parseNode(item)
			if err != nil {
				return nil, err
			}
			n.children = append(n.children, child)
		}
	case "not":
		child, err := parseNode(value)
		if err != nil {
			return nil, err
		}
		n.children = []*segment{child}
	case "custom_variable":
		k, v, err := firstKey(value)
		if err != nil {
			return nil, err
		}
		n.key = k
		n.operand = jsonText(v)
		n.kind, n.value = parseOperand(n.operand)
		if f, ok := jsnum.ParseFloat(n.value); ok && f != 0 {
			n.number, n.numeric = f, true
		}
		if n.kind == "regex" {
			n.pattern, _ = regexp.Compile(n.value)
		}
	case "user":
		n.operand = jsonText(value)
	}
	return n, nil
}

// jsonText is a JSON value as JavaScript's toString would give it (strings unquoted).
func jsonText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(v))
}

// segmentVars are the variables a segment is evaluated against.
type segmentVars struct {
	attrs pcommon.Map
	// userID is _vwoUserId for whitelisting (the user id, or its VWO uuid with
	// isUserListEnabled); with noUserID, _vwoUserId is whatever the variables hold.
	userID   string
	noUserID bool
}

func (v segmentVars) get(key string) (pcommon.Value, bool) {
	if key == "_vwoUserId" && !v.noUserID {
		return pcommon.NewValueStr(v.userID), true
	}
	if v.attrs == (pcommon.Map{}) {
		return pcommon.Value{}, false
	}
	return v.attrs.Get(key)
}

// eval is the SDKs' SegmentEvaluator: no segments match everyone.
func (n *segment) eval(vars segmentVars) bool {
	if n == nil {
		return true
	}
	switch n.op {
	case "not":
		return !n.children[0].eval(vars)
	case "and":
		for _, c := range n.children {
			if !c.eval(vars) {
				return false
			}
		}
		return true
	case "or":
		for _, c := range n.children {
			if c.eval(vars) {
				return true
			}
		}
		return false
	case "custom_variable":
		v, ok := vars.get(n.key)
		if !ok {
			return false
		}
		return n.match(v)
	case "user":
		id, ok := vars.get("_vwoUserId")
		if !ok {
			return false
		}
		for _, u := range strings.Split(n.operand, ",") {
			if strings.TrimSpace(u) == id.AsString() {
				return true
			}
		}
		return false
	}
	return false
}

var (
	lowerRE    = regexp.MustCompile(`^lower\((.*)\)`)
	wildcardRE = regexp.MustCompile(`^wildcard\((.*)\)`)
	regexRE    = regexp.MustCompile(`^regex\((.*)\)`)
	gtRE       = regexp.MustCompile(`^gt\(((\d+\.?\d*)|(\.\d+))\)`)
	gteRE      = regexp.MustCompile(`^gte\(((\d+\.?\d*)|(\.\d+))\)`)
	ltRE       = regexp.MustCompile(`^lt\(((\d+\.?\d*)|(\.\d+))\)`)
	lteRE      = regexp.MustCompile(`^lte\(((\d+\.?\d*)|(\.\d+))\)`)
)

// parseOperand splits an operand as SegmentUtil's preProcessOperandValue does.
func parseOperand(operand string) (kind, value string) {
	switch {
	case lowerRE.MatchString(operand):
		return "lower", lowerRE.FindStringSubmatch(operand)[1]
	case wildcardRE.MatchString(operand):
		value = wildcardRE.FindStringSubmatch(operand)[1]
		starts, ends := strings.HasPrefix(value, "*"), strings.HasSuffix(value, "*")
		switch {
		case starts && ends:
			kind = "contains"
		case starts:
			kind = "suffix"
		case ends:
			kind = "prefix"
		}
		value = strings.TrimPrefix(value, "*")
		return kind, strings.TrimSuffix(value, "*")
	case regexRE.MatchString(operand):
		return "regex", regexRE.FindStringSubmatch(operand)[1]
	case gtRE.MatchString(operand):
		return "gt", gtRE.FindStringSubmatch(operand)[1]
	case gteRE.MatchString(operand):
		return "gte", gteRE.FindStringSubmatch(operand)[1]
	case ltRE.MatchString(operand):
		return "lt", ltRE.FindStringSubmatch(operand)[1]
	case lteRE.MatchString(operand):
		return "lte", lteRE.FindStringSubmatch(operand)[1]
	}
	return "", operand
}

// match is SegmentUtil's operandCustomVariablesParser for one variable value.
func (n *segment) match(v pcommon.Value) bool {
	tag, null := jsText(v)
	value := n.value
	// processValues: both numeric (and non-zero): compared as JavaScript prints them.
	if !null && n.numeric {
		if t, ok := jsnum.ParseFloat(tag); ok && t != 0 {
			value, tag = jsIntText(n.number), jsIntText(t)
		}
	}
	switch n.kind {
	case "lower":
		return !null && strings.ToLower(value) == strings.ToLower(tag)
	case "contains":
		return !null && strings.Contains(tag, value)
	case "suffix":
		return !null && strings.HasSuffix(tag, value)
	case "prefix":
		return !null && strings.HasPrefix(tag, value)
	case "regex":
		return n.pattern != nil && n.pattern.MatchString(tag)
	case "gt", "gte", "lt", "lte":
		if null {
			return false
		}
		o, ok1 := jsnum.ParseFloat(value)
		t, ok2 := jsnum.ParseFloat(tag)
		if !ok1 || !ok2 {
			return false // NaN compares false
		}
		switch n.kind {
		case "gt":
			return o < t
		case "gte":
			return o <= t
		case "lt":
			return o > t
		default:
			return o >= t
		}
	}
	return !null && tag == value
}

// jsText is a variable value as the SDK's preProcessTagValue turns it into text; null
// is JSON null (an empty value).
func jsText(v pcommon.Value) (string, bool) {
	switch v.Type() {
	case pcommon.ValueTypeEmpty:
		return "null", true
	case pcommon.ValueTypeStr:
		return v.Str(), false
	case pcommon.ValueTypeBool:
		return strconv.FormatBool(v.Bool()), false
	case pcommon.ValueTypeInt:
		return strconv.FormatInt(v.Int(), 10), false
	case pcommon.ValueTypeDouble:
		return jsnum.Format(v.Double()), false
	}
	return v.AsString(), false
}

// jsIntText is processValues' rendering: integers through parseInt, others as is.
func jsIntText(f float64) string {
	if f == math.Floor(f) && !math.IsInf(f, 0) {
		text := jsnum.Format(f)
		// parseInt of the number's text stops at the first non-digit ("1e+21" → 1).
		end := 0
		if strings.HasPrefix(text, "-") {
			end = 1
		}
		for end < len(text) && text[end] >= '0' && text[end] <= '9' {
			end++
		}
		return text[:end]
	}
	return jsnum.Format(f)
}
