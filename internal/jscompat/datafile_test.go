package jscompat

import (
	"encoding/json"
	"testing"
)

// dfRule is what the comparison needs to know of a rule of the datafile.
type dfRule struct {
	ID, Key, LayerID, Status string
	Kind                     string // experiment, rollout, holdout, local_holdout
	Type                     string // an experiment's type ("fr": feature rollout)
	Cmab                     bool
	ScopedFlags              bool              // a holdout with includedFlags or excludedFlags
	ExcludeTD                bool              // a holdout with excludeTargetedDeliveries
	Variations               map[string]string // key → id
}

// dfIndex indexes a datafile the way the JS SDK reads it.
type dfIndex struct {
	flags        []string
	events       []string
	rules        map[string]*dfRule   // by key (first wins)
	flagRules    map[string][]*dfRule // the flag's experiments, then its rollout's rules
	sendFlagDec  bool
	region       string
	botFiltering *bool
}

func indexDatafile(t *testing.T, data []byte) *dfIndex {
	t.Helper()
	type rawRule struct {
		ID         string          `json:"id"`
		Key        string          `json:"key"`
		LayerID    string          `json:"layerId"`
		Status     string          `json:"status"`
		Type       string          `json:"type"`
		Cmab       json.RawMessage `json:"cmab"`
		Included   []string        `json:"includedFlags"`
		Excluded   []string        `json:"excludedFlags"`
		ExcludeTD  bool            `json:"excludeTargetedDeliveries"`
		Variations []struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		} `json:"variations"`
	}
	var raw struct {
		Region            string    `json:"region"`
		SendFlagDecisions bool      `json:"sendFlagDecisions"`
		BotFiltering      *bool     `json:"botFiltering"`
		Experiments       []rawRule `json:"experiments"`
		Groups            []struct {
			Experiments []rawRule `json:"experiments"`
		} `json:"groups"`
		Rollouts []struct {
			ID          string    `json:"id"`
			Experiments []rawRule `json:"experiments"`
		} `json:"rollouts"`
		Holdouts      []rawRule `json:"holdouts"`
		LocalHoldouts []rawRule `json:"localHoldouts"`
		FeatureFlags  []struct {
			Key           string   `json:"key"`
			ExperimentIDs []string `json:"experimentIds"`
			RolloutID     string   `json:"rolloutId"`
		} `json:"featureFlags"`
		Events []struct {
			Key string `json:"key"`
		} `json:"events"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	x := &dfIndex{rules: map[string]*dfRule{}, flagRules: map[string][]*dfRule{},
		sendFlagDec: raw.SendFlagDecisions, region: raw.Region, botFiltering: raw.BotFiltering}
	byID := map[string]*dfRule{}
	add := func(r rawRule, kind string) *dfRule {
		d := &dfRule{ID: r.ID, Key: r.Key, LayerID: r.LayerID, Status: r.Status, Kind: kind, Type: r.Type,
			Cmab: len(r.Cmab) > 0 && string(r.Cmab) != "null", Variations: map[string]string{},
			ScopedFlags: len(r.Included)+len(r.Excluded) > 0, ExcludeTD: r.ExcludeTD}
		for _, v := range r.Variations {
			d.Variations[v.Key] = v.ID
		}
		if _, dup := x.rules[r.Key]; !dup {
			x.rules[r.Key] = d
		}
		if kind == "experiment" || kind == "rollout" {
			byID[r.ID] = d
		}
		return d
	}
	for _, e := range raw.Experiments {
		add(e, "experiment")
	}
	for _, g := range raw.Groups {
		for _, e := range g.Experiments {
			add(e, "experiment")
		}
	}
	rollouts := map[string][]*dfRule{}
	for _, ro := range raw.Rollouts {
		for _, e := range ro.Experiments {
			rollouts[ro.ID] = append(rollouts[ro.ID], add(e, "rollout"))
		}
	}
	for _, h := range raw.Holdouts {
		add(h, "holdout")
	}
	for _, h := range raw.LocalHoldouts {
		add(h, "local_holdout")
	}
	for _, f := range raw.FeatureFlags {
		x.flags = append(x.flags, f.Key)
		var rs []*dfRule
		for _, id := range f.ExperimentIDs {
			if r := byID[id]; r != nil {
				rs = append(rs, r)
			}
		}
		x.flagRules[f.Key] = append(rs, rollouts[f.RolloutID]...)
	}
	for _, e := range raw.Events {
		x.events = append(x.events, e.Key)
	}
	return x
}

// firstRuleWith is the first of the flag's experiments and rollout rules that holds the
// variation key: where a resolution that cannot recompute the decision (CMAB) lands.
func (x *dfIndex) firstRuleWith(flag, variationKey string) *dfRule {
	for _, r := range x.flagRules[flag] {
		if _, ok := r.Variations[variationKey]; ok {
			return r
		}
	}
	return nil
}

// label names a rule's kind for the mismatch categories, with what sets it apart in the
// JS SDK: e.g. "experiment (Paused)", "experiment (type fr)", "holdout (includedFlags/excludedFlags)".
func (x *dfIndex) label(key string) string {
	if key == "" {
		return "no rule"
	}
	r := x.rules[key]
	if r == nil {
		return "unknown rule"
	}
	l := r.Kind
	switch {
	case r.Cmab:
		l += " (cmab)"
	case r.Type == "fr":
		l += " (type fr)"
	case r.Kind == "experiment" && r.Status != "Running":
		l += " (" + r.Status + ")"
	case r.ExcludeTD:
		l += " (excludeTargetedDeliveries)"
	case r.ScopedFlags:
		l += " (includedFlags/excludedFlags)"
	}
	return l
}
