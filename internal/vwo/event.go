// Package vwo turns experimentation records into VWO server-side batch events.
package vwo // import "github.com/experimentationexporter/experimentationexporter/internal/vwo"

import (
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/experimentationexporter/experimentationexporter/internal/dedup"
	"github.com/experimentationexporter/experimentationexporter/internal/jsonw"
	"github.com/experimentationexporter/experimentationexporter/internal/privacy"
	"github.com/experimentationexporter/experimentationexporter/internal/reason"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
	"github.com/experimentationexporter/experimentationexporter/internal/uuid5"
)

// Body wrapper of a batch-events request.
const (
	BodyPrefix = `{"ev":[`
	BodySuffix = `]}`
)

// maxDimensionLen caps custom dimension keys and values, in characters.
const maxDimensionLen = 255

// EventsURL is the batch-events endpoint, with the data-residency prefix if any.
func EventsURL(collectionPrefix string) string {
	u := Host
	if collectionPrefix != "" {
		u += "/" + collectionPrefix
	}
	return u + "/server-side/batch-events"
}

// Query is the query string without the sdk key, which the sender adds as env.
func Query(accountID int64, sdkName, sdkVersion string) string {
	return "a=" + strconv.FormatInt(accountID, 10) + "&sdk=" + escape(sdkName) + "&sdk-v=" + escape(sdkVersion)
}

func escape(s string) string { return string(appendURIComponent(nil, s)) }

// Builder appends VWO events for records. It is immutable and safe for concurrent use.
type Builder struct {
	nsAcct         [16]byte
	pushDimensions bool
	settings       *Settings     // nil: records must carry numeric ids
	gate           *privacy.Gate // nil: visitor data leaves as the app sent it
	exposures      *dedup.Set    // nil: dedup off
}

// WithExposures leaves out impressions that repeat one sent within the dedup window
// (custom-dimension pushes and conversions are never left out).
func WithExposures(s *dedup.Set) Option { return func(b *Builder) { b.exposures = s } }

// UnexposedConversion reports, when dedup is on, whether a conversion's visitor has no
// remembered impression.
func (b *Builder) UnexposedConversion(f *record.Fields) bool {
	if b.exposures == nil || f.Kind != record.Conversion {
		return false
	}
	visitor, ok := f.Get(record.VisitorID)
	if !ok {
		return false
	}
	return !b.exposures.SeenVisitor(visitor.AsString())
}

// Option configures a Builder.
type Option func(*Builder)

// WithPrivacy passes visitor ids, the user agent and IP, and custom dimensions through
// the privacy gate.
func WithPrivacy(g *privacy.Gate) Option { return func(b *Builder) { b.gate = g } }

