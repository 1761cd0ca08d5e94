package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/metadata"
	"github.com/experimentationexporter/experimentationexporter/internal/privacy"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
	"github.com/experimentationexporter/experimentationexporter/internal/spanevent"
)

// clientName and clientVersion identify this exporter in event payloads.
const (
	clientName    = "otel-collector-experimentation-exporter"
	clientVersion = "0.1.0"
)

// maxErrorBody caps how much of a response body is read for logs; the rest is drained
// (up to maxDrain) so the connection can be reused.
const (
	maxErrorBody = 1 << 10
	maxDrain     = 1 << 20
)

// buildFunc appends the events of one record to b.
type buildFunc func(b *eventBatch, f *record.Fields) buildResult

// buildResult is what became of one record.
type buildResult struct {
	events int // events appended; 0 when the record was skipped or dropped
	// reason says why nothing was appended; dropped tells a drop from a skip.
	reason  string
	dropped bool
	// resolution says how an impression's rule was found ("" where no rule is resolved).
	resolution string
}

// destination is one events API: how events are built and how requests are addressed.
type destination interface {
	// start loads or starts polling the project configuration (datafile, settings file).
	start(ctx context.Context, host component.Host) error
	shutdown()
	// current returns the context and builder for new events; ok is false while the
	// destination cannot build events yet (no datafile).
	current() (bctx *batchContext, build buildFunc, ok bool)
	// waitReady blocks until current is ok, ctx ends or the exporter stops.
	waitReady(ctx context.Context, stop <-chan struct{}) error
	// authorize adds what must never be persisted or logged: keys and tokens.
	authorize(req *http.Request)
}

type experimentationExporter struct {
	cfg    *Config
	set    component.TelemetrySettings
	logger *zap.Logger
	reader *record.Reader
	dest   destination
	obs    *telemetryObserver
	tb     *metadata.TelemetryBuilder

	client  *http.Client
	stop    chan struct{}
	stopped sync.Once
	// drain is set when shutdown begins: exporterhelper stops its retry sender first,
	// so push retries by itself until the drain deadline to send what is queued in memory.
	drain       atomic.Pointer[drainState]
	drainLogged sync.Once
	// backingOff holds batches waiting in exporterhelper's retry backoff, with the time
	// by which their next attempt is due; shutdown waits for them (see waitBackoffs).
	backoffMu  sync.Mutex
	backingOff map[*eventBatch]time.Time
	// secrets are removed from every response body that reaches a log line.
	secrets []string
	// payloadCap is the body size learnt from 413 answers (0: none yet).
	payloadCap atomic.Int64
	// meanEventBytes sizes new batches' buffers.
	meanEventBytes atomic.Int64

	// spans reads flag evaluations recorded as span events (traces pipelines).
	spans *spanevent.Reader
	// The exporter is shared by the logs and traces pipelines of one component id
	// (shared.go): users counts them, the first start starts it.
	users    int
	startMu  sync.Mutex
	started  bool
	startErr error
}

func newExporter(cfg *Config, set exporter.Settings) (*experimentationExporter, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	e := &experimentationExporter{
		cfg:     cfg,
		set:     set.TelemetrySettings,
		logger:  set.Logger,
		reader:  record.NewReader(cfg.Mapping),
		secrets: secretValues(cfg),
		spans:   spanevent.NewReader(cfg.Mapping.ImpressionEvent, cfg.Mapping.ConversionEvent, cfg.Mapping.VisitorID),
		obs:     newObserver(tb, set.Logger),
		tb:      tb,
		stop:    make(chan struct{}),

		backingOff: map[*eventBatch]time.Time{},
	}
	e.meanEventBytes.Store(512)
	gate := privacy.New(cfg.Privacy)
	switch cfg.Destination {
	case DestinationVWO:
		e.dest = newVWODestination(cfg, set.TelemetrySettings, gate)
	default:
		e.dest = newOptimizelyDestination(cfg, set.TelemetrySettings, gate)
	}
	return e, nil
}

func (e *experimentationExporter) startOnce(ctx context.Context, host component.Host) error {
	client, err := e.cfg.ToClient(ctx, host.GetExtensions(), e.set)
	if err != nil {
		return fmt.Errorf("building the events HTTP client: %w", err)
	}
	e.client = client
	return e.dest.start(ctx, host)
}

func (e *experimentationExporter) shutdownLast(context.Context) error {
	e.stopped.Do(func() { close(e.stop) })
	e.dest.shutdown()
	if e.client != nil {
		e.client.CloseIdleConnections()
	}
	e.tb.Shutdown()
	return nil
}

// errStatus is a non-2xx answer of the events API.
type errStatus struct {
	code       int
	body       string
	retryAfter time.Duration
}

// throttleDelay returns the Retry-After wait an error carries.
func throttleDelay(err error) (time.Duration, bool) {
	var st *errStatus
	if errors.As(err, &st) && st.retryAfter > 0 {
		return st.retryAfter, true
	}
	return 0, false
}

