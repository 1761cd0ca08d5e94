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
	// ResolvedAmbiguous: the record carries no visitor attributes and several rules of
	// the flag could have given the variation, depending on audiences: a guess.
	ResolvedAmbiguous
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
	case ResolvedAmbiguous:
		return "ambiguous"
	}
	return ""
}

// bucketingIDAttr overrides the visitor id for bucketing, as in the SDKs.
const bucketingIDAttr = "$opt_bucketing_id"

// resolveRule finds the rule that gave variation varKey of the flag to a visitor, by
// recomputing the decision as the JavaScript SDK 6.x makes it
// (core/decision_service: global holdouts, feature experiments that are running, rollout
// rules, each rule's local holdouts before it): the first rule whose outcome for this
// visitor is varKey. It returns nil when no rule of the flag holds varKey.
func (d *Datafile) resolveRule(fl *Flag, varKey, visitorID string, attrs visitorAttrs) (*Rule, Resolution) {
	r, how, _ := d.resolveRuleAlso(fl, varKey, visitorID, attrs)
	return r, how
}

// lenientHoldout is a global holdout with excludeTargetedDeliveries that holds the
// visitor: the JavaScript SDK sends its impression besides the delivery rule's.
type lenientHoldout struct {
	rule      *Rule
	variation *Variation
}

// resolveRuleAlso is resolveRule that also returns the lenient holdout the visitor is in.
func (d *Datafile) resolveRuleAlso(fl *Flag, varKey, visitorID string, attrs visitorAttrs) (*Rule, Resolution, lenientHoldout) {
	bucketingID := bucketingIDOf(visitorID, attrs)
	r, how := d.resolveRuleOnly(fl, varKey, visitorID, bucketingID, attrs)
	return r, how, d.lenientHoldoutOf(fl, bucketingID, attrs)
}

func bucketingIDOf(visitorID string, attrs visitorAttrs) string {
	if id, ok := attrs.str(bucketingIDAttr); ok {
		return id
	}
	return visitorID
}

// lenientHoldoutOf is the excludeTargetedDeliveries holdout the visitor is in: the first
// global holdout that holds the visitor, if it is one.
func (d *Datafile) lenientHoldoutOf(fl *Flag, bucketingID string, attrs visitorAttrs) lenientHoldout {
	for _, h := range fl.holdouts {
		if v := d.holdoutOutcome(h, bucketingID, attrs); v != nil {
			if h.excludeTargetedDeliveries {
				return lenientHoldout{h, v}
			}
			break
		}
	}
	return lenientHoldout{}
}

func (d *Datafile) resolveRuleOnly(fl *Flag, varKey, visitorID, bucketingID string, attrs visitorAttrs) (*Rule, Resolution) {
	candidates := fl.byVariation[varKey]
	switch len(candidates) {
	case 0:
		return nil, 0
	case 1:
		return candidates[0], ResolvedUnique
	}
	how := ResolvedByBucketing
	if !attrs.ok && d.audiencesDecide(candidates, varKey, visitorID, bucketingID) {
		how = ResolvedAmbiguous
	}
	outcome := func(r *Rule) bool {
		v := d.holdoutOutcome(r, bucketingID, attrs)
		return v != nil && v.Key == varKey
	}
	skipExperiments := false
	for _, h := range fl.holdouts {
		if v := d.holdoutOutcome(h, bucketingID, attrs); v != nil {
			if h.excludeTargetedDeliveries {
				// The visitor gets the delivery rules, not the experiments (and the
				// holdout's impression besides: resolveRuleAlso).
				skipExperiments = true
				break
			}
			if v.Key == varKey {
				return h, how
			}
		}
	}
	if !skipExperiments {
		for _, e := range fl.experiments {
			for _, lh := range e.localHoldouts {
				if outcome(lh) {
					return lh, how
				}
			}
			if v := d.experimentOutcome(e, visitorID, bucketingID, attrs); v != nil && v.Key == varKey {
				return e, how
			}
		}
	}
	if n := len(fl.rollout); n > 0 {
		// Targeted rules in order; a visitor who qualifies for one but falls outside its
		// traffic goes straight to the last rule, everyone else.
		for _, r := range fl.rollout[:n-1] {
			for _, lh := range r.localHoldouts {
				if outcome(lh) {
					return lh, how
				}
			}
			if !evalAudiences(r.audience, d.audiences, attrs) {
				continue
			}
			v := r.bucket(bucketingID)
			if v == nil {
				break
			}
			if v.Key == varKey {
				return r, how
			}
		}
		last := fl.rollout[n-1]
		for _, lh := range last.localHoldouts {
			if outcome(lh) {
				return lh, how
			}
		}
		if evalAudiences(last.audience, d.audiences, attrs) {
			if v := last.bucket(bucketingID); v != nil && v.Key == varKey {
				return last, how
			}
		}
	}
	// No recomputed outcome gives it: the first rule that could by traffic alone (its
	// audience or a stickiness the collector cannot see decided), else the first rule.
	// Ambiguous when two or more could (audiencesDecide).
	if how != ResolvedAmbiguous {
		how = ResolvedByFallback
	}
	if r := firstPossible(candidates, varKey, visitorID, bucketingID); r != nil {
		return r, how
	}
	return candidates[0], how
}

// firstPossible is the first candidate that gives the visitor varKey by its whitelist or
// by traffic, audiences aside.
func firstPossible(candidates []*Rule, varKey, visitorID, bucketingID string) *Rule {
	for _, r := range candidates {
		if v, _ := r.byTraffic(visitorID, bucketingID); v != nil && v.Key == varKey {
			return r
		}
	}
	return nil
}

// byTraffic is the variation r gives the visitor by its whitelist (whitelisted), else
// by traffic: what r could give with its audiences aside.
func (r *Rule) byTraffic(visitorID, bucketingID string) (v *Variation, whitelisted bool) {
	if key, ok := r.whitelist[visitorID]; ok {
		return r.Variations[key], true
	}
	return r.bucket(bucketingID), false
}

// holdoutOutcome is a running holdout's variation for the visitor, or nil.
func (d *Datafile) holdoutOutcome(h *Rule, bucketingID string, attrs visitorAttrs) *Variation {
	if !h.running || !evalAudiences(h.audience, d.audiences, attrs) {
		return nil
	}
	return h.bucket(bucketingID)
}

// audiencesDecide reports, for a record without visitor attributes, whether the rule
// depended on audiences it cannot evaluate: two or more candidate rules would give this
// visitor varKey by traffic alone, and the first of them (in decision order) decides
// through an audience rather than a whitelist.
func (d *Datafile) audiencesDecide(candidates []*Rule, varKey, visitorID, bucketingID string) bool {
	possible, firstTargeted := 0, false
	for _, r := range candidates {
		v, whitelisted := r.byTraffic(visitorID, bucketingID)
		if v == nil || v.Key != varKey {
			continue
		}
		if possible == 0 {
			firstTargeted = r.audience != nil && !whitelisted
		}
		possible++
	}
	return possible > 1 && firstTargeted
}

// experimentOutcome is a feature experiment's variation for the visitor: the forced
// variation of the datafile's whitelist, else audiences and bucketing (through the
// mutually exclusive group first). nil when the visitor gets none from this rule.
func (d *Datafile) experimentOutcome(e *Rule, visitorID, bucketingID string, attrs visitorAttrs) *Variation {
	if !e.running {
		return nil // the JavaScript SDK checks the status first
	}
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
