package vwo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Goal types of the settings file.
const (
	GoalRevenue = "REVENUE_TRACKING"
	GoalCustom  = "CUSTOM_GOAL"
)

// statusRunning is the status of campaigns that take events.
const statusRunning = "RUNNING"

type rawSettings struct {
	AccountID json.Number `json:"accountId"`
	Campaigns []struct {
		ID         int64  `json:"id"`
		Key        string `json:"key"`
		Status     string `json:"status"`
		Type       string `json:"type"`
		Variations list[struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		}] `json:"variations"`
		Goals list[struct {
			ID         int64  `json:"id"`
			Identifier string `json:"identifier"`
			Type       string `json:"type"`
		}] `json:"goals"`
	} `json:"campaigns"`
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

// Campaign is what event building needs of a settings-file campaign.
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
}

// Settings indexes a VWO settings file: campaigns by key and by id.
type Settings struct {
	AccountID string
	byKey     map[string]*Campaign
	byID      map[int64]*Campaign
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
	s := &Settings{AccountID: raw.AccountID.String(), byKey: map[string]*Campaign{}, byID: map[int64]*Campaign{}}
	for _, rc := range raw.Campaigns {
		c := &Campaign{
			ID: rc.ID, Key: rc.Key, Status: rc.Status, Type: rc.Type, running: rc.Status == statusRunning,
			variations: make(map[string]int64, len(rc.Variations)),
			goals:      make(map[string]Goal, len(rc.Goals)),
			goalByID:   make(map[int64]Goal, len(rc.Goals)),
		}
		for _, v := range rc.Variations {
			c.variations[v.Name] = v.ID
		}
		for _, g := range rc.Goals {
			goal := Goal{ID: g.ID, Type: g.Type}
			c.goals[g.Identifier] = goal
			c.goalByID[g.ID] = goal
		}
		if _, dup := s.byKey[c.Key]; !dup {
			s.byKey[c.Key] = c
		}
		s.byID[c.ID] = c
	}
	return s, nil
}

// Campaign returns the campaign with the key, or nil.
func (s *Settings) Campaign(key string) *Campaign { return s.byKey[key] }
