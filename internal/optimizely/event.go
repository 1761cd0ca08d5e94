package optimizely

import (
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/experimentationexporter/experimentationexporter/internal/dedup"
	"github.com/experimentationexporter/experimentationexporter/internal/jsnum"
	"github.com/experimentationexporter/experimentationexporter/internal/jsonw"
	"github.com/experimentationexporter/experimentationexporter/internal/privacy"
	"github.com/experimentationexporter/experimentationexporter/internal/reason"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
	"github.com/experimentationexporter/experimentationexporter/internal/uuid5"
)

// SendFlagDecisions decides whether rollout decisions become impressions.
type SendFlagDecisions uint8

const (
	// FlagDecisionsAuto follows the datafile's sendFlagDecisions.
	FlagDecisionsAuto SendFlagDecisions = iota
	FlagDecisionsOn
	FlagDecisionsOff
)

// Builder appends Optimizely visitor objects built from records. It is immutable and
// safe for concurrent use; one exists per datafile revision.
type Builder struct {
	df          *Datafile
	sendRollout bool
	botFilter   []byte        // the pre-encoded $opt_bot_filtering attribute, or nil
	gate        *privacy.Gate // nil: visitor data leaves as the app sent it
	exposures   *dedup.Set    // nil: dedup off
}

// Option configures a Builder.
type Option func(*Builder)

// WithPrivacy passes visitor ids and attributes through the privacy gate.
func WithPrivacy(g *privacy.Gate) Option { return func(b *Builder) { b.gate = g } }

// WithExposures leaves out impressions that repeat one sent within the dedup window.
func WithExposures(s *dedup.Set) Option { return func(b *Builder) { b.exposures = s } }

// exposure checks an impression against the remembered ones: the key is the visitor id
// as received and the decision (rule id, variation id, enabled).
func (b *Builder) exposure(visitor pcommon.Value, d *decision, at pcommon.Timestamp) bool {
	var h dedup.Hasher
	b.exposures.Exposure(&h, visitor.AsString())
	h.String(d.experimentID)
	h.String(d.variationID)
	if d.enabled {
		h.String("1")
	} else {
		h.String("0")
	}
	return b.exposures.Repeat(h.Sum(), int64(at))
}

// UnexposedConversion reports, when dedup is on, whether a conversion's visitor has no
// remembered impression (its conversion may count for no variation).
func (b *Builder) UnexposedConversion(f *record.Fields) bool {
	if b.exposures == nil || f.Kind != record.Conversion {
		return false
	}
	visitor, ok := f.Get(record.VisitorID)
	return ok && !b.exposures.SeenVisitor(visitor.AsString())
}

// NewBuilder prepares event building against df.
func NewBuilder(df *Datafile, mode SendFlagDecisions, opts ...Option) *Builder {
	b := &Builder{df: df}
	for _, o := range opts {
		o(b)
	}
	switch mode {
	case FlagDecisionsOn:
		b.sendRollout = true
	case FlagDecisionsOff:
		b.sendRollout = false
	default:
		b.sendRollout = df.SendFlagDecisions
	}
	if df.BotFiltering != nil {
		b.botFilter = appendAttr(nil, "$opt_bot_filtering", "$opt_bot_filtering")
		b.botFilter = strconv.AppendBool(b.botFilter, *df.BotFiltering)
		b.botFilter = append(b.botFilter, '}')
	}
	return b
}

// Datafile returns the datafile the builder resolves keys with.
func (b *Builder) Datafile() *Datafile { return b.df }

// Append appends one visitor object for f to dst. On record.Skipped or record.Dropped dst is returned
// unchanged and reason says why.
func (b *Builder) Append(dst []byte, f *record.Fields) ([]byte, record.Verdict, string) {
	dst, verdict, reason, _ := b.AppendResolved(dst, f)
	return dst, verdict, reason
}

// AppendResolved is Append that also says how a built impression's rule was found
// (0 for conversions). A record that becomes two visitor objects (an impression and a
// holdout's) gets both, separated by a comma, as they stand in an EventBatch.
func (b *Builder) AppendResolved(dst []byte, f *record.Fields) ([]byte, record.Verdict, string, Resolution) {
	switch f.Kind {
	case record.Impression:
		return b.appendImpression(dst, f)
	case record.Conversion:
		dst, verdict, reason := b.appendConversion(dst, f)
		return dst, verdict, reason, 0
	}
	return dst, record.Skipped, reason.NotAnEvent, 0
}

