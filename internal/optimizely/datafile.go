// Package optimizely turns experimentation records into Optimizely Event API payloads,
// resolving keys to ids through a project datafile.
package optimizely // import "github.com/experimentationexporter/experimentationexporter/internal/optimizely"

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/experimentationexporter/experimentationexporter/internal/jsonw"
)

// Rule types as the SDKs name them in decision metadata.
const (
	RuleTypeFeatureTest = "feature-test"
	RuleTypeRollout     = "rollout"
	RuleTypeHoldout     = "holdout"
	RuleTypeExperiment  = "experiment"
)

type rawVariation struct {
	ID             string `json:"id"`
	Key            string `json:"key"`
	FeatureEnabled *bool  `json:"featureEnabled"`
}

type rawTraffic struct {
	EntityID   string `json:"entityId"`
	EndOfRange int    `json:"endOfRange"`
}

type rawExperiment struct {
	ID                 string            `json:"id"`
	Key                string            `json:"key"`
	LayerID            string            `json:"layerId"`
	Status             string            `json:"status"`
	Variations         []rawVariation    `json:"variations"`
	TrafficAllocation  []rawTraffic      `json:"trafficAllocation"`
	AudienceIDs        []string          `json:"audienceIds"`
	AudienceConditions json.RawMessage   `json:"audienceConditions"`
	ForcedVariations   map[string]string `json:"forcedVariations"`
	Cmab               json.RawMessage   `json:"cmab"`
	// Type "fr" is a feature rollout experiment: the JavaScript SDK 6.x adds the flag's
	// everyone-else variation to it, for the traffic its own variations leave.
	Type string `json:"type"`
	// Local holdouts only: the ids of the rules the holdout is checked before.
	IncludedRules []string `json:"includedRules"`
	// Global holdouts only: a visitor in the holdout still gets the flag's delivery
	// rules (and the holdout's impression besides).
	ExcludeTargetedDeliveries bool `json:"excludeTargetedDeliveries"`
}

type rawAudience struct {
	ID         string          `json:"id"`
	Conditions json.RawMessage `json:"conditions"`
}

type rawDatafile struct {
	Version           string `json:"version"`
	AccountID         string `json:"accountId"`
	ProjectID         string `json:"projectId"`
	Revision          string `json:"revision"`
	Region            string `json:"region"`
	AnonymizeIP       *bool  `json:"anonymizeIP"`
	BotFiltering      *bool  `json:"botFiltering"`
	SendFlagDecisions *bool  `json:"sendFlagDecisions"`
	Attributes        []struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	} `json:"attributes"`
	Events []struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	} `json:"events"`
	Audiences      []rawAudience   `json:"audiences"`
	TypedAudiences []rawAudience   `json:"typedAudiences"`
	Experiments    []rawExperiment `json:"experiments"`
	Groups         []struct {
		ID                string          `json:"id"`
		Policy            string          `json:"policy"`
		TrafficAllocation []rawTraffic    `json:"trafficAllocation"`
		Experiments       []rawExperiment `json:"experiments"`
	} `json:"groups"`
	FeatureFlags []struct {
		ID            string   `json:"id"`
		Key           string   `json:"key"`
		RolloutID     string   `json:"rolloutId"`
		ExperimentIDs []string `json:"experimentIds"`
	} `json:"featureFlags"`
	Rollouts []struct {
		ID          string          `json:"id"`
		Experiments []rawExperiment `json:"experiments"`
	} `json:"rollouts"`
	// Holdouts are global: checked before every flag's rules. LocalHoldouts are checked
	// before each rule of their includedRules.
	Holdouts      []rawExperiment `json:"holdouts"`
	LocalHoldouts []rawExperiment `json:"localHoldouts"`
}

// Variation is one arm of a rule.
type Variation struct {
	ID  string
	Key string
	// Enabled is the variation's featureEnabled.
	Enabled bool

	// decisionHead and eventHead are the parts of an impression that depend only on
	// the rule and the variation, encoded once when the datafile is indexed.
	decisionHead, eventHead []byte
}

