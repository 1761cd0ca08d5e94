package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/httpx"
	"github.com/experimentationexporter/experimentationexporter/internal/reason"
)

// maxErrorBody caps how much of a response body is read for logs; the rest is drained
// (up to maxDrain) so the connection can be reused.
const (
	maxErrorBody = 1 << 10
	maxDrain     = 1 << 20
)

// sender posts batches to the events API: requests cut to max_payload_bytes (or the
// size a 413 taught), answers mapped as SPEC §6 says, 400 and 413 split to isolate what
// the API refuses, secrets kept out of what reaches a log line.
type sender struct {
	client          *http.Client // built in Start
	maxPayloadBytes int
	logger          *zap.Logger
	obs             *telemetryObserver
	authorize       func(*http.Request)
	secrets         *httpx.Redactor
	// payloadCap is the body size learnt from 413 answers (0: none yet).
	payloadCap atomic.Int64
}

func newSender(cfg *Config, logger *zap.Logger, obs *telemetryObserver, authorize func(*http.Request), secrets *httpx.Redactor) *sender {
	return &sender{maxPayloadBytes: cfg.MaxPayloadBytes, logger: logger, obs: obs, authorize: authorize, secrets: secrets}
}

func (s *sender) close() {
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
}

// errStatus is a non-2xx answer of the events API.
type errStatus struct {
	code       int
	body       string
	retryAfter time.Duration
}

func (e *errStatus) Error() string {
	if e.body == "" {
		return fmt.Sprintf("events API answered %d", e.code)
	}
	return fmt.Sprintf("events API answered %d: %s", e.code, e.body)
}

// throttleDelay returns the Retry-After wait an error carries.
func throttleDelay(err error) (time.Duration, bool) {
	var st *errStatus
	if errors.As(err, &st) && st.retryAfter > 0 {
		return st.retryAfter, true
	}
	return 0, false
}

// send sends a batch in requests that fit the payload cap and handles each answer. It
// returns nil only when every event was accepted or dropped as permanently invalid; a
// retryable error is a *partialError carrying the events not yet accepted.
func (s *sender) send(ctx context.Context, b *eventBatch) error {
	if b.Len() == 0 {
		return nil
	}
	b.attempt++

	// Work is a stack of event ranges, first range on top; 413 and 400 push halves.
	type span struct{ i, j int }
	var work []span
	b.byteChunks(s.chunkBytes(), func(i, j int) bool {
		work = append(work, span{i, j})
		return true
	})
	for l, r := 0, len(work)-1; l < r; l, r = l+1, r-1 {
		work[l], work[r] = work[r], work[l]
	}
	for len(work) > 0 {
		sp := work[len(work)-1]
		work = work[:len(work)-1]
		n := sp.j - sp.i
		if n == 1 && b.bodySize(sp.i, sp.j) > s.maxPayloadBytes {
			s.obs.dropped(ctx, reason.EventTooLarge, 1, "Dropping an event larger than max_payload_bytes.",
				zap.Int("event_bytes", b.bodySize(sp.i, sp.j)), zap.Int("max_payload_bytes", s.maxPayloadBytes))
			continue
		}
		err := s.post(ctx, b, sp.i, sp.j)
		if err == nil {
			continue
		}
		var st *errStatus
		if errors.As(err, &st) && (st.code == http.StatusRequestEntityTooLarge || st.code == http.StatusBadRequest) {
			if n > 1 {
				// A 400 that names the bad event (the replica's and the APIs' error
				// paths: visitors[i], ev[i]): try that event alone first, then the rest,
				// instead of bisecting. A wrong hint costs one request; the rest is
				// bisected as usual if it fails again.
				if k, ok := badEventIndex(st); ok && k < n {
					if k+1 < n {
						work = append(work, span{sp.i + k + 1, sp.j})
					}
					if k > 0 {
						work = append(work, span{sp.i, sp.i + k})
					}
					work = append(work, span{sp.i + k, sp.i + k + 1})
					continue
				}
				// Halve: a 413 shrinks the body, a 400 isolates the bad event(s).
				if st.code == http.StatusRequestEntityTooLarge {
					s.learnPayloadCap(b.bodySize(sp.i, sp.j) / 2)
				}
				mid := sp.i + n/2
				work = append(work, span{mid, sp.j}, span{sp.i, mid})
				continue
			}
			why := reason.RejectedBadRequest
			if st.code == http.StatusRequestEntityTooLarge {
				why = reason.RejectedTooLarge
			}
			s.obs.dropped(ctx, why, 1, "The events API rejected an event; dropping it.",
				zap.Int("status", st.code), zap.String("response", st.body))
			continue
		}
		if consumererror.IsPermanent(err) {
			left := n
			for _, w := range work {
				left += w.j - w.i
			}
			s.obs.dropped(ctx, reason.RejectedPermanent, left, "The events API rejected a request permanently; dropping its events.", zap.Error(err))
			return err
		}
		// Retryable: keep this range and everything after it, in order.
		rest := &eventBatch{bctx: b.bctx}
		rest.Append(&b.slice(sp.i, sp.j).Events)
		for k := len(work) - 1; k >= 0; k-- {
			rest.Append(&b.slice(work[k].i, work[k].j).Events)
		}
		pe := &partialError{err: err, remaining: rest}
		pe.retryAfter, _ = throttleDelay(err)
		return pe
	}
	return nil
}

