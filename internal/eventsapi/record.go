package eventsapi

import (
	"net/http"
	"net/url"
	"time"
)

// Received is one request as the server saw it and answered it.
type Received struct {
	// Mode is ModeOptimizely or ModeVWO, or "" for a path neither API serves.
	Mode   string
	Path   string
	Query  url.Values
	Header http.Header
	// Body is the decoded body (after Content-Encoding), truncated one byte past
	// the size limit.
	Body   []byte
	Status int
	// Error is the reason given for a non-2xx answer.
	Error string
	At    time.Time
}

// Accepted reports whether the request was answered 2xx.
func (r Received) Accepted() bool { return r.Status >= 200 && r.Status <= 299 }

// Stats summarise what the server received. Event counts cover accepted requests
// only: they are what the real API would have ingested.
type Stats struct {
	Requests int `json:"requests"`
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	// Impressions are Optimizely "campaign_activated" events and VWO eT 1.
	Impressions int `json:"impressions"`
	// Conversions are other Optimizely events and VWO eT 2.
	Conversions int `json:"conversions"`
	// Events counts every event, including VWO eT 3 (visitor attributes).
	Events int `json:"events"`
	// Bytes sums the decoded bodies of accepted requests.
	Bytes int64 `json:"bytes"`
}

// outcome is what a valid payload contributes to Stats and UUIDs.
type outcome struct {
	impressions, conversions, events int
	ids                              []string
}

func (s *Server) record(rec Received, out outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, rec)
	s.stats.Requests++
	if !rec.Accepted() {
		s.stats.Rejected++
		return
	}
	s.stats.Accepted++
	s.stats.Impressions += out.impressions
	s.stats.Conversions += out.conversions
	s.stats.Events += out.events
	s.stats.Bytes += int64(len(rec.Body))
	for _, id := range out.ids {
		s.uuids[id]++
	}
}

// Requests returns every recorded request, rejected ones included, in arrival
// order of their answers.
func (s *Server) Requests() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.requests...)
}

// Accepted returns the recorded requests that were answered 2xx.
func (s *Server) Accepted() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Received
	for _, r := range s.requests {
		if r.Accepted() {
			out = append(out, r)
		}
	}
	return out
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// UUIDs counts accepted events by identity: an Optimizely event's uuid, or a VWO
// event's compact JSON text. A count above 1 is a duplicate delivery.
func (s *Server) UUIDs() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.uuids))
	for k, v := range s.uuids {
		out[k] = v
	}
	return out
}

// Reset forgets recorded requests, counters and pending script steps. The fault
// hook stays; remove it with SetFault(nil).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.stats = Stats{}
	s.uuids = map[string]int{}
	s.script = nil
}