type decision struct {
	also                                  lenientHoldout // a second impression to send
	variation                             *Variation     // set when resolved through the datafile
	campaignID, experimentID, variationID string
	flagKey, ruleKey, ruleType, varKey    string
	enabled                               bool
	resolution                            Resolution
}

func (b *Builder) appendImpression(dst []byte, f *record.Fields) ([]byte, record.Verdict, string, Resolution) {
	var scratch [2]int
	dst, ends, verdict, why, how := b.appendImpressions(dst, scratch[:0], f)
	if len(ends) == 2 { // visitor objects are separated by a comma in the visitors array
		second := append([]byte(nil), dst[ends[0]:]...)
		dst = append(append(dst[:ends[0]], ','), second...)
	}
	return dst, verdict, why, how
}

// appendImpressions appends the record's impression and, when the visitor is in a
// holdout with excludeTargetedDeliveries, the holdout's impression after it, as the
// JavaScript SDK 6.x sends both (also when flag decisions keep the first from being
// sent). ends gets the end of each visitor object.
func (b *Builder) appendImpressions(dst []byte, ends []int, f *record.Fields) ([]byte, []int, record.Verdict, string, Resolution) {
	if f.EvaluationFailed() {
		return dst, ends, record.Skipped, reason.EvaluationError, 0
	}
	visitor, ok := f.Get(record.VisitorID)
	if !ok || !record.IsID(visitor) {
		return dst, ends, record.Dropped, reason.MissingVisitorID, 0
	}
	if f.Timestamp == 0 {
		return dst, ends, record.Dropped, reason.MissingTimestamp, 0
	}
	d, verdict, why := b.resolveDecision(f, visitor)
	if verdict != record.Built && d.also.rule == nil {
		return dst, ends, verdict, why, 0
	}
	if b.exposures != nil {
		// The key is the decision sent first: the record's, else the holdout's alone.
		first := &d
		if verdict != record.Built {
			first = &decision{experimentID: d.also.rule.ID, variationID: d.also.variation.ID, enabled: d.also.variation.Enabled}
		}
		if b.exposure(visitor, first, f.Timestamp) {
			return dst, ends, record.Skipped, reasonDeduplicated, d.resolution
		}
	}
	visitor = b.gate.VisitorID(visitor) // after resolution: bucketing needs the real id
	if verdict == record.Built {
		dst = b.appendImpressionVisitor(dst, f, visitor, &d, false)
		ends = append(ends, len(dst))
	}
	if h := d.also; h.rule != nil {
		hd := decision{variation: h.variation, flagKey: d.flagKey, ruleKey: h.rule.Key, ruleType: RuleTypeHoldout,
			varKey: h.variation.Key, enabled: h.variation.Enabled}
		dst = b.appendImpressionVisitor(dst, f, visitor, &hd, verdict == record.Built)
		ends = append(ends, len(dst))
	}
	return dst, ends, record.Built, "", d.resolution
}

// appendImpressionVisitor appends one visitor object with decision d. A second
// impression of the record gets a uuid of its own: an event.id is the first's.
func (b *Builder) appendImpressionVisitor(dst []byte, f *record.Fields, visitor pcommon.Value, d *decision, second bool) []byte {
	decisionHead, eventHead := d.heads()
	dst = b.appendVisitorStart(dst, visitor, f)
	dst = append(dst, decisionHead...)
	dst = jsonw.String(dst, d.flagKey)
	dst = append(dst, `,"rule_type":`...)
	dst = jsonw.String(dst, d.ruleType)
	dst = append(dst, `,"enabled":`...)
	dst = strconv.AppendBool(dst, d.enabled)
	dst = append(dst, eventHead...)
	dst = strconv.AppendInt(dst, int64(f.Timestamp)/1e6, 10)
	dst = append(dst, `,"uuid":`...)
	if second {
		dst = appendDerivedUUID(dst, f, visitor, d.flagKey, d.ruleKey, d.varKey)
	} else {
		dst = appendUUID(dst, f, visitor, d.flagKey, d.ruleKey, d.varKey)
	}
	return append(dst, "}]}]}"...)
}

