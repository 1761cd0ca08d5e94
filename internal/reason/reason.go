// Package reason is the one list of why a record or event was not sent: the values of the
// reason attribute of the records_skipped and events_dropped metrics, named in warnings.
package reason // import "github.com/experimentationexporter/experimentationexporter/internal/reason"

// A record skipped by design (records_skipped) or that cannot become a valid event
// (events_dropped), as a destination's builder decides.
const (
	NotAnEvent          = "not_an_event"
	EvaluationError     = "evaluation_error"
	NoVariant           = "no_variant"
	FlagDecisionNotSent = "flag_decision_not_sent"
	CampaignNotRunning  = "campaign_not_running"
	// NotInCampaign: the SDKs would not put the visitor in the campaign (traffic,
	// segments, mutually exclusive group), so a track() sends nothing.
	NotInCampaign = "not_in_campaign"
	// CampaignNotTracked: the SDKs track no goals of a feature rollout.
	CampaignNotTracked = "campaign_not_tracked"
	// GoalTypeNotTracked: the conversion's goalTypeToTrack leaves the goal out.
	GoalTypeNotTracked = "goal_type_not_tracked"

	MissingVisitorID   = "missing_visitor_id"
	MissingTimestamp   = "missing_timestamp"
	MissingFlagKey     = "missing_flag_key"
	MissingEventKey    = "missing_event_key"
	MissingCampaignID  = "missing_campaign_id"
	MissingVariationID = "missing_variation_id"
	MissingGoalID      = "missing_goal_id"
	MissingRevenue     = "missing_revenue"

	UnknownFlag      = "unknown_flag"
	UnknownRule      = "unknown_rule"
	UnknownVariation = "unknown_variation"
	UnknownEventKey  = "unknown_event_key"
	UnknownCampaign  = "unknown_campaign"
	UnknownGoal      = "unknown_goal"

	InvalidRevenue  = "invalid_revenue"
	InvalidGoalType = "invalid_goal_type"
	InvalidValue    = "invalid_value"
)

// Events dropped on the way to the events API (events_dropped).
const (
	// CorruptPendingRecord: a record kept until the first datafile could not be read back.
	CorruptPendingRecord = "corrupt_pending_record"
	// EventTooLarge: one event alone is larger than max_payload_bytes.
	EventTooLarge = "event_too_large"
	// RejectedBadRequest and RejectedTooLarge: the API refused an event sent alone (400, 413).
	RejectedBadRequest = "rejected_bad_request"
	RejectedTooLarge   = "rejected_too_large"
	// RejectedPermanent: any other non-retryable answer.
	RejectedPermanent = "rejected_permanent"
	// Shutdown: still in an in-memory queue when the shutdown drain's deadline passed
	// (no datafile or settings file yet, or the events API not taking them).
	Shutdown = "shutdown"
)