// Rule is an experiment, a rollout rule or a holdout.
type Rule struct {
	ID         string
	Key        string
	CampaignID string
	Type       string
	Variations map[string]*Variation

	// What bucketing needs (decide.go).
	traffic     []trafficRange
	variationID map[string]*Variation
	audience    *condNode // nil: everyone
	group       *group    // a mutually exclusive group the rule is bucketed through first
	whitelist   map[string]string
	cmab        bool // decided by a remote service: cannot be recomputed
	// running: the status is Running. The JavaScript SDK 6.x skips a feature test (and
	// any holdout) that is not; go-sdk v2.3.1 ignores the status of experiments.
	running bool
	// localHoldouts are checked before this rule, in datafile order (running ones).
	localHoldouts []*Rule
	// excludeTargetedDeliveries: see rawExperiment.
	excludeTargetedDeliveries bool
	// featureRollout: a "fr" experiment (see rawExperiment.Type); everyoneElse once
	// the flag's everyone-else variation was added.
	featureRollout, everyoneElse bool
	// order lists the variations as the datafile does.
	order []*Variation
}

// everyoneElseOf is the first variation of a rollout's last rule, or nil.
func everyoneElseOf(rollout []*Rule) *Variation {
	if len(rollout) == 0 {
		return nil
	}
	last := rollout[len(rollout)-1]
	if len(last.order) == 0 {
		return nil
	}
	return last.order[0]
}

// addEveryoneElse adds the flag's everyone-else variation to a feature rollout
// experiment, for the bucket values its own traffic leaves (project_config.js
// parseFeatureFlagConfig). A variation of the same key is replaced in the key lookup, as
// there.
func (r *Rule) addEveryoneElse(v *Variation) {
	if r.everyoneElse {
		return
	}
	r.everyoneElse = true
	vr := &Variation{ID: v.ID, Key: v.Key, Enabled: v.Enabled}
	vr.decisionHead, vr.eventHead = encodeDecisionParts(r.CampaignID, r.ID, vr.ID, r.Key, vr.Key)
	r.Variations[vr.Key] = vr
	r.variationID[vr.ID] = vr
	r.order = append(r.order, vr)
	r.traffic = append(r.traffic, trafficRange{entityID: vr.ID, endOfRange: 10000})
}

// group is a mutually exclusive group (policy random).
type group struct {
	id      string
	traffic []trafficRange
}

// Flag ties a flag key to its rules.
type Flag struct {
	Key   string
	Rules map[string]*Rule

	// The rules in the SDKs' decision order: global holdouts (running), the flag's
	// experiments, then the rollout's rules (targeted rules, the last one is everyone
	// else); each rule's local holdouts come before it.
	holdouts, experiments, rollout []*Rule
	// byVariation lists, for each variation key, the rules holding it in decision order;
	// experiments that are not running come last (a fallback only: no SDK decides them).
	byVariation map[string][]*Rule
}

// Datafile is the index of a project datafile that event building needs.
type Datafile struct {
	Version           string
	AccountID         string
	ProjectID         string
	Revision          string
	Region            string
	AnonymizeIP       bool
	BotFiltering      *bool
	SendFlagDecisions bool

	Attributes map[string]string // key → id
	Events     map[string]string // key → id
	Flags      map[string]*Flag
	// audiences holds each audience's condition tree by id (typed audiences win).
	audiences map[string]*condNode
	// Rules holds every rule by key: experiments (also those of groups, used by legacy
	// activate() without flags), rollout rules and holdouts.
	Rules map[string]*Rule
}

// ErrUnsupportedVersion is returned for datafile versions this exporter cannot read.
var ErrUnsupportedVersion = errors.New("unsupported datafile version")