// AppendAll is AppendResolved for records that may become more than one visitor
// object (an impression and a holdout's): ends gets the end of each.
func (b *Builder) AppendAll(dst []byte, ends []int, f *record.Fields) ([]byte, []int, record.Verdict, string, Resolution) {
	if f.Kind == record.Impression {
		return b.appendImpressions(dst, ends, f)
	}
	dst, verdict, why, how := b.AppendResolved(dst, f)
	if verdict == record.Built {
		ends = append(ends, len(dst))
	}
	return dst, ends, verdict, why, how
}

// heads returns the pre-encoded parts of the decision, encoding them for decisions
// whose ids came from the record instead of the datafile.
func (d *decision) heads() (decisionHead, eventHead []byte) {
	if d.variation != nil {
		return d.variation.decisionHead, d.variation.eventHead
	}
	return encodeDecisionParts(d.campaignID, d.experimentID, d.variationID, d.ruleKey, d.varKey)
}

func (b *Builder) resolveDecision(f *record.Fields, visitor pcommon.Value) (decision, record.Verdict, string) {
	d := decision{resolution: ResolvedByRecord}
	d.flagKey = f.Str(record.FlagKey)
	d.ruleKey = f.Str(record.RuleKey)
	d.varKey = f.Str(record.VariationKey)
	d.ruleType = f.Str(record.RuleType)
	enabled, hasEnabled := f.Get(record.Enabled)
	hasEnabled = hasEnabled && enabled.Type() == pcommon.ValueTypeBool

	// Ids on the record skip the datafile lookup.
	if expID := idString(f, record.ExperimentID); expID != "" {
		if varID := idString(f, record.VariationID); varID != "" {
			d.experimentID, d.variationID = expID, varID
			d.campaignID = idString(f, record.CampaignID)
			if d.campaignID == "" {
				d.campaignID = expID
			}
			if d.ruleType == "" {
				d.ruleType = RuleTypeFeatureTest
			}
			d.enabled = hasEnabled && enabled.Bool()
			if d.ruleType == RuleTypeRollout && !b.sendRollout {
				return d, record.Skipped, reason.FlagDecisionNotSent
			}
			return d, record.Built, ""
		}
	}
	// An evaluation that served no variant (a default value, a disabled flag) is not
	// an impression.
	if d.varKey == "" {
		// No rule gave a variation; a holdout that lets its visitors through to the
		// delivery rules still sends its impression (the JavaScript SDK 6.x).
		if flag := b.df.Flags[d.flagKey]; flag != nil {
			attrs, ok := f.Get(record.VisitorAttributes)
			va := recordAttrs(attrs, ok)
			d.also = b.df.lenientHoldoutOf(flag, bucketingIDOf(visitor.AsString(), va), va)
		}
		return d, record.Skipped, reason.NoVariant
	}

	var rule *Rule
	switch {
	case d.flagKey == "":
		// Legacy activate() decisions carry only the experiment key.
		if r := b.df.Rules[d.ruleKey]; d.ruleKey != "" && r != nil && r.Type == RuleTypeExperiment {
			rule = r
		} else {
			return d, record.Dropped, reason.MissingFlagKey
		}
	default:
		flag := b.df.Flags[d.flagKey]
		if flag == nil {
			return d, record.Dropped, reason.UnknownFlag
		}
		if d.ruleKey != "" {
			if rule = flag.Rules[d.ruleKey]; rule == nil {
				return d, record.Dropped, reason.UnknownRule
			}
			break
		}
		// No rule on the record (OpenFeature hooks never send one): find the rule the
		// SDK decided from the datafile.
		attrs, ok := f.Get(record.VisitorAttributes)
		rule, d.resolution, d.also = b.df.resolveRuleAlso(flag, d.varKey, visitor.AsString(), recordAttrs(attrs, ok))
		if d.also.rule == rule {
			d.also = lenientHoldout{}
		}
		if rule == nil {
			return d, record.Dropped, reason.UnknownVariation
		}
		d.ruleKey = rule.Key
	}
	v := rule.Variations[d.varKey]
	if v == nil {
		return d, record.Dropped, reason.UnknownVariation
	}
	if d.ruleType == "" {
		d.ruleType = rule.Type
	}
	if rule.Type == RuleTypeRollout && !b.sendRollout {
		return d, record.Skipped, reason.FlagDecisionNotSent
	}
	d.campaignID, d.experimentID = rule.CampaignID, rule.ID
	d.variationID = v.ID
	d.variation = v
	d.enabled = v.Enabled
	if hasEnabled {
		d.enabled = enabled.Bool()
	}
	return d, record.Built, ""
}

