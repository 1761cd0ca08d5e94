// Package record reads the attributes of an OTLP log record that describe an
// experimentation event, in one pass over the attribute map.
package record // import "github.com/experimentationexporter/experimentationexporter/internal/record"

import (
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/experimentationexporter/experimentationexporter/internal/privacy"
)

// Kind says what a log record is.
type Kind uint8

const (
	// Other records are not experimentation events; they are skipped and counted.
	Other Kind = iota
	// Impression is a flag or experiment decision.
	Impression
	// Conversion is a tracked event such as a purchase.
	Conversion
)

// Verdict is what became of an experimentation record in a destination's builder.
type Verdict uint8

const (
	// Built means the record's event(s) were appended.
	Built Verdict = iota
	// Skipped means the record is not sent by design (not an event, flag decisions off).
	Skipped
	// Dropped means the record claims to be an event but cannot become a valid one.
	Dropped
)

// Slot names one meaning of the input contract (SPEC §3).
type Slot uint8

// The slots, in the order of the input contract.
const (
	VisitorID Slot = iota
	FlagKey
	VariationKey
	RuleKey
	RuleType
	Enabled
	ExperimentID
	CampaignID
	VariationID
	GoalID
	EventKey
	Revenue
	Value
	Tags
	VisitorAttributes
	UserAgent
	ClientAddress
	EventID
	EvaluationReason
	ErrorType
	CampaignKey
	GoalType
	numSlots
)

// Mapping names the attributes read for each meaning; for a meaning with several names
// the first one found (in list order) wins. The zero value is not usable: start from
// DefaultMapping.
type Mapping struct {
	ImpressionEvent   string   `mapstructure:"impression_event"`
	ConversionEvent   string   `mapstructure:"conversion_event"`
	VisitorID         []string `mapstructure:"visitor_id"`
	FlagKey           []string `mapstructure:"flag_key"`
	VariationKey      []string `mapstructure:"variation_key"`
	RuleKey           []string `mapstructure:"rule_key"`
	RuleType          []string `mapstructure:"rule_type"`
	Enabled           []string `mapstructure:"enabled"`
	ExperimentID      []string `mapstructure:"experiment_id"`
	CampaignID        []string `mapstructure:"campaign_id"`
	VariationID       []string `mapstructure:"variation_id"`
	GoalID            []string `mapstructure:"goal_id"`
	EventKey          []string `mapstructure:"event_key"`
	Revenue           []string `mapstructure:"revenue"`
	Value             []string `mapstructure:"value"`
	Tags              []string `mapstructure:"tags"`
	VisitorAttributes []string `mapstructure:"visitor_attributes"`
	UserAgent         []string `mapstructure:"user_agent"`
	ClientAddress     []string `mapstructure:"client_address"`
	EventID           []string `mapstructure:"event_id"`
	EvaluationReason  []string `mapstructure:"evaluation_reason"`
	ErrorType         []string `mapstructure:"error_type"`
	// CampaignKey names a VWO campaign by key (a list of keys: track([keys])); the flag
	// key stands in when it is absent.
	CampaignKey []string `mapstructure:"campaign_key"`
	// GoalType is a VWO conversion's goalTypeToTrack (REVENUE_TRACKING, CUSTOM_GOAL, ALL).
	GoalType []string `mapstructure:"goal_type"`
}