// Parse reads and indexes a datafile. Versions 2 and 3 (legacy experiments) and 4 (flags)
// are accepted.
func Parse(data []byte) (*Datafile, error) {
	var raw rawDatafile
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("datafile is not valid JSON: %w", err)
	}
	switch raw.Version {
	case "2", "3", "4":
	default:
		return nil, fmt.Errorf("%w %q (want 2, 3 or 4)", ErrUnsupportedVersion, raw.Version)
	}
	if raw.AccountID == "" || raw.ProjectID == "" || raw.Revision == "" {
		return nil, errors.New("datafile lacks accountId, projectId or revision")
	}
	df := &Datafile{
		Version:           raw.Version,
		AccountID:         raw.AccountID,
		ProjectID:         raw.ProjectID,
		Revision:          raw.Revision,
		Region:            raw.Region,
		AnonymizeIP:       raw.AnonymizeIP != nil && *raw.AnonymizeIP,
		BotFiltering:      raw.BotFiltering,
		SendFlagDecisions: raw.SendFlagDecisions != nil && *raw.SendFlagDecisions,
		Attributes:        make(map[string]string, len(raw.Attributes)),
		Events:            make(map[string]string, len(raw.Events)),
		Flags:             make(map[string]*Flag, len(raw.FeatureFlags)),
		Rules:             map[string]*Rule{},
	}
	if df.Region == "" {
		df.Region = "US"
	}
	for _, a := range raw.Attributes {
		df.Attributes[a.Key] = a.ID
	}
	for _, e := range raw.Events {
		df.Events[e.Key] = e.ID
	}
	df.audiences = make(map[string]*condNode, len(raw.TypedAudiences)+len(raw.Audiences))
	for _, a := range append(raw.TypedAudiences, raw.Audiences...) {
		if _, dup := df.audiences[a.ID]; !dup {
			df.audiences[a.ID] = parseConditionTree(a.Conditions)
		}
	}
	byID := map[string]*Rule{}
	add := func(e rawExperiment, typ string) *Rule {
		r := newRule(e, typ)
		byID[r.ID] = r
		if _, dup := df.Rules[r.Key]; !dup {
			df.Rules[r.Key] = r
		}
		return r
	}
	for _, e := range raw.Experiments {
		add(e, RuleTypeFeatureTest)
	}
	for _, g := range raw.Groups {
		var grp *group
		if g.Policy == "random" {
			grp = &group{id: g.ID, traffic: trafficOf(g.TrafficAllocation)}
		}
		for _, e := range g.Experiments {
			add(e, RuleTypeFeatureTest).group = grp
		}
	}
	rollouts := map[string][]*Rule{}
	for _, ro := range raw.Rollouts {
		for _, e := range ro.Experiments {
			rollouts[ro.ID] = append(rollouts[ro.ID], add(e, RuleTypeRollout))
		}
	}
	// As the JavaScript SDK 6.x reads them: every entry of holdouts is global (its
	// includedFlags/excludedFlags are ignored); a local holdout without includedRules is
	// invalid and never decides.
	var holdouts []*Rule
	for _, h := range raw.Holdouts {
		holdouts = append(holdouts, add(h, RuleTypeHoldout))
	}
	for _, h := range raw.LocalHoldouts {
		if len(h.IncludedRules) == 0 {
			continue
		}
		lh := add(h, RuleTypeHoldout)
		for _, id := range h.IncludedRules {
			if r := byID[id]; r != nil && r != lh && lh.running {
				r.localHoldouts = append(r.localHoldouts, lh)
			}
		}
	}
	flagged := map[string]bool{}
	for _, f := range raw.FeatureFlags {
		fl := &Flag{Key: f.Key, Rules: map[string]*Rule{}, byVariation: map[string][]*Rule{}}
		for _, r := range holdouts {
			if _, dup := fl.Rules[r.Key]; !dup {
				fl.Rules[r.Key] = r
			}
			if r.running {
				fl.holdouts = append(fl.holdouts, r)
			}
		}
		everyoneElse := everyoneElseOf(rollouts[f.RolloutID])
		for _, id := range f.ExperimentIDs {
			if r := byID[id]; r != nil {
				if r.featureRollout && everyoneElse != nil {
					r.addEveryoneElse(everyoneElse)
				}
				fl.Rules[r.Key] = r
				fl.experiments = append(fl.experiments, r)
				flagged[id] = true
			}
		}
		for _, r := range rollouts[f.RolloutID] {
			fl.Rules[r.Key] = r
			fl.rollout = append(fl.rollout, r)
		}
		held := map[*Rule]bool{}
		holds := func(r *Rule) {
			if held[r] {
				return
			}
			held[r] = true
			for _, v := range r.Variations {
				fl.byVariation[v.Key] = append(fl.byVariation[v.Key], r)
			}
		}
		for _, r := range fl.holdouts {
			holds(r)
		}
		var stopped []*Rule
		for _, rules := range [][]*Rule{fl.experiments, fl.rollout} {
			for _, r := range rules {
				for _, lh := range r.localHoldouts {
					if _, dup := fl.Rules[lh.Key]; !dup {
						fl.Rules[lh.Key] = lh
					}
					holds(lh)
				}
				if r.Type == RuleTypeFeatureTest && !r.running {
					stopped = append(stopped, r)
					continue
				}
				holds(r)
			}
		}
		for _, r := range stopped {
			holds(r)
		}
		df.Flags[f.Key] = fl
	}
	// Experiments outside any flag are legacy activate() experiments.
	for _, r := range byID {
		if r.Type == RuleTypeFeatureTest && !flagged[r.ID] {
			r.Type = RuleTypeExperiment
		}
	}
	return df, nil
}