func (b *Builder) appendConversion(dst []byte, f *record.Fields) ([]byte, record.Verdict, string) {
	visitor, ok := f.Get(record.VisitorID)
	if !ok || !record.IsID(visitor) {
		return dst, record.Dropped, reason.MissingVisitorID
	}
	if f.Timestamp == 0 {
		return dst, record.Dropped, reason.MissingTimestamp
	}
	key := f.Str(record.EventKey)
	if key == "" {
		return dst, record.Dropped, reason.MissingEventKey
	}
	entityID, ok := b.df.Events[key]
	if !ok {
		return dst, record.Dropped, reason.UnknownEventKey
	}
	visitor = b.gate.VisitorID(visitor)
	// Revenue is an integer (cents); like the SDKs, a fractional amount is truncated
	// in "revenue" and kept as given in tags. A string is read as the JavaScript SDK
	// reads it (parseInt: "4200", "42.50" → 42).
	revenue, hasRevenue := f.Get(record.Revenue)
	var irevenue int64
	if hasRevenue {
		switch revenue.Type() {
		case pcommon.ValueTypeInt:
			irevenue = revenue.Int()
		case pcommon.ValueTypeDouble, pcommon.ValueTypeStr:
			d := revenue.Double()
			if revenue.Type() == pcommon.ValueTypeStr {
				var ok bool
				if d, ok = jsnum.ParseInt(revenue.Str()); !ok {
					return dst, record.Dropped, reason.InvalidRevenue
				}
			}
			if !jsonw.Finite(d) || math.Abs(d) > jsonw.MaxSafeInteger {
				return dst, record.Dropped, reason.InvalidRevenue
			}
			irevenue = int64(d)
		default:
			return dst, record.Dropped, reason.InvalidRevenue
		}
		if abs(irevenue) > jsonw.MaxSafeInteger {
			return dst, record.Dropped, reason.InvalidRevenue
		}
	}
	value, hasValue := f.Get(record.Value)
	var fvalue float64
	if hasValue {
		switch value.Type() {
		case pcommon.ValueTypeDouble:
			fvalue = value.Double()
		case pcommon.ValueTypeInt:
			fvalue = float64(value.Int())
		case pcommon.ValueTypeStr: // as the JavaScript SDK: parseFloat
			var ok bool
			if fvalue, ok = jsnum.ParseFloat(value.Str()); !ok {
				return dst, record.Dropped, reason.InvalidValue
			}
		default:
			return dst, record.Dropped, reason.InvalidValue
		}
		if !jsonw.Finite(fvalue) {
			return dst, record.Dropped, reason.InvalidValue
		}
	}
	dst = b.appendVisitorStart(dst, visitor, f)
	dst = append(dst, `"snapshots":[{"events":[{"entity_id":`...)
	dst = jsonw.String(dst, entityID)
	dst = append(dst, `,"key":`...)
	dst = jsonw.String(dst, key)
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, int64(f.Timestamp)/1e6, 10)
	dst = append(dst, `,"uuid":`...)
	dst = appendUUID(dst, f, visitor, key, "", "")
	if hasRevenue {
		dst = append(dst, `,"revenue":`...)
		dst = strconv.AppendInt(dst, irevenue, 10)
	}
	if hasValue {
		dst = append(dst, `,"value":`...)
		dst = jsonw.Float(dst, fvalue)
	}
	dst = appendTags(dst, f, revenue, hasRevenue, value, hasValue)
	dst = append(dst, "}]}]}"...)
	return dst, record.Built, ""
}

// appendTags writes the event tags as the SDKs send them: the app's tags with revenue
// and value among them, as given (the SDKs read both out of the tags).
func appendTags(dst []byte, f *record.Fields, revenue pcommon.Value, hasRevenue bool, value pcommon.Value, hasValue bool) []byte {
	tags, ok := f.Get(record.Tags)
	ok = ok && tags.Type() == pcommon.ValueTypeMap
	if !ok && !hasRevenue && !hasValue {
		return dst
	}
	dst = append(dst, `,"tags":`...)
	n := 0
	if ok {
		var skip []string
		if hasRevenue {
			skip = append(skip, "revenue")
		}
		if hasValue {
			skip = append(skip, "value")
		}
		dst, n = jsonw.OpenMap(dst, tags.Map(), 1, skip...)
	} else {
		dst = append(dst, '{')
	}
	for _, tag := range []struct {
		key string
		v   pcommon.Value
		has bool
	}{{"revenue", revenue, hasRevenue}, {"value", value, hasValue}} {
		if !tag.has {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, '"')
		dst = append(dst, tag.key...)
		dst = append(dst, `":`...)
		dst = jsonw.Value(dst, tag.v)
	}
	return append(dst, '}')
}