// DefaultMapping is the input contract of SPEC §3.
func DefaultMapping() Mapping {
	return Mapping{
		ImpressionEvent:   "feature_flag.evaluation",
		ConversionEvent:   "experiment.conversion",
		VisitorID:         []string{"feature_flag.context.id", "user.id", "enduser.id"},
		FlagKey:           []string{"feature_flag.key"},
		VariationKey:      []string{"feature_flag.result.variant", "feature_flag.variant"},
		RuleKey:           []string{"experiment.rule.key"},
		RuleType:          []string{"experiment.rule.type"},
		Enabled:           []string{"experiment.enabled"},
		ExperimentID:      []string{"experiment.id"},
		CampaignID:        []string{"experiment.campaign.id"},
		VariationID:       []string{"experiment.variation.id"},
		GoalID:            []string{"experiment.goal.id"},
		EventKey:          []string{"experiment.event.key"},
		Revenue:           []string{"experiment.revenue"},
		Value:             []string{"experiment.value"},
		Tags:              []string{"experiment.tags"},
		VisitorAttributes: []string{"experiment.visitor.attributes"},
		UserAgent:         []string{"user_agent.original"},
		ClientAddress:     []string{"client.address"},
		EventID:           []string{"event.id"},
		EvaluationReason:  []string{"feature_flag.result.reason", "feature_flag.evaluation.reason"},
		ErrorType:         []string{"error.type"},
		CampaignKey:       []string{"experiment.campaign.key"},
		GoalType:          []string{"experiment.goal.type"},
	}
}

func (m *Mapping) slots() [numSlots][]string {
	return [numSlots][]string{
		m.VisitorID, m.FlagKey, m.VariationKey, m.RuleKey, m.RuleType, m.Enabled,
		m.ExperimentID, m.CampaignID, m.VariationID, m.GoalID, m.EventKey, m.Revenue,
		m.Value, m.Tags, m.VisitorAttributes, m.UserAgent, m.ClientAddress, m.EventID,
		m.EvaluationReason, m.ErrorType, m.CampaignKey, m.GoalType,
	}
}

var slotKeys = [numSlots]string{
	"visitor_id", "flag_key", "variation_key", "rule_key", "rule_type", "enabled",
	"experiment_id", "campaign_id", "variation_id", "goal_id", "event_key", "revenue",
	"value", "tags", "visitor_attributes", "user_agent", "client_address", "event_id",
	"evaluation_reason", "error_type", "campaign_key", "goal_type",
}

// Validate rejects empty names and one attribute mapped to two meanings.
func (m *Mapping) Validate() error {
	var errs []error
	if m.ImpressionEvent == "" {
		errs = append(errs, errors.New("mapping::impression_event must not be empty"))
	}
	if m.ConversionEvent == "" {
		errs = append(errs, errors.New("mapping::conversion_event must not be empty"))
	}
	if m.ImpressionEvent != "" && m.ImpressionEvent == m.ConversionEvent {
		errs = append(errs, fmt.Errorf("mapping::impression_event and mapping::conversion_event must differ, both are %q", m.ImpressionEvent))
	}
	seen := map[string]string{}
	for i, names := range m.slots() {
		if len(names) == 0 {
			errs = append(errs, fmt.Errorf("mapping::%s must name at least one attribute", slotKeys[i]))
		}
		for _, n := range names {
			if n == "" {
				errs = append(errs, fmt.Errorf("mapping::%s must not contain an empty attribute name", slotKeys[i]))
				continue
			}
			if prev, ok := seen[n]; ok && prev != slotKeys[i] {
				errs = append(errs, fmt.Errorf("mapping::%s: attribute %q is already mapped by mapping::%s", slotKeys[i], n, prev))
			}
			seen[n] = slotKeys[i]
		}
	}
	return errors.Join(errs...)
}

type slotRank struct {
	slot Slot
	rank uint8
}

type namedSlot struct {
	name string
	slotRank
}

// maxNameLen bounds the length-indexed table; longer names go to a map.
const maxNameLen = 64

// Reader extracts Fields from log records. It is immutable and safe for concurrent use.
type Reader struct {
	// byLen holds the mapped names by length: comparing a few strings of the right
	// length is cheaper than hashing every attribute key of every record.
	byLen      [maxNameLen][]namedSlot
	long       map[string]slotRank
	impression string
	conversion string
}