func (e *errStatus) Error() string {
	if e.body == "" {
		return fmt.Sprintf("events API answered %d", e.code)
	}
	return fmt.Sprintf("events API answered %d: %s", e.code, e.body)
}

type drainState struct{ ctx context.Context }

// beginDrain is called before exporterhelper's shutdown drains the queue. Without a
// deadline from the collector, timeout_interval bounds the drain.
func (e *experimentationExporter) beginDrain(ctx context.Context) (context.Context, context.CancelFunc) {
	cancel := context.CancelFunc(func() {})
	budget := e.cfg.TimeoutInterval
	if deadline, ok := ctx.Deadline(); ok {
		budget = time.Until(deadline)
	} else {
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), budget)
	}
	e.drain.Store(&drainState{ctx: ctx})
	e.drainLogged.Do(func() {
		if q := e.cfg.QueueConfig.Get(); q != nil && q.StorageID != nil {
			e.logger.Info("Shutting down: sending the queued experimentation events. Events not sent in time stay in the persistent queue and are sent after the restart.",
				zap.Duration("timeout_interval", budget), zap.String("storage", q.StorageID.String()))
			return
		}
		e.logger.Info("Shutting down: sending the queued experimentation events. Events not sent in time are lost; set sending_queue::storage to keep them across restarts.",
			zap.Duration("timeout_interval", budget))
	})
	return ctx, cancel
}