// encodeDecisionParts encodes what an impression's JSON holds around the flag key.
// Ids go out normalized as the JavaScript SDK 6.5+ sends them (log_event.js
// makeDecisionSnapshot): campaign_id and the event's entity_id are the layer id, else
// the experiment id (a holdout has no layer), else null; a variation id that is not
// numeric ($opt_dummy_variation_id) is null. go-sdk v2.3.1 sends "" and the id as is.
func encodeDecisionParts(campaignID, experimentID, variationID, ruleKey, varKey string) (decisionHead, eventHead []byte) {
	campaign := []byte("null")
	switch {
	case campaignID != "":
		campaign = jsonw.String(nil, campaignID)
	case experimentID != "":
		campaign = jsonw.String(nil, experimentID)
	}
	d := append([]byte(nil), `"snapshots":[{"decisions":[{"campaign_id":`...)
	d = append(d, campaign...)
	d = append(d, `,"experiment_id":`...)
	d = jsonw.String(d, experimentID)
	d = append(d, `,"variation_id":`...)
	if allDigits(variationID) {
		d = jsonw.String(d, variationID)
	} else {
		d = append(d, "null"...)
	}
	d = append(d, `,"metadata":{"rule_key":`...)
	d = jsonw.String(d, ruleKey)
	d = append(d, `,"variation_key":`...)
	d = jsonw.String(d, varKey)
	d = append(d, `,"flag_key":`...)
	ev := append([]byte(nil), `}}],"events":[{"entity_id":`...)
	ev = append(ev, campaign...)
	ev = append(ev, `,"key":"campaign_activated","timestamp":`...)
	return d, ev
}

// appendVisitorStart writes `{"visitor_id":…,"attributes":[…],` for both event types.
func (b *Builder) appendVisitorStart(dst []byte, visitor pcommon.Value, f *record.Fields) []byte {
	dst = append(dst, `{"visitor_id":`...)
	dst = appendIDValue(dst, visitor)
	dst = append(dst, `,"attributes":[`...)
	n := 0
	sep := func() {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
	}
	hasUA := false
	if attrs, ok := f.Get(record.VisitorAttributes); ok && attrs.Type() == pcommon.ValueTypeMap {
		for k, v := range attrs.Map().All() {
			var id string
			if strings.HasPrefix(k, "$opt_") {
				id = k
				hasUA = hasUA || k == "$opt_user_agent"
			} else if id, ok = b.df.Attributes[k]; !ok {
				continue
			}
			if !validAttrValue(v) {
				continue
			}
			s, replaced, keep := b.gate.Attribute(k, v, n, &f.Privacy)
			if !keep {
				continue
			}
			sep()
			dst = appendAttr(dst, id, k)
			if replaced {
				dst = jsonw.String(dst, s)
			} else {
				dst = jsonw.Value(dst, v)
			}
			dst = append(dst, '}')
		}
	}
	if ua, ok := f.Get(record.UserAgent); ok && ua.Type() == pcommon.ValueTypeStr && ua.Str() != "" && !hasUA {
		if s, replaced, keep := b.gate.Attribute("$opt_user_agent", ua, n, &f.Privacy); keep {
			if !replaced {
				s = ua.Str()
			}
			sep()
			dst = appendAttr(dst, "$opt_user_agent", "$opt_user_agent")
			dst = jsonw.String(dst, s)
			dst = append(dst, '}')
		}
	}
	if b.botFilter != nil {
		sep()
		dst = append(dst, b.botFilter...)
	}
	return append(dst, "],"...)
}

// appendAttr writes an attribute object up to its value.
func appendAttr(dst []byte, id, key string) []byte {
	dst = append(dst, `{"entity_id":`...)
	dst = jsonw.String(dst, id)
	dst = append(dst, `,"key":`...)
	dst = jsonw.String(dst, key)
	return append(dst, `,"type":"custom","value":`...)
}

