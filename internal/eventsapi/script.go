package eventsapi

import (
	"context"
	"net/http"
	"time"
)

// Step is one scripted answer. The server sleeps Delay first; then, if Status is
// non-zero, it answers Status with Body (and a Retry-After header when RetryAfter
// is set) without validating, otherwise it validates the request as usual.
type Step struct {
	Status     int
	Delay      time.Duration
	RetryAfter string
	Body       string
}

// Script queues steps; each request to an API path consumes the next one before
// validation. Requests are answered normally once the queue is empty.
func (s *Server) Script(steps ...Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, steps...)
}

// Pending returns how many scripted steps are still queued.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.script)
}

// SetFault installs a hook asked about every request to an API path before the
// script; a non-nil Step it returns is used instead of the next scripted one, which
// then stays queued. nil removes the hook. The hook must be safe for concurrent use.
func (s *Server) SetFault(f func(r *http.Request, body []byte) *Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// nextStep picks the fault hook's step, else the next scripted one, else nil.
func (s *Server) nextStep(r *http.Request, body []byte) *Step {
	s.mu.Lock()
	fault := s.fault
	s.mu.Unlock()
	// The hook runs unlocked so it may call back into the server (e.g. Stats).
	if fault != nil {
		if st := fault(r, body); st != nil {
			return st
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.script) == 0 {
		return nil
	}
	st := s.script[0]
	s.script = s.script[1:]
	return &st
}

// sleep waits d; it reports false if the client left or the server closed first.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closing:
		return false
	}
}