// waitBackoffs waits until no batch sits in exporterhelper's retry backoff (or ctx
// ends): the retry sender is stopped first at shutdown and would drop such a batch from
// an in-memory queue. Once drain is set, push retries those batches itself.
func (e *experimentationExporter) waitBackoffs(ctx context.Context) {
	for {
		e.backoffMu.Lock()
		now, waiting := time.Now(), 0
		for b, due := range e.backingOff {
			if now.After(due) {
				delete(e.backingOff, b) // the retry sender gave up on it
				continue
			}
			waiting++
		}
		e.backoffMu.Unlock()
		if waiting == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// push sends a batch and, while shutting down, retries until the drain deadline.
func (e *experimentationExporter) push(ctx context.Context, req xexporterhelper.Request) error {
	if b, ok := req.(*eventBatch); ok {
		e.backoffMu.Lock()
		delete(e.backingOff, b)
		e.backoffMu.Unlock()
	}
	err := e.pushOnce(ctx, req)
	defer func() {
		var pe *partialError
		if errors.As(err, &pe) && !consumererror.IsPermanent(err) {
			due := time.Now().Add(max(e.cfg.RetryConfig.MaxInterval, pe.retryAfter) + time.Second)
			e.backoffMu.Lock()
			e.backingOff[pe.remaining] = due
			e.backoffMu.Unlock()
		}
	}()
	backoff := 100 * time.Millisecond
	for err != nil && !consumererror.IsPermanent(err) {
		d := e.drain.Load()
		if d == nil {
			return err
		}
		wait := backoff
		if t, ok := throttleDelay(err); ok {
			wait = max(wait, t)
		}
		select {
		case <-d.ctx.Done():
			return err
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		backoff = min(2*backoff, 5*time.Second)
		var pe *partialError
		if errors.As(err, &pe) {
			req = pe.remaining
		}
		err = e.pushOnce(ctx, req)
	}
	return err
}

// pushOnce sends a batch in requests that fit max_payload_bytes and handles each answer
// as SPEC §6 says. It returns nil only when every event was accepted or dropped as
// permanently invalid; a retryable error carries the events not yet accepted.
func (e *experimentationExporter) pushOnce(ctx context.Context, req xexporterhelper.Request) error {
	b, ok := req.(*eventBatch)
	if !ok {
		return consumererror.NewPermanent(fmt.Errorf("unexpected request type %T", req))
	}
	if b.bctx.pending() {
		var err error
		if b, err = e.resolvePending(ctx, b); err != nil {
			return err
		}
	}
	if len(b.ends) == 0 {
		return nil
	}
	b.attempt++

	// Work is a stack of event ranges, first range on top; 413 and 400 push halves.
	type span struct{ i, j int }
	var work []span
	b.byteChunks(e.chunkBytes(), func(i, j int) bool {
		work = append(work, span{i, j})
		return true
	})
	for l, r := 0, len(work)-1; l < r; l, r = l+1, r-1 {
		work[l], work[r] = work[r], work[l]
	}
	for len(work) > 0 {
		s := work[len(work)-1]
		work = work[:len(work)-1]
		n := s.j - s.i
		if n == 1 && b.bodySize(s.i, s.j) > e.cfg.MaxPayloadBytes {
			e.obs.dropped(ctx, "event_too_large", 1, "Dropping an event larger than max_payload_bytes.",
				zap.Int("event_bytes", b.bodySize(s.i, s.j)), zap.Int("max_payload_bytes", e.cfg.MaxPayloadBytes))
			continue
		}
		err := e.send(ctx, b, s.i, s.j)
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
						work = append(work, span{s.i + k + 1, s.j})
					}
					if k > 0 {
						work = append(work, span{s.i, s.i + k})
					}
					work = append(work, span{s.i + k, s.i + k + 1})
					continue
				}
				// Halve: a 413 shrinks the body, a 400 isolates the bad event(s).
				if st.code == http.StatusRequestEntityTooLarge {
					e.learnPayloadCap(b.bodySize(s.i, s.j) / 2)
				}
				mid := s.i + n/2
				work = append(work, span{mid, s.j}, span{s.i, mid})
				continue
			}
			reason := "rejected_bad_request"
			if st.code == http.StatusRequestEntityTooLarge {
				reason = "rejected_too_large"
			}
			e.obs.dropped(ctx, reason, 1, "The events API rejected an event; dropping it.",
				zap.Int("status", st.code), zap.String("response", st.body))
			continue
		}
		if consumererror.IsPermanent(err) {
			left := n
			for _, w := range work {
				left += w.j - w.i
			}
			e.obs.dropped(ctx, "rejected_permanent", left, "The events API rejected a request permanently; dropping its events.", zap.Error(err))
			return err
		}
		// Retryable: keep this range and everything after it, in order.
		rest := &eventBatch{bctx: b.bctx}
		rest.appendEvents(b.slice(s.i, s.j))
		for k := len(work) - 1; k >= 0; k-- {
			rest.appendEvents(b.slice(work[k].i, work[k].j))
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
func (e *experimentationExporter) chunkBytes() int {
	if c := int(e.payloadCap.Load()); c > 0 && c < e.cfg.MaxPayloadBytes {
		return c
	}
	return e.cfg.MaxPayloadBytes
}

// learnPayloadCap remembers a body size that the events API should accept, so later
// batches are cut to it at once instead of being bisected again.
func (e *experimentationExporter) learnPayloadCap(size int) {
	size = max(size, minPayloadBytes)
	for {
		cur := e.payloadCap.Load()
		if cur > 0 && cur <= int64(size) {
			return
		}
		if e.payloadCap.CompareAndSwap(cur, int64(size)) {
			e.logger.Info("The events API refused a request as too large (413); later requests are cut smaller.",
				zap.Int("request_bytes", size))
			return
		}
	}
}

// send posts events [i, j) of b once and maps the answer to an error.
func (e *experimentationExporter) send(ctx context.Context, b *eventBatch, i, j int) error {
	// The body is read straight from the batch: no copy. A batch's bytes never change
	// once it is being sent, so the transport may read them even after Do returns.
	size := b.bodySize(i, j)
	newBody := func() (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(bytes.NewReader(b.bctx.prefix), bytes.NewReader(b.events(i, j)), bytes.NewReader(b.bctx.suffix))), nil
	}
	body, _ := newBody()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.bctx.url, body)
	if err != nil {
		return consumererror.NewPermanent(fmt.Errorf("building request: %w", err))
	}
	req.ContentLength = int64(size)
	req.GetBody = newBody
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json") // as the SDKs send it
	e.dest.authorize(req)

	resp, err := e.client.Do(req)
	if err != nil {
		e.obs.request(ctx, "network", size, j-i)
		e.logDispatch(b, j-i, size, 0)
		return fmt.Errorf("sending %d events: %w", j-i, redactURLError(err))
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		_ = resp.Body.Close()
	}()
	e.obs.request(ctx, statusClass(resp.StatusCode), size, j-i)
	e.logDispatch(b, j-i, size, resp.StatusCode)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	// The status is an error: keep the body's first KiB for the log line.
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	st := &errStatus{code: resp.StatusCode, body: e.redact(string(bytes.TrimSpace(msg)))}
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
		return st // push splits these
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

// redact removes configured secrets from text that came from the network: an API
// may echo a key back in an error body, and that body reaches logs.
func (e *experimentationExporter) redact(s string) string {
	for _, secret := range e.secrets {
		s = strings.ReplaceAll(s, secret, "<redacted>")
	}
	return s
}

// secretValues lists what must never reach a log line: the keys and token, every
// configured header value (an Authorization or API-key header for a proxy) and the
// proxy URL's password. Longer values first, so one that contains another is hidden whole.
func secretValues(cfg *Config) []string {
	var out []string
	add := func(v string) {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, v := range []configopaque.String{cfg.Optimizely.SDKKey, cfg.Optimizely.DatafileAccessToken, cfg.VWO.SDKKey} {
		add(string(v))
	}
	for _, v := range cfg.Headers.Iter {
		add(string(v))
	}
	if u, err := url.Parse(cfg.ProxyURL); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			add(pw)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// logDispatch is the collector's LOG_EVENT notification: one debug line per request.
func (e *experimentationExporter) logDispatch(b *eventBatch, events, bytes, status int) {
	if ce := e.logger.Check(zap.DebugLevel, "Dispatched events request."); ce != nil {
		ce.Write(zap.String("verb", http.MethodPost), zap.String("url", b.bctx.url),
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
