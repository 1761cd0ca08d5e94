// Package poller keeps a destination's remote project configuration (the Optimizely
// datafile, the VWO settings file) current by polling it, the way the Optimizely SDKs'
// polling config managers do: conditional GETs (If-Modified-Since and If-None-Match),
// updates delivered only when the revision changes, and the last good file kept on any
// failure. Each platform package describes its file as a Source.
package poller // import "github.com/experimentationexporter/experimentationexporter/internal/poller"

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/httpx"
)

const (
	// DefaultInterval is used when the configured interval is not positive (the SDKs' default).
	DefaultInterval = 5 * time.Minute

	maxDatafileBytes  = 10 << 20
	maxErrorBodyBytes = 1 << 10
	maxDrainBytes     = 64 << 10

	firstBackoff    = time.Second
	maxFirstBackoff = 30 * time.Second
	// loopRequestTimeout bounds a polling request when the client has no timeout of its own.
	loopRequestTimeout = time.Minute

	// SDKKeyPlaceholder and TokenPlaceholder stand for secrets in logged URLs and errors.
	SDKKeyPlaceholder = "<sdk_key>"
	TokenPlaceholder  = "<datafile_access_token>"
)

// Source describes what a Poller fetches and how it talks about it.
type Source[T any] struct {
	// What names the file in log lines ("Optimizely datafile"); Noun in errors ("datafile").
	What, Noun string
	// LoadedMsg and UpdatedMsg are the Info lines of the first and of later updates.
	LoadedMsg, UpdatedMsg string
	WaitingMsg            string
	// AuthHint names the config keys to check; HintStatus the statuses it is given for.
	AuthHint   string
	HintStatus func(status int) bool

	// Check reports a configuration that cannot be fetched (logged, returned).
	Check func() error
	// URL returns the URL of one request; it contains secrets.
	URL func() string
	// RedactedURL is the URL as logged.
	RedactedURL string
	// Header adds source-specific request headers (may contain secrets).
	Header func(http.Header)

	Parse func([]byte) (T, error)
	// ContentRevision, when set, derives the revision from the body alone: an unchanged
	// body is recognised before parsing. Otherwise ValueRevision reads it from the value.
	ContentRevision func(data []byte) string
	ValueRevision   func(v T) string
	// LoadedFields are logged with LoadedMsg.
	LoadedFields func(data []byte, v T) []zap.Field

	// Secrets hides the strings never to log.
	Secrets *httpx.Redactor
}

// loaded is a delivered value and its revision.
type loaded[T any] struct {
	value    T
	revision string
}

// OnUpdate receives each new value with its revision (from the poller goroutine, never
// concurrently with itself).
type OnUpdate[T any] func(v T, revision string)

// Poller keeps a remote file current.
type Poller[T any] struct {
	src      Source[T]
	interval time.Duration
	client   *http.Client
	logger   *zap.Logger
	onUpdate OnUpdate[T]

	current atomic.Pointer[loaded[T]]

	// fetchMu serializes fetches and guards the fields below.
	fetchMu       sync.Mutex
	lastModified  string
	etag          string
	waitingLogged bool

	ctx    context.Context
	cancel context.CancelFunc

	lifeMu  sync.Mutex
	started bool
	done    chan struct{}
}

