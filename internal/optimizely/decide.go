package optimizely

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Resolution says how the rule of an impression was found.
type Resolution uint8

const (
	// ResolvedByRecord: the record named the rule (or carried the ids).
	ResolvedByRecord Resolution = iota + 1
	// ResolvedUnique: one rule of the flag holds the variation.
	ResolvedUnique
	// ResolvedByBucketing: the SDKs' decision, recomputed, gave the variation.
	ResolvedByBucketing
	// ResolvedByFallback: no recomputed outcome gave the variation (forced decisions,
	// sticky bucketing, attributes the app did not send): the first rule in decision
	// order that holds it.
	ResolvedByFallback
)

// String is the value of the resolution metric attribute.
func (r Resolution) String() string {
	switch r {
	case ResolvedByRecord:
		return "record"
	case ResolvedUnique:
		return "unique"
	case ResolvedByBucketing:
		return "bucketing"
	case ResolvedByFallback:
		return "fallback"
	}
	return ""
}

// bucketingIDAttr overrides the visitor id for bucketing, as in the SDKs.
const bucketingIDAttr = "$opt_bucketing_id"

// resolveRule finds the rule that gave variation varKey of the flag to a visitor, by
// recomputing the Go SDK's decision (pkg/decision: holdouts, feature experiments,
// rollout rules): the first rule whose outcome for this visitor is varKey. It returns
// nil when no rule of the flag holds varKey.
func (d *Datafile) resolveRule(fl *Flag, varKey, visitorID string, attrs visitorAttrs) (*Rule, Resolution) {
	candidates := fl.byVariation[varKey]
	switch len(candidates) {
	case 0:
		return nil, 0
	case 1:
		return candidates[0], ResolvedUnique
	}
	bucketingID := visitorID
	if id, ok := attrs.str(bucketingIDAttr); ok {
		bucketingID = id
	}
	for _, h := range fl.holdouts {
		if evalAudiences(h.audience, d.audiences, attrs) {
			if v := h.bucket(bucketingID); v != nil && v.Key == varKey {
				return h, ResolvedByBucketing
			}
		}
	}
	for _, e := range fl.experiments {
		if v := d.experimentOutcome(e, visitorID, bucketingID, attrs); v != nil && v.Key == varKey {
			return e, ResolvedByBucketing
		}
	}
	if n := len(fl.rollout); n > 0 {
		// Targeted rules in order; a visitor who qualifies for one but falls outside its
		// traffic goes straight to the last rule, everyone else.
		for _, r := range fl.rollout[:n-1] {
			if !evalAudiences(r.audience, d.audiences, attrs) {
				continue
			}
			v := r.bucket(bucketingID)
			if v == nil {
				break
			}
			if v.Key == varKey {
				return r, ResolvedByBucketing
			}
		}
		last := fl.rollout[n-1]
		if evalAudiences(last.audience, d.audiences, attrs) {
			if v := last.bucket(bucketingID); v != nil && v.Key == varKey {
				return last, ResolvedByBucketing
			}
		}
	}
	return candidates[0], ResolvedByFallback
}

// experimentOutcome is a feature experiment's variation for the visitor: the forced
// variation of the datafile's whitelist, else audiences and bucketing (through the
// mutually exclusive group first). nil when the visitor gets none from this rule.
func (d *Datafile) experimentOutcome(e *Rule, visitorID, bucketingID string, attrs visitorAttrs) *Variation {
	if key, ok := e.whitelist[visitorID]; ok {
		if v := e.Variations[key]; v != nil {
			return v
		}
	}
	if e.cmab || !evalAudiences(e.audience, d.audiences, attrs) {
		return nil
	}
	if e.group != nil && bucketToEntity(bucketingID, e.group.id, e.group.traffic) != e.ID {
		return nil
	}
	return e.bucket(bucketingID)
}

// bucket returns the variation the bucketing id falls into, or nil.
func (r *Rule) bucket(bucketingID string) *Variation {
	id := bucketToEntity(bucketingID, r.ID, r.traffic)
	if id == "" {
		return nil
	}
	return r.variationID[id]
}

// recordAttrs returns the visitor attributes of a record for audience evaluation.
func recordAttrs(v pcommon.Value, ok bool) visitorAttrs {
	if !ok || v.Type() != pcommon.ValueTypeMap {
		return visitorAttrs{}
	}
	return visitorAttrs{m: v.Map(), ok: true}
}