// NewReader builds a Reader for a validated mapping.
func NewReader(m Mapping) *Reader {
	r := &Reader{long: map[string]slotRank{}, impression: m.ImpressionEvent, conversion: m.ConversionEvent}
	for s, names := range m.slots() {
		for rank, n := range names {
			if _, dup := r.lookup(n); dup {
				continue
			}
			sr := slotRank{slot: Slot(s), rank: uint8(min(rank, 255))}
			if len(n) < maxNameLen {
				r.byLen[len(n)] = append(r.byLen[len(n)], namedSlot{name: n, slotRank: sr})
			} else {
				r.long[n] = sr
			}
		}
	}
	return r
}

func (r *Reader) lookup(k string) (slotRank, bool) {
	if len(k) >= maxNameLen {
		sr, ok := r.long[k]
		return sr, ok
	}
	for _, e := range r.byLen[len(k)] {
		if e.name == k {
			return e.slotRank, true
		}
	}
	return slotRank{}, false
}

// eventNameAttr is where SDKs older than the LogRecord.EventName field put the name.
const eventNameAttr = "event.name"

// Fields are the attribute values of one record, by slot.
type Fields struct {
	Kind      Kind
	Timestamp pcommon.Timestamp
	vals      [numSlots]pcommon.Value
	rank      [numSlots]uint8
	has       uint32
	// Privacy counts what the privacy gate removed or changed while the record's
	// events were built.
	Privacy privacy.Counts
}

// KindOf is what lr is by its event name (LogRecord.EventName, else the event.name
// attribute), without reading its other attributes.
func (r *Reader) KindOf(lr plog.LogRecord) Kind {
	name := lr.EventName()
	if name == "" {
		if v, ok := lr.Attributes().Get(eventNameAttr); ok && v.Type() == pcommon.ValueTypeStr {
			name = v.Str()
		}
	}
	switch name {
	case r.impression:
		return Impression
	case r.conversion:
		return Conversion
	}
	return Other
}

// Read fills f from lr. Kind is Other when the record is not an experimentation event;
// the attributes are then not read.
func (r *Reader) Read(lr plog.LogRecord, f *Fields) {
	f.has = 0
	f.Privacy = privacy.Counts{}
	attrs := lr.Attributes()
	if f.Kind = r.KindOf(lr); f.Kind == Other {
		return
	}
	f.Timestamp = lr.Timestamp()
	if f.Timestamp == 0 {
		f.Timestamp = lr.ObservedTimestamp()
	}
	for k, v := range attrs.All() {
		sr, ok := r.lookup(k)
		if !ok {
			continue
		}
		// An empty value is no value: the next name in the list may carry one (an empty
		// feature_flag.context.id must not hide user.id).
		if v.Type() == pcommon.ValueTypeEmpty || (v.Type() == pcommon.ValueTypeStr && v.Str() == "") {
			continue
		}
		bit := uint32(1) << sr.slot
		if f.has&bit != 0 && f.rank[sr.slot] <= sr.rank {
			continue
		}
		f.has |= bit
		f.vals[sr.slot] = v
		f.rank[sr.slot] = sr.rank
	}
}

// Has reports whether the slot was found.
func (f *Fields) Has(s Slot) bool { return f.has&(1<<s) != 0 }

// Get returns the value of a slot.
func (f *Fields) Get(s Slot) (pcommon.Value, bool) {
	if !f.Has(s) {
		return pcommon.Value{}, false
	}
	return f.vals[s], true
}

// Str returns a slot's value when it is a non-empty string.
func (f *Fields) Str(s Slot) string {
	if v, ok := f.Get(s); ok && v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return ""
}

// EvaluationFailed reports whether a flag evaluation ended in an error: it carries an
// error type, or its reason is "error" (OpenFeature's ERROR). Such an evaluation served
// the default value and is not an impression.
func (f *Fields) EvaluationFailed() bool {
	if v, ok := f.Get(ErrorType); ok && v.AsString() != "" {
		return true
	}
	return strings.EqualFold(f.Str(EvaluationReason), "error")
}

// IsID accepts non-empty strings and integers as identifiers.
func IsID(v pcommon.Value) bool {
	return (v.Type() == pcommon.ValueTypeStr && v.Str() != "") || v.Type() == pcommon.ValueTypeInt
}