// New builds a poller of src; nothing happens until Start or FetchNow. A non-positive
// interval is DefaultInterval; a nil client has a one-minute timeout.
func New[T any](src Source[T], interval time.Duration, client *http.Client, logger *zap.Logger, onUpdate OnUpdate[T]) *Poller[T] {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if client == nil {
		client = &http.Client{Timeout: loopRequestTimeout}
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	if onUpdate == nil {
		onUpdate = func(T, string) {}
	}
	if src.HintStatus == nil {
		src.HintStatus = func(int) bool { return false }
	}
	if src.Secrets == nil {
		src.Secrets = httpx.NewRedactor()
	}
	p := &Poller[T]{
		src:      src,
		interval: interval,
		client:   client,
		logger:   logger,
		onUpdate: onUpdate,
		done:     make(chan struct{}),
	}
	p.src.RedactedURL = src.Secrets.Redact(src.RedactedURL)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// Current returns the last good value, or the zero value (nil for pointers) while none has
// been loaded.
func (p *Poller[T]) Current() T {
	if cur := p.current.Load(); cur != nil {
		return cur.value
	}
	var zero T
	return zero
}

// Revision returns the revision of the last good value, or "" while none has been loaded.
func (p *Poller[T]) Revision() string {
	if cur := p.current.Load(); cur != nil {
		return cur.revision
	}
	return ""
}

// Start fetches immediately in a background goroutine, then every interval. Until the first
// value is loaded, failed fetches are retried sooner: after 1s, doubling up to
// min(interval, 30s). Calling Start more than once, or after Shutdown, does nothing.
func (p *Poller[T]) Start() {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	if p.started || p.ctx.Err() != nil {
		return
	}
	p.started = true
	go p.run()
}

// Shutdown stops the polling goroutine, cancelling any in-flight request, and waits for it.
// It is safe to call without Start and more than once.
func (p *Poller[T]) Shutdown() {
	p.lifeMu.Lock()
	p.cancel()
	started := p.started
	p.lifeMu.Unlock()
	if started {
		<-p.done
	}
}

func (p *Poller[T]) run() {
	defer close(p.done)
	backoff := firstBackoff
	for {
		ctx, cancel := p.ctx, context.CancelFunc(func() {})
		if p.client.Timeout == 0 {
			ctx, cancel = context.WithTimeout(p.ctx, loopRequestTimeout)
		}
		_ = p.FetchNow(ctx) // failures are logged by FetchNow
		cancel()
		if p.ctx.Err() != nil {
			return
		}
		wait := p.interval
		if p.current.Load() == nil {
			wait = min(backoff, p.interval, maxFirstBackoff)
			if backoff < maxFirstBackoff {
				backoff *= 2
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-p.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// FetchNow fetches once, synchronously. A changed revision is stored and handed to the
// update callback before FetchNow returns; on any failure the last good value is kept, the
// reason is logged and returned. Shutdown cancels a fetch in flight. Errors never contain
// the sdk key or the access token.
func (p *Poller[T]) FetchNow(ctx context.Context) error {
	p.fetchMu.Lock()
	defer p.fetchMu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(p.ctx, cancel)
	defer stop()

	err := p.fetch(ctx)
	if err == nil {
		return nil
	}
	err = p.sanitize(err)
	if ctx.Err() != nil && p.ctx.Err() != nil {
		p.logger.Debug(p.src.What+" fetch cancelled by shutdown", zap.String("url", p.src.RedactedURL))
		return err
	}
	if p.current.Load() == nil && !p.waitingLogged {
		p.waitingLogged = true
		p.logger.Info(p.src.WaitingMsg, zap.String("url", p.src.RedactedURL))
	}
	return err
}

// fetch does one request; it logs failures itself (with their specific fields) and returns
// an error for them.
func (p *Poller[T]) fetch(ctx context.Context) error {
	what, noun := p.src.What, p.src.Noun
	if p.src.Check != nil {
		if err := p.src.Check(); err != nil {
			p.logger.Warn("cannot fetch the "+what, zap.Error(err))
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.src.URL(), nil)
	if err != nil {
		err = fmt.Errorf("invalid %s URL: %w", noun, p.sanitize(err))
		p.logger.Warn("cannot fetch the "+what, zap.String("url", p.src.RedactedURL), zap.Error(err))
		return err
	}
	req.Header.Set("Accept", "application/json")
	if p.src.Header != nil {
		p.src.Header(req.Header)
	}
	if p.lastModified != "" {
		req.Header.Set("If-Modified-Since", p.lastModified)
	}
	if p.etag != "" {
		req.Header.Set("If-None-Match", p.etag)
	}

	resp, err := p.client.Do(req)
	if err != nil {
		err = p.sanitize(err)
		if ctx.Err() == nil || p.ctx.Err() == nil {
			p.logger.Warn(what+" request failed; keeping the last good "+noun,
				p.fields(zap.Error(err))...)
		}
		return fmt.Errorf("%s request failed: %w", noun, err)
	}
	defer httpx.DrainClose(resp.Body, maxDrainBytes)

	switch resp.StatusCode {
	case http.StatusOK:
		return p.handleOK(resp)
	case http.StatusNotModified:
		if p.current.Load() == nil {
			err := fmt.Errorf("%s server answered 304 Not Modified but no %s is loaded", noun, noun)
			p.lastModified, p.etag = "", ""
			p.logger.Warn(what+" not loaded", p.fields(zap.Int("status", resp.StatusCode), zap.Error(err))...)
			return err
		}
		p.logger.Debug(what+" not modified", zap.String("url", p.src.RedactedURL))
		return nil
	default:
		snippet := p.errorBody(resp.Body)
		err := fmt.Errorf("%s server answered HTTP %d", noun, resp.StatusCode)
		fields := []zap.Field{zap.Int("status", resp.StatusCode)}
		if snippet != "" {
			fields = append(fields, zap.String("body", snippet))
		}
		msg := what + " request failed; keeping the last good " + noun
		if p.src.AuthHint != "" && p.src.HintStatus(resp.StatusCode) {
			msg = fmt.Sprintf("%s request refused (HTTP %d); %s; keeping the last good %s",
				what, resp.StatusCode, p.src.AuthHint, noun)
			err = fmt.Errorf("%w; %s", err, p.src.AuthHint)
		}
		p.logger.Warn(msg, p.fields(fields...)...)
		return err
	}
}

func (p *Poller[T]) handleOK(resp *http.Response) error {
	what, noun := p.src.What, p.src.Noun
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDatafileBytes+1))
	if err != nil {
		err = fmt.Errorf("reading %s: %w", noun, p.sanitize(err))
		p.logger.Warn(what+" download failed; keeping the last good "+noun, p.fields(zap.Error(err))...)
		return err
	}
	if len(data) > maxDatafileBytes {
		err := fmt.Errorf("%s exceeds %d bytes", noun, maxDatafileBytes)
		p.logger.Warn(what+" rejected; keeping the last good "+noun, p.fields(zap.Error(err))...)
		return err
	}
	old := p.current.Load()
	var rev string
	if p.src.ContentRevision != nil {
		rev = p.src.ContentRevision(data)
		if old != nil && old.revision == rev {
			p.remember(resp)
			p.logger.Debug(what+" unchanged", zap.String("revision", rev))
			return nil
		}
	}
	v, err := p.src.Parse(data)
	if err != nil {
		err = p.sanitize(err)
		p.logger.Warn(what+" rejected; keeping the last good "+noun,
			p.fields(zap.Int("bytes", len(data)), zap.Error(err))...)
		return err
	}
	p.remember(resp)
	if p.src.ContentRevision == nil {
		rev = p.src.ValueRevision(v)
	}

	if old != nil && old.revision == rev {
		p.logger.Debug(what+" unchanged", zap.String("revision", rev))
		return nil
	}
	p.current.Store(&loaded[T]{value: v, revision: rev})
	if old == nil {
		fields := []zap.Field{zap.String("revision", rev)}
		if p.src.LoadedFields != nil {
			fields = append(fields, p.src.LoadedFields(data, v)...)
		}
		p.logger.Info(p.src.LoadedMsg, fields...)
	} else {
		p.logger.Info(p.src.UpdatedMsg,
			zap.String("revision", rev),
			zap.String("previous_revision", old.revision))
	}
	p.onUpdate(v, rev)
	return nil
}

// remember keeps the validators of a good response for the next conditional request.
func (p *Poller[T]) remember(resp *http.Response) {
	p.lastModified = resp.Header.Get("Last-Modified")
	p.etag = resp.Header.Get("ETag")
}

func (p *Poller[T]) fields(extra ...zap.Field) []zap.Field {
	fs := make([]zap.Field, 0, len(extra)+2)
	fs = append(fs, zap.String("url", p.src.RedactedURL))
	if cur := p.current.Load(); cur != nil {
		fs = append(fs, zap.String("current_revision", cur.revision))
	}
	return append(fs, extra...)
}

// errorBody reads at most maxErrorBodyBytes of an error response, redacted and trimmed.
func (p *Poller[T]) errorBody(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, maxErrorBodyBytes))
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	return p.src.Secrets.Redact(s)
}

// sanitize keeps the URL and secrets out of an error.
func (p *Poller[T]) sanitize(err error) error { return p.src.Secrets.Error(err) }
