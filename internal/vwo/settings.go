package vwo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Goal types of the settings file.
const (
	GoalRevenue = "REVENUE_TRACKING"
	GoalCustom  = "CUSTOM_GOAL"
)

// statusRunning is the status of campaigns that take events.
const statusRunning = "RUNNING"

// typeFeatureRollout is the campaign type whose goals the SDKs never track.
const typeFeatureRollout = "FEATURE_ROLLOUT"

type rawSettings struct {
	AccountID json.Number `json:"accountId"`
	// isNB and isNBv2 switch the SDKs to the newer bucketing seeds.
	IsNB      bool `json:"isNB"`
	IsNBv2    bool `json:"isNBv2"`
	Campaigns []struct {
		ID                     int64           `json:"id"`
		Key                    string          `json:"key"`
		Status                 string          `json:"status"`
		Type                   string          `json:"type"`
		PercentTraffic         float64         `json:"percentTraffic"`
		IsBucketingSeedEnabled bool            `json:"isBucketingSeedEnabled"`
		IsOB                   bool            `json:"isOB"`
		IsOBv2                 bool            `json:"isOBv2"`
		IsForcedVariation      bool            `json:"isForcedVariationEnabled"`
		IsUserListEnabled      bool            `json:"isUserListEnabled"`
		IsMAB                  bool            `json:"isMAB"`
		Segments               json.RawMessage `json:"segments"`
		Variations             list[struct {
			ID       int64           `json:"id"`
			Name     string          `json:"name"`
			Weight   float64         `json:"weight"`
			Segments json.RawMessage `json:"segments"`
		}] `json:"variations"`
		Goals list[struct {
			ID         int64  `json:"id"`
			Identifier string `json:"identifier"`
			Type       string `json:"type"`
		}] `json:"goals"`
	} `json:"campaigns"`
	// campaignGroups maps a campaign id to its mutually exclusive group's id.
	CampaignGroups map[string]int64 `json:"campaignGroups"`
	Groups         map[string]struct {
		Campaigns []int64 `json:"campaigns"`
		// et 2 picks the winner by priority p, then weights wt; else at random.
		Et *int               `json:"et"`
		P  []int64            `json:"p"`
		Wt map[string]float64 `json:"wt"`
	} `json:"groups"`
}

// list is a JSON array that the settings API may also send as {} when empty (the Go SDK
// rewrites "goals":{} to [] before parsing).
type list[T any] []T

func (l *list[T]) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "{}" {
		*l = nil
		return nil
	}
	return json.Unmarshal(b, (*[]T)(l))
}

// Goal is a campaign goal: its id and type (REVENUE_TRACKING, CUSTOM_GOAL, ...).
type Goal struct {
	ID   int64
	Type string
}

// Campaign is what event building and bucketing need of a settings-file campaign.
type Campaign struct {
	ID      int64
	Key     string
	Status  string
	Type    string
	running bool
	// variations maps a variation name ("Control", "Variation-1") to its id.
	variations map[string]int64
	// goals maps a goal identifier ("purchase") to the goal; goalByID by id.
	goals    map[string]Goal
	goalByID map[int64]Goal
	// goalOrder lists the goal identifiers in the file's order.
	goalOrder []string

	// What the SDKs' bucketing reads (decide.go).
	percentTraffic                 float64
	seedEnabled, isOB, isOBv2      bool
	forcedVariations, userListSeed bool
	isMAB                          bool     // a multi-armed bandit
	segments                       *segment // pre-segmentation; nil: everyone
	vars                           []variation
	group                          *group
}

// variation is a campaign variation with its bucket range (1..10000; -1 when its weight
// is 0) and its whitelisting segments.
type variation struct {
	id         int64
	name       string
	weight     float64
	start, end int
	// segments: hasSegments is false when the settings have none (the variation is
	// never whitelisted); segments nil with hasSegments is an empty object (skipped).
	segments    *segment
	hasSegments bool
}

