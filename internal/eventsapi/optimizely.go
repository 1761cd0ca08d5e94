package eventsapi

import (
	"encoding/json"
	"net/http"
)

// impressionKey is the event key Optimizely uses for decisions.
const impressionKey = "campaign_activated"

// optimizely answers POST /v1/events like logx: 204 on success, 400 with
// {"error": ...} otherwise (including an oversized body).
func (s *Server) optimizely(r *http.Request, body []byte) (int, []byte, outcome) {
	if int64(len(body)) > s.opts.MaxBodyBytes {
		return http.StatusBadRequest, errorBody("payload too large"), outcome{}
	}
	if !isJSON(r) {
		return http.StatusBadRequest, errorBody("content-type must be application/json"), outcome{}
	}
	v, err := decode(body)
	if err != nil {
		return http.StatusBadRequest, errorBody(err.Error()), outcome{}
	}
	var out outcome
	if err := checkOptimizelyBatch(v, &out); err != nil {
		return http.StatusBadRequest, errorBody(err.Error()), outcome{}
	}
	return http.StatusNoContent, nil, out
}

func checkOptimizelyBatch(v any, out *outcome) error {
	batch, err := asObject(v, "body")
	if err != nil {
		return err
	}
	if _, err := reqString(batch, "", "account_id", true); err != nil {
		return err
	}
	for _, k := range []string{"project_id", "revision", "client_name", "client_version"} {
		if err := optString(batch, "", k); err != nil {
			return err
		}
	}
	for _, k := range []string{"anonymize_ip", "enrich_decisions"} {
		if err := optBool(batch, "", k); err != nil {
			return err
		}
	}
	visitors, err := reqArray(batch, "", "visitors", true)
	if err != nil {
		return err
	}
	for i, v := range visitors {
		if err := checkVisitor(v, index("visitors", i), out); err != nil {
			return err
		}
	}
	return nil
}

func checkVisitor(v any, path string, out *outcome) error {
	visitor, err := asObject(v, path)
	if err != nil {
		return err
	}
	if _, err := reqString(visitor, path, "visitor_id", true); err != nil {
		return err
	}
	attrs, err := optArray(visitor, path, "attributes")
	if err != nil {
		return err
	}
	for i, a := range attrs {
		if err := checkAttribute(a, index(join(path, "attributes"), i)); err != nil {
			return err
		}
	}
	snapshots, err := reqArray(visitor, path, "snapshots", true)
	if err != nil {
		return err
	}
	for i, sn := range snapshots {
		if err := checkSnapshot(sn, index(join(path, "snapshots"), i), out); err != nil {
			return err
		}
	}
	return nil
}

func checkAttribute(v any, path string) error {
	attr, err := asObject(v, path)
	if err != nil {
		return err
	}
	if _, err := reqString(attr, path, "entity_id", false); err != nil {
		return err
	}
	if _, err := reqString(attr, path, "key", false); err != nil {
		return err
	}
	typ, err := reqString(attr, path, "type", false)
	if err != nil {
		return err
	}
	if typ != "custom" {
		return fieldErr(join(path, "type"), `must be "custom", got %q`, typ)
	}
	val, ok := attr["value"]
	if !ok {
		return fieldErr(join(path, "value"), "required")
	}
	switch val.(type) {
	case string, bool, json.Number:
	default:
		return fieldErr(join(path, "value"), "must be a string, boolean or number, got %s", typeName(val))
	}
	return nil
}

func checkSnapshot(v any, path string, out *outcome) error {
	snap, err := asObject(v, path)
	if err != nil {
		return err
	}
	decisions, err := optArray(snap, path, "decisions")
	if err != nil {
		return err
	}
	// A snapshot whose decisions are all decision-less (see checkDecision) may carry an
	// impression event without entity_id (null), as the JavaScript SDK sends it.
	decisionless := len(decisions) > 0
	for i, d := range decisions {
		none, err := checkDecision(d, index(join(path, "decisions"), i))
		if err != nil {
			return err
		}
		decisionless = decisionless && none
	}
	events, err := reqArray(snap, path, "events", true)
	if err != nil {
		return err
	}
	for i, e := range events {
		if err := checkEvent(e, index(join(path, "events"), i), decisionless, out); err != nil {
			return err
		}
	}
	return nil
}