// validAttrValue accepts what the Event API accepts: strings, bools and finite numbers
// no larger in magnitude than 2^53.
func validAttrValue(v pcommon.Value) bool {
	switch v.Type() {
	case pcommon.ValueTypeStr, pcommon.ValueTypeBool:
		return true
	case pcommon.ValueTypeInt:
		return abs(v.Int()) <= jsonw.MaxSafeInteger
	case pcommon.ValueTypeDouble:
		d := v.Double()
		return jsonw.Finite(d) && math.Abs(d) <= jsonw.MaxSafeInteger
	}
	return false
}

func abs(v int64) int64 {
	if v < 0 {
		if v == math.MinInt64 {
			return math.MaxInt64
		}
		return -v
	}
	return v
}

func appendIDValue(dst []byte, v pcommon.Value) []byte {
	if v.Type() == pcommon.ValueTypeInt {
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, v.Int(), 10)
		return append(dst, '"')
	}
	return jsonw.String(dst, v.Str())
}

// idString returns a string or integer id slot as text ("" when absent). Integer ids
// allocate; they are the uncommon path that skips the datafile.
func idString(f *record.Fields, s record.Slot) string {
	v, ok := f.Get(s)
	if !ok {
		return ""
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeInt:
		return strconv.FormatInt(v.Int(), 10)
	}
	return ""
}

// uuidNamespace is uuid5(NAMESPACE_URL, "https://github.com/experimentationexporter").
var uuidNamespace = uuid5.Sum(uuid5.NamespaceURL, []byte("https://github.com/experimentationexporter"))

// appendUUID writes the event's deterministic uuid as a JSON string: event.id when it is
// already a UUID, else a UUIDv5 over event.id or over the record's identity, so a
// resent record always carries the same uuid and the Event API's dedup drops repeats.
func appendUUID(dst []byte, f *record.Fields, visitor pcommon.Value, key, rule, variation string) []byte {
	var scratch [256]byte
	name := scratch[:0]
	if id, ok := f.Get(record.EventID); ok && record.IsID(id) {
		if s := id.Str(); id.Type() == pcommon.ValueTypeStr && isCanonicalUUID(s) {
			dst = append(dst, '"')
			for i := 0; i < len(s); i++ {
				c := s[i]
				if c >= 'A' && c <= 'F' {
					c += 'a' - 'A'
				}
				dst = append(dst, c)
			}
			return append(dst, '"')
		}
		name = append(name, "event.id\x00"...)
		name = appendIDRaw(name, id)
	} else {
		name = append(name, byte('0'+f.Kind), 0)
		name = appendIDRaw(name, visitor)
		name = append(name, 0)
		name = append(name, key...)
		name = append(name, 0)
		name = append(name, rule...)
		name = append(name, 0)
		name = append(name, variation...)
		name = append(name, 0)
		name = strconv.AppendUint(name, uint64(f.Timestamp), 10)
	}
	u := uuid5.Sum(uuidNamespace, name)
	return appendUUIDString(dst, u)
}

func appendIDRaw(dst []byte, v pcommon.Value) []byte {
	if v.Type() == pcommon.ValueTypeInt {
		return strconv.AppendInt(dst, v.Int(), 10)
	}
	return append(dst, v.Str()...)
}

func appendUUIDString(dst []byte, u [16]byte) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, '"')
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexd[c>>4], hexd[c&0xf])
	}
	return append(dst, '"')
}

func isCanonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// reasonDeduplicated marks an impression dedup left out; it is counted apart
// (impressions_deduplicated), not as a skipped record.
const reasonDeduplicated = "deduplicated"

// IsDeduplicated reports whether a verdict's reason is dedup's.
func IsDeduplicated(why string) bool { return why == reasonDeduplicated }

// appendDerivedUUID is the uuid of a record's second impression: a UUIDv5 over the
// record's event.id (or identity) and the second decision's rule, never event.id itself,
// which the first impression carries.
func appendDerivedUUID(dst []byte, f *record.Fields, visitor pcommon.Value, key, rule, variation string) []byte {
	var scratch [256]byte
	name := append(scratch[:0], "second\x00"...)
	if id, ok := f.Get(record.EventID); ok && record.IsID(id) {
		name = appendIDRaw(name, id)
	} else {
		name = appendIDRaw(name, visitor)
		name = strconv.AppendUint(append(name, 0), uint64(f.Timestamp), 10)
	}
	name = append(append(name, 0), key...)
	name = append(append(name, 0), rule...)
	name = append(append(name, 0), variation...)
	return appendUUIDString(dst, uuid5.Sum(uuidNamespace, name))
}