// group is a mutually exclusive group of campaigns.
type group struct {
	id        string
	campaigns []*Campaign
	advanced  bool // et 2: priority, then weights
	priority  []int64
	weights   map[int64]float64
}

// Settings indexes a VWO settings file: campaigns by key and by id.
type Settings struct {
	AccountID string
	byKey     map[string]*Campaign
	byID      map[int64]*Campaign
	// ordered lists the campaigns in the file's order (track() without a campaign).
	ordered      []*Campaign
	isNB, isNBv2 bool
}

// ParseSettings reads a settings file as the VWO SDKs fetch it
// (GET /server-side/settings).
func ParseSettings(data []byte) (*Settings, error) {
	var raw rawSettings
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("settings file is not valid JSON: %w", err)
	}
	if raw.Campaigns == nil {
		return nil, errors.New("settings file has no campaigns list")
	}
	s := &Settings{AccountID: raw.AccountID.String(), byKey: map[string]*Campaign{}, byID: map[int64]*Campaign{},
		isNB: raw.IsNB, isNBv2: raw.IsNBv2}
	for _, rc := range raw.Campaigns {
		c := &Campaign{
			ID: rc.ID, Key: rc.Key, Status: rc.Status, Type: rc.Type, running: rc.Status == statusRunning,
			variations: make(map[string]int64, len(rc.Variations)),
			goals:      make(map[string]Goal, len(rc.Goals)),
			goalByID:   make(map[int64]Goal, len(rc.Goals)),

			percentTraffic: rc.PercentTraffic, seedEnabled: rc.IsBucketingSeedEnabled,
			isOB: rc.IsOB, isOBv2: rc.IsOBv2,
			forcedVariations: rc.IsForcedVariation, userListSeed: rc.IsUserListEnabled, isMAB: rc.IsMAB,
		}
		var err error
		if c.segments, _, err = parseSegments(rc.Segments); err != nil {
			return nil, fmt.Errorf("campaign %q: segments: %w", rc.Key, err)
		}
		for _, v := range rc.Variations {
			c.variations[v.Name] = v.ID
			vr := variation{id: v.ID, name: v.Name, weight: v.Weight}
			if vr.segments, vr.hasSegments, err = parseSegments(v.Segments); err != nil {
				return nil, fmt.Errorf("campaign %q variation %q: segments: %w", rc.Key, v.Name, err)
			}
			c.vars = append(c.vars, vr)
		}
		allocate(c.vars)
		for _, g := range rc.Goals {
			goal := Goal{ID: g.ID, Type: g.Type}
			if _, dup := c.goals[g.Identifier]; !dup {
				c.goals[g.Identifier] = goal
				c.goalOrder = append(c.goalOrder, g.Identifier)
			}
			c.goalByID[g.ID] = goal
		}
		if _, dup := s.byKey[c.Key]; !dup {
			s.byKey[c.Key] = c
		}
		if _, dup := s.byID[c.ID]; !dup {
			s.byID[c.ID] = c
		}
		s.ordered = append(s.ordered, c)
	}
	for campaignID, groupID := range raw.CampaignGroups {
		n, err := strconv.ParseInt(campaignID, 10, 64)
		if err != nil {
			continue
		}
		c := s.byID[n]
		rg, ok := raw.Groups[strconv.FormatInt(groupID, 10)]
		if c == nil || !ok {
			continue
		}
		g := &group{id: strconv.FormatInt(groupID, 10), advanced: rg.Et != nil && *rg.Et != 1, priority: rg.P,
			weights: make(map[int64]float64, len(rg.Wt))}
		for id, w := range rg.Wt {
			if n, err := strconv.ParseInt(id, 10, 64); err == nil {
				g.weights[n] = w
			}
		}
		for _, id := range rg.Campaigns {
			if gc := s.byID[id]; gc != nil {
				g.campaigns = append(g.campaigns, gc)
			}
		}
		c.group = g
	}
	return s, nil
}

// Campaign returns the campaign with the key, or nil.
func (s *Settings) Campaign(key string) *Campaign { return s.byKey[key] }