// badEventIndexRE finds the index of the event a 400 body names: visitors[i] in an
// Optimizely EventBatch, ev[i] in a VWO batch.
var badEventIndexRE = regexp.MustCompile(`\b(?:visitors|ev)\[(\d{1,6})\]`)

func badEventIndex(st *errStatus) (int, bool) {
	if st.code != http.StatusBadRequest {
		return 0, false
	}
	m := badEventIndexRE.FindStringSubmatch(st.body)
	if m == nil {
		return 0, false
	}
	k, err := strconv.Atoi(m[1])
	return k, err == nil
}

// chunkBytes is the body size batches are cut to: max_payload_bytes, or less once the
// events API answered 413 to a smaller body (a proxy's limit, say).
func (s *sender) chunkBytes() int {
	if c := int(s.payloadCap.Load()); c > 0 && c < s.maxPayloadBytes {
		return c
	}
	return s.maxPayloadBytes
}

// learnPayloadCap remembers a body size that the events API should accept, so later
// batches are cut to it at once instead of being bisected again.
func (s *sender) learnPayloadCap(size int) {
	size = max(size, minPayloadBytes)
	for {
		cur := s.payloadCap.Load()
		if cur > 0 && cur <= int64(size) {
			return
		}
		if s.payloadCap.CompareAndSwap(cur, int64(size)) {
			s.logger.Info("The events API refused a request as too large (413); later requests are cut smaller.",
				zap.Int("request_bytes", size))
			return
		}
	}
}

// post sends events [i, j) of b once and maps the answer to an error.
func (s *sender) post(ctx context.Context, b *eventBatch, i, j int) error {
	// The body is read straight from the batch: no copy. A batch's bytes never change
	// once it is being sent, so the transport may read them even after Do returns.
	size := b.bodySize(i, j)
	newBody := func() (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(bytes.NewReader(b.bctx.Prefix), bytes.NewReader(b.Range(i, j)), bytes.NewReader(b.bctx.Suffix))), nil
	}
	body, _ := newBody()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.bctx.URL, body)
	if err != nil {
		return consumererror.NewPermanent(fmt.Errorf("building request: %w", err))
	}
	req.ContentLength = int64(size)
	req.GetBody = newBody
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json") // as the SDKs send it
	s.authorize(req)

	resp, err := s.client.Do(req)
	if err != nil {
		s.obs.request(ctx, "network", size, j-i)
		s.logDispatch(b, j-i, size, 0)
		return fmt.Errorf("sending %d events: %w", j-i, s.secrets.Error(err))
	}
	defer httpx.DrainClose(resp.Body, maxDrain)
	s.obs.request(ctx, statusClass(resp.StatusCode), size, j-i)
	s.logDispatch(b, j-i, size, resp.StatusCode)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	// The status is an error: keep the body's first KiB for the log line.
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	st := &errStatus{code: resp.StatusCode, body: s.secrets.Redact(string(bytes.TrimSpace(msg)))}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			st.retryAfter = d
			return exporterhelper.NewThrottleRetry(st, d)
		}
		return st
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return st
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge:
		return st // send splits these
	default:
		return consumererror.NewPermanent(st)
	}
}

func statusClass(code int) string {
	switch code / 100 {
	case 1:
		return "1xx"
	case 2:
		return "2xx"
	case 3:
		return "3xx"
	case 4:
		return "4xx"
	default:
		return "5xx"
	}
}

// logDispatch is the collector's LOG_EVENT notification: one debug line per request.
func (s *sender) logDispatch(b *eventBatch, events, bytes, status int) {
	if ce := s.logger.Check(zap.DebugLevel, "Dispatched events request."); ce != nil {
		ce.Write(zap.String("verb", http.MethodPost), zap.String("url", b.bctx.URL),
			zap.Int("events", events), zap.Int("bytes", bytes), zap.Int("status", status), zap.Int("attempt", b.attempt))
	}
}

// parseRetryAfter reads a Retry-After header in seconds or as an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