// checkDecision checks a decision. decisionless reports the JavaScript SDK's decision
// without a rule (sendFlagDecisions on and no rule matched): campaign_id null,
// experiment_id "" and variation_id null; campaign_id may be null in that shape only.
func checkDecision(v any, path string) (decisionless bool, err error) {
	dec, err := asObject(v, path)
	if err != nil {
		return false, err
	}
	cid, hasCID := dec["campaign_id"]
	if !hasCID || cid != nil {
		if _, err := reqString(dec, path, "campaign_id", false); err != nil {
			return false, err
		}
	}
	expID, err := reqString(dec, path, "experiment_id", false)
	if err != nil {
		return false, err
	}
	// variation_id is a string (the Go SDK sends holdouts' "$opt_dummy_variation_id"
	// as it is); null or "" stand for "no variation" (decisions without a rule; the
	// JavaScript SDK sends null for every non-numeric id).
	vp := join(path, "variation_id")
	vid, ok := dec["variation_id"]
	if !ok {
		return false, fieldErr(vp, "required")
	}
	switch vid := vid.(type) {
	case nil, string:
	default:
		return false, fieldErr(vp, "must be a string or null, got %s", typeName(vid))
	}
	if hasCID && cid == nil {
		if expID != "" || vid != nil {
			return false, fieldErr(join(path, "campaign_id"), `must be a string, got null (null only with experiment_id "" and variation_id null)`)
		}
		decisionless = true
	}
	if md, ok := dec["metadata"]; ok {
		mp := join(path, "metadata")
		meta, err := asObject(md, mp)
		if err != nil {
			return false, err
		}
		// Other fields pass as elsewhere, e.g. the cmab_uuid of the JavaScript SDK's
		// decisions of CMAB rules.
		for _, k := range []string{"flag_key", "rule_key", "rule_type", "variation_key"} {
			if err := optString(meta, mp, k); err != nil {
				return false, err
			}
		}
		if err := optBool(meta, mp, "enabled"); err != nil {
			return false, err
		}
	}
	return decisionless, nil
}

// checkEvent checks an event. In a decision-less snapshot (decisionless) the impression
// event's entity_id may be null, as the JavaScript SDK sends it there.
func checkEvent(v any, path string, decisionless bool, out *outcome) error {
	ev, err := asObject(v, path)
	if err != nil {
		return err
	}
	if eid, ok := ev["entity_id"]; !ok || eid != nil || !decisionless || ev["key"] != impressionKey {
		if _, err := reqString(ev, path, "entity_id", false); err != nil {
			return err
		}
	}
	key, err := reqString(ev, path, "key", true)
	if err != nil {
		return err
	}
	tp := join(path, "timestamp")
	const tsReason = "must be a 13-digit epoch-milliseconds integer"
	ts, ok := ev["timestamp"]
	if !ok {
		return fieldErr(tp, "required")
	}
	if n, ok := ts.(json.Number); !ok || len(n) != 13 || !allDigits(string(n)) {
		return fieldErr(tp, tsReason)
	}
	uuid, err := reqString(ev, path, "uuid", true)
	if err != nil {
		return err
	}
	if rev, ok := ev["revenue"]; ok {
		// Revenue is integer cents; logx rejects 1.5 and 1e2 alike.
		if n, ok := rev.(json.Number); !ok || !isInteger(n) {
			return fieldErr(join(path, "revenue"), "must be an integer (cents), got %s", literal(rev))
		}
	}
	if err := optNumber(ev, path, "value"); err != nil {
		return err
	}
	if tags, ok := ev["tags"]; ok {
		if _, err := asObject(tags, join(path, "tags")); err != nil {
			return err
		}
	}
	out.events++
	if key == impressionKey {
		out.impressions++
	} else {
		out.conversions++
	}
	out.ids = append(out.ids, uuid)
	return nil
}

// literal shows a number's text, or another value's type.
func literal(v any) string {
	if n, ok := v.(json.Number); ok {
		return string(n)
	}
	return typeName(v)
}