// NewBuilder prepares event building for one account. With settings, campaign keys,
// variation names and goal identifiers resolve to ids; ids on a record still win.
func NewBuilder(accountID int64, pushCustomDimensions bool, settings *Settings, opts ...Option) *Builder {
	b := &Builder{nsAcct: accountNamespace(accountID), pushDimensions: pushCustomDimensions, settings: settings}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Pushed remembers the custom dimensions appended to one batch, so a visitor's
// attribute goes out once per batch however many of its records carry it.
type Pushed map[string]struct{}

// Append appends the record's events to dst, one after the other, and the end offset
// (in dst) of each to ends. On record.Skipped or record.Dropped dst and ends come back unchanged.
func (b *Builder) Append(dst []byte, ends []int, f *record.Fields) ([]byte, []int, record.Verdict, string) {
	return b.AppendPushed(dst, ends, f, nil)
}

// AppendPushed is Append that leaves out custom dimensions already in pushed (nil: none)
// and adds the ones it appends.
func (b *Builder) AppendPushed(dst []byte, ends []int, f *record.Fields, pushed Pushed) ([]byte, []int, record.Verdict, string) {
	dst, ends, verdict, why, _ := b.AppendDecided(dst, ends, f, pushed)
	return dst, ends, verdict, why
}

// AppendDecided is AppendPushed that also says whether a conversion's variation was
// decided by bucketing the visitor (the record named none), as the SDKs' track() does.
func (b *Builder) AppendDecided(dst []byte, ends []int, f *record.Fields, pushed Pushed) (_ []byte, _ []int, _ record.Verdict, _ string, bucketed bool) {
	dst, ends, verdict, why, bucketed, _ := b.AppendDeduplicated(dst, ends, f, pushed)
	return dst, ends, verdict, why, bucketed
}

// AppendDeduplicated is AppendDecided that also says whether dedup left the impression
// out (its custom-dimension pushes, if any, are still appended).
func (b *Builder) AppendDeduplicated(dst []byte, ends []int, f *record.Fields, pushed Pushed) (_ []byte, _ []int, _ record.Verdict, _ string, bucketed, deduplicated bool) {
	var eT byte
	switch f.Kind {
	case record.Impression:
		if f.EvaluationFailed() {
			// The evaluation served a default value: not an impression.
			return dst, ends, record.Skipped, reason.EvaluationError, false, false
		}
		eT = '1'
	case record.Conversion:
		eT = '2'
	default:
		return dst, ends, record.Skipped, reason.NotAnEvent, false, false
	}
	visitor, ok := f.Get(record.VisitorID)
	if !ok || !record.IsID(visitor) {
		return dst, ends, record.Dropped, reason.MissingVisitorID, false, false
	}
	if f.Timestamp == 0 {
		return dst, ends, record.Dropped, reason.MissingTimestamp, false, false
	}
	var targets []ids
	if eT == '2' && b.settings != nil && !hasCampaign(f) {
		// track() without a campaign: every campaign with the goal the visitor is in.
		var verdict record.Verdict
		var why string
		if targets, verdict, why = b.resolveGoalCampaigns(f, visitor.AsString()); verdict != record.Built {
			return dst, ends, verdict, why, false, false
		}
	} else {
		id, verdict, why := b.resolve(f, eT == '2', visitor.AsString())
		if verdict != record.Built {
			return dst, ends, verdict, why, false, false
		}
		targets = []ids{id}
	}

	var uuid [32]byte
	appendUUIDHex(uuid[:0], uuidFor(b.nsAcct, b.gate.VisitorID(visitor)))
	// The SDKs send the visitor's user agent and IP only when the app gives them, and
	// never with a custom dimension push.
	kept := 0
	var scratch [256]byte
	client := b.appendClient(scratch[:0], f, "visitor_ua", record.UserAgent, &kept)
	if !b.gate.ForceAnonymizeIP() {
		client = b.appendClient(client, f, "visitor_ip", record.ClientAddress, &kept)
	}
	tail := func(dst []byte, withClient bool) []byte {
		dst = append(dst, `,"u":"`...)
		dst = append(dst, uuid[:]...)
		dst = append(dst, `","sId":`...)
		dst = strconv.AppendInt(dst, int64(f.Timestamp)/1e9, 10)
		if withClient {
			dst = append(dst, client...)
		}
		return append(dst, '}')
	}

	for _, id := range targets {
		if eT == '1' && b.exposures != nil {
			// The key: the visitor as received, the campaign and the variation.
			var h dedup.Hasher
			b.exposures.Exposure(&h, visitor.AsString())
			h.String(id.campaign)
			h.String(id.variation)
			if b.exposures.Repeat(h.Sum(), int64(f.Timestamp)) {
				deduplicated = true
				continue
			}
		}
		dst = append(dst, `{"eT":`...)
		dst = append(dst, eT)
		dst = append(dst, `,"e":`...)
		dst = append(dst, id.campaign...)
		dst = append(dst, `,"c":`...)
		dst = append(dst, id.variation...)
		if eT == '2' {
			dst = append(dst, `,"g":`...)
			dst = append(dst, id.goal...)
			if id.revenue != "" {
				dst = append(dst, `,"r":`...)
				dst = append(dst, id.revenue...)
			}
		}
		dst = tail(dst, true)
		ends = append(ends, len(dst))
	}

	if attrs, ok := f.Get(record.VisitorAttributes); ok && b.pushDimensions && attrs.Type() == pcommon.ValueTypeMap {
		for k, v := range attrs.Map().All() {
			var scratch [64]byte
			val, ok := dimensionValue(scratch[:0], v)
			if !ok || k == "" {
				continue
			}
			s, replaced, keep := b.gate.Attribute(k, v, kept, &f.Privacy)
			if !keep {
				continue
			}
			kept++
			if replaced {
				val = append(scratch[:0], s...)
			}
			start := len(dst)
			dst = append(dst, `{"eT":3,"t":"`...)
			dst = appendDimension(dst, k, val)
			dst = append(dst, '"')
			if pushed != nil {
				key := string(uuid[:]) + string(dst[start:])
				if _, dup := pushed[key]; dup {
					dst = dst[:start]
					continue
				}
				pushed[key] = struct{}{}
			}
			dst = tail(dst, false)
			ends = append(ends, len(dst))
		}
	}
	bucketed = targets[0].bucketed
	return dst, ends, record.Built, "", bucketed, deduplicated
}

// appendClient writes the user agent or IP field when the record has it and the
// privacy gate lets it through.
func (b *Builder) appendClient(dst []byte, f *record.Fields, name string, slot record.Slot, kept *int) []byte {
	v, ok := f.Get(slot)
	if !ok || v.Type() != pcommon.ValueTypeStr || v.Str() == "" {
		return dst
	}
	s, replaced, keep := b.gate.Attribute(name, v, *kept, &f.Privacy)
	if !keep {
		return dst
	}
	*kept++
	if !replaced {
		s = v.Str()
	}
	dst = append(dst, `,"`...)
	dst = append(dst, name...)
	dst = append(dst, `":`...)
	return jsonw.String(dst, s)
}

// ids are an event's campaign, variation and goal as JSON integers, and its revenue
// as a JSON number ("" when none is sent).
type ids struct {
	campaign, variation, goal, revenue string
	// bucketed: the variation is the SDKs' decision, not the record's.
	bucketed bool
}

// hasCampaign reports whether the record names one campaign (id, key or flag key); a
// list of campaign keys is track([keys]).
func hasCampaign(f *record.Fields) bool {
	if _, ok := f.Get(record.CampaignID); ok {
		return true
	}
	if v, ok := f.Get(record.CampaignKey); ok && v.Type() == pcommon.ValueTypeSlice {
		return false
	}
	return f.Str(record.CampaignKey) != "" || f.Str(record.FlagKey) != ""
}

// goalTypeToTrack is the conversion's goalTypeToTrack ("" for ALL), and whether it is one
// the SDKs take.
func goalTypeToTrack(f *record.Fields) (string, bool) {
	switch t := f.Str(record.GoalType); t {
	case "", goalTypeAll:
		return "", true
	case GoalRevenue, GoalCustom:
		return t, true
	}
	return "", false
}

// goalTypeAll is goalTypeToTrack's default: every goal type.
const goalTypeAll = "ALL"

// visitorVars are the record's visitor attributes: the SDKs' customVariables and
// variationTargetingVariables.
func visitorVars(f *record.Fields) pcommon.Map {
	if v, ok := f.Get(record.VisitorAttributes); ok && v.Type() == pcommon.ValueTypeMap {
		return v.Map()
	}
	return pcommon.Map{}
}

// resolveGoalCampaigns is track() without a campaign: one goal event for every running
// campaign (feature rollouts aside) that has the goal and puts the visitor in a variation,
// in the settings file's order, as the Node SDK's getCampaignsForGoal and
// trackCampaignGoal do.
func (b *Builder) resolveGoalCampaigns(f *record.Fields, user string) ([]ids, record.Verdict, string) {
	ident := f.Str(record.EventKey)
	if ident == "" {
		return nil, record.Dropped, reason.MissingGoalID
	}
	goalType, ok := goalTypeToTrack(f)
	if !ok {
		return nil, record.Dropped, reason.InvalidGoalType
	}
	campaigns := b.settings.ordered
	if v, ok := f.Get(record.CampaignKey); ok && v.Type() == pcommon.ValueTypeSlice {
		// track([keys]): the listed campaigns, in the list's order (a multi-armed bandit
		// too: the Node SDK refuses one only when named alone).
		campaigns = nil
		for _, k := range v.Slice().All() {
			if c := b.settings.byKey[k.AsString()]; c != nil {
				campaigns = append(campaigns, c)
			}
		}
	}
	var out []ids
	has, missingRevenue := false, false
	for _, c := range campaigns {
		g, ok := c.goals[ident]
		if !ok {
			continue
		}
		has = true
		if goalType != "" && g.Type != goalType {
			continue
		}
		if !c.running || c.Type == typeFeatureRollout {
			continue
		}
		revenue, verdict, why := revenueFor(f, g.Type)
		switch {
		case verdict == record.Dropped && why == reason.MissingRevenue:
			missingRevenue = true
			continue
		case verdict != record.Built:
			return nil, verdict, why
		}
		v := b.settings.Decide(c, user, visitorVars(f))
		if v == nil {
			continue
		}
		out = append(out, ids{campaign: strconv.FormatInt(c.ID, 10), variation: strconv.FormatInt(v.id, 10),
			goal: strconv.FormatInt(g.ID, 10), revenue: revenue, bucketed: true})
	}
	switch {
	case !has:
		return nil, record.Dropped, reason.UnknownGoal
	case len(out) == 0 && missingRevenue:
		return nil, record.Dropped, reason.MissingRevenue
	case len(out) == 0:
		return nil, record.Skipped, reason.NotInCampaign
	}
	return out, record.Built, ""
}

// resolve finds the event's ids: from the record's ids, else from the campaign key
// (or flag key), variation name and goal identifier through the settings file.
func (b *Builder) resolve(f *record.Fields, conversion bool, user string) (ids, record.Verdict, string) {
	var id ids
	var c *Campaign
	var ok bool
	if id.campaign, ok = intID(f, record.CampaignID); ok {
		if b.settings != nil {
			n, _ := strconv.ParseInt(id.campaign, 10, 64)
			c = b.settings.byID[n]
		}
	} else {
		key := f.Str(record.CampaignKey)
		if key == "" {
			key = f.Str(record.FlagKey)
		}
		if key == "" || b.settings == nil {
			return id, record.Dropped, reason.MissingCampaignID
		}
		if c = b.settings.byKey[key]; c == nil {
			return id, record.Dropped, reason.UnknownCampaign
		}
		id.campaign = strconv.FormatInt(c.ID, 10)
	}
	if c != nil && !c.running {
		return id, record.Skipped, reason.CampaignNotRunning
	}

	if id.variation, ok = intID(f, record.VariationID); !ok {
		name := f.Str(record.VariationKey)
		switch {
		case name == "" && !conversion:
			return id, record.Skipped, reason.NoVariant
		case name == "" && c != nil:
			// track() names no variation: the SDKs bucket the visitor as activate() does.
			if c.Type == typeFeatureRollout || c.isMAB {
				// The SDKs track no goal of a rollout; the Node SDK refuses track(key) for
				// a multi-armed bandit without user storage.
				return id, record.Skipped, reason.CampaignNotTracked
			}
			v := b.settings.Decide(c, user, visitorVars(f))
			if v == nil {
				return id, record.Skipped, reason.NotInCampaign
			}
			id.variation, id.bucketed = strconv.FormatInt(v.id, 10), true
			name = v.name
		case name == "" || c == nil:
			return id, record.Dropped, reason.MissingVariationID
		}
		n, known := c.variations[name]
		if !known {
			return id, record.Dropped, reason.UnknownVariation
		}
		id.variation = strconv.FormatInt(n, 10)
	}
	if !conversion {
		return id, record.Built, ""
	}

	tracked, ok := goalTypeToTrack(f)
	if !ok {
		return id, record.Dropped, reason.InvalidGoalType
	}
	goalType := "" // unknown without the settings file: revenue is sent when given
	if id.goal, ok = intID(f, record.GoalID); ok {
		if c != nil {
			n, _ := strconv.ParseInt(id.goal, 10, 64)
			goalType = c.goalByID[n].Type
		}
	} else {
		ident := f.Str(record.EventKey)
		if ident == "" || c == nil {
			return id, record.Dropped, reason.MissingGoalID
		}
		g, known := c.goals[ident]
		if !known {
			return id, record.Dropped, reason.UnknownGoal
		}
		id.goal, goalType = strconv.FormatInt(g.ID, 10), g.Type
	}
	if tracked != "" && goalType != "" && goalType != tracked {
		// track(key, …, {goalTypeToTrack}) leaves a goal of another type out.
		return id, record.Skipped, reason.GoalTypeNotTracked
	}
	var verdict record.Verdict
	var why string
	if id.revenue, verdict, why = revenueFor(f, goalType); verdict != record.Built {
		return id, verdict, why
	}
	return id, record.Built, ""
}

// revenueFor is a goal event's r: like the SDKs, revenue only for revenue goals (or goals
// of unknown type), only when truthy, as a number; both SDKs refuse to track a revenue
// goal without a revenue value.
func revenueFor(f *record.Fields, goalType string) (string, record.Verdict, string) {
	if goalType != "" && goalType != GoalRevenue {
		return "", record.Built, ""
	}
	v, has := f.Get(record.Revenue)
	if !has {
		if goalType == GoalRevenue {
			return "", record.Dropped, reason.MissingRevenue
		}
		return "", record.Built, ""
	}
	r, valid := revenueNumber(v)
	if !valid {
		return "", record.Dropped, reason.InvalidRevenue
	}
	if r == "" && goalType == GoalRevenue {
		// A falsy revenue (0, "") on a revenue goal: the Node SDK refuses the call.
		return "", record.Dropped, reason.MissingRevenue
	}
	return r, record.Built, ""
}

// revenueNumber renders a revenue value (a number or a numeric string, as the Go SDK
// takes it) as a JSON number; zero and "" are no revenue ("", true).
func revenueNumber(v pcommon.Value) (string, bool) {
	var f float64
	switch v.Type() {
	case pcommon.ValueTypeInt:
		if v.Int() == 0 {
			return "", true
		}
		return strconv.FormatInt(v.Int(), 10), true
	case pcommon.ValueTypeDouble:
		f = v.Double()
	case pcommon.ValueTypeStr:
		// A string is truthy unless empty: "0" is sent (as 0), as the Node SDK sends it.
		s := strings.TrimSpace(v.Str())
		if s == "" {
			return "", true
		}
		var err error
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			return "", false
		}
		if !jsonw.Finite(f) {
			return "", false
		}
		return string(jsonw.Float(nil, f)), true
	default:
		return "", false
	}
	if !jsonw.Finite(f) {
		return "", false
	}
	if f == 0 {
		return "", true
	}
	return string(jsonw.Float(nil, f)), true
}