func newRule(e rawExperiment, typ string) *Rule {
	r := &Rule{
		ID: e.ID, Key: e.Key, CampaignID: e.LayerID, Type: typ,
		Variations:     make(map[string]*Variation, len(e.Variations)),
		variationID:    make(map[string]*Variation, len(e.Variations)),
		traffic:        trafficOf(e.TrafficAllocation),
		audience:       parseAudienceTree(e.AudienceConditions, e.AudienceIDs),
		whitelist:      e.ForcedVariations,
		cmab:           len(e.Cmab) > 0 && string(e.Cmab) != "null",
		running:        e.Status == "Running",
		featureRollout: e.Type == "fr",

		excludeTargetedDeliveries: e.ExcludeTargetedDeliveries,
	}
	for _, v := range e.Variations {
		vr := &Variation{ID: v.ID, Key: v.Key, Enabled: v.FeatureEnabled != nil && *v.FeatureEnabled}
		vr.decisionHead, vr.eventHead = encodeDecisionParts(r.CampaignID, r.ID, vr.ID, r.Key, vr.Key)
		r.Variations[v.Key] = vr
		r.variationID[v.ID] = vr
		r.order = append(r.order, vr)
	}
	return r
}

func trafficOf(raw []rawTraffic) []trafficRange {
	out := make([]trafficRange, len(raw))
	for i, t := range raw {
		out[i] = trafficRange{entityID: t.EntityID, endOfRange: t.EndOfRange}
	}
	return out
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// EventsURL is the Event API endpoint of the datafile's region.
func (d *Datafile) EventsURL() string {
	if strings.EqualFold(d.Region, "EU") { // the SDKs upper-case it first
		return "https://eu.logx.optimizely.com/v1/events"
	}
	return "https://logx.optimizely.com/v1/events"
}

// BatchPrefix is the EventBatch JSON up to the first visitor; the batch ends with "]}".
func (d *Datafile) BatchPrefix(clientName, clientVersion string) []byte {
	b := []byte(`{"account_id":`)
	b = jsonw.String(b, d.AccountID)
	b = append(b, `,"project_id":`...)
	b = jsonw.String(b, d.ProjectID)
	b = append(b, `,"revision":`...)
	b = jsonw.String(b, d.Revision)
	b = append(b, `,"client_name":`...)
	b = jsonw.String(b, clientName)
	b = append(b, `,"client_version":`...)
	b = jsonw.String(b, clientVersion)
	b = append(b, `,"anonymize_ip":`...)
	b = strconv.AppendBool(b, d.AnonymizeIP)
	b = append(b, `,"enrich_decisions":true,"region":`...)
	b = jsonw.String(b, d.Region)
	return append(b, `,"visitors":[`...)
}