// intID returns a slot's value as JSON integer digits: an int, or a string of digits.
func intID(f *record.Fields, s record.Slot) (string, bool) {
	v, ok := f.Get(s)
	if !ok {
		return "", false
	}
	switch v.Type() {
	case pcommon.ValueTypeInt:
		if v.Int() < 0 {
			return "", false
		}
		return strconv.FormatInt(v.Int(), 10), true
	case pcommon.ValueTypeStr:
		str := v.Str()
		if str == "" || len(str) > 18 {
			return "", false
		}
		for i := 0; i < len(str); i++ {
			if str[i] < '0' || str[i] > '9' {
				return "", false
			}
		}
		// JSON numbers have no leading zeros: "007" is sent as 7.
		for len(str) > 1 && str[0] == '0' {
			str = str[1:]
		}
		return str, true
	}
	return "", false
}

// dimensionValue renders a custom dimension value as text.
func dimensionValue(dst []byte, v pcommon.Value) ([]byte, bool) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return append(dst, v.Str()...), true
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(dst, v.Bool()), true
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(dst, v.Int(), 10), true
	case pcommon.ValueTypeDouble:
		if !jsonw.Finite(v.Double()) || math.Abs(v.Double()) > jsonw.MaxSafeInteger {
			return dst, false
		}
		return jsonw.Float(dst, v.Double()), true
	}
	return dst, false
}

// appendDimension writes t: the percent-encoded compact JSON {"u":{"key":"value"}}.
func appendDimension(dst []byte, key string, value []byte) []byte {
	var scratch [600]byte
	j := append(scratch[:0], `{"u":{`...)
	j = jsonw.String(j, jsonw.TruncateRunes(key, maxDimensionLen))
	j = append(j, ':')
	j = jsonw.String(j, jsonw.TruncateRunes(string(value), maxDimensionLen))
	j = append(j, `}}`...)
	return appendURIComponent(dst, string(j))
}

// appendURIComponent percent-encodes like JavaScript's encodeURIComponent. Its output
// needs no JSON escaping.
func appendURIComponent(dst []byte, s string) []byte {
	const hexd = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			dst = append(dst, c)
			continue
		}
		switch c {
		case '-', '_', '.', '!', '~', '*', '\'', '(', ')':
			dst = append(dst, c)
		default:
			dst = append(dst, '%', hexd[c>>4], hexd[c&0xf])
		}
	}
	return dst
}

// vwoNamespace is uuid5(NAMESPACE_URL, "https://vwo.com").
var vwoNamespace = uuid5.Sum(uuid5.NamespaceURL, []byte("https://vwo.com"))

func accountNamespace(accountID int64) [16]byte {
	return uuid5.Sum(vwoNamespace, strconv.AppendInt(nil, accountID, 10))
}

func uuidFor(nsAcct [16]byte, visitor pcommon.Value) [16]byte {
	var scratch [128]byte
	name := scratch[:0]
	if visitor.Type() == pcommon.ValueTypeInt {
		name = strconv.AppendInt(name, visitor.Int(), 10)
	} else {
		name = append(name, visitor.Str()...)
	}
	return uuid5.Sum(nsAcct, name)
}

// VisitorUUID is VWO's visitor uuid: upper(strip_dashes(uuid5(uuid5(uuid5(URL,
// "https://vwo.com"), account_id), user_id))).
func VisitorUUID(accountID int64, userID string) string {
	return string(appendUUIDHex(nil, uuid5.Sum(accountNamespace(accountID), []byte(userID))))
}

func appendUUIDHex(dst []byte, u [16]byte) []byte {
	const hexd = "0123456789ABCDEF"
	for _, c := range u {
		dst = append(dst, hexd[c>>4], hexd[c&0xf])
	}
	return dst
}
