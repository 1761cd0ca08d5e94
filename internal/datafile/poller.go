// Package datafile keeps a remote configuration file current by polling it, the way the
// Optimizely SDKs' polling config managers do: conditional GETs (If-Modified-Since and
// If-None-Match), updates delivered only when the revision changes, and the last good file
// kept on any failure. Two sources are supported: the Optimizely project datafile (New) and
// the VWO account settings file (NewVWOSettings).
package datafile // import "github.com/experimentationexporter/experimentationexporter/internal/datafile"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
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

	sdkKeyPlaceholder = "<sdk_key>"
	tokenPlaceholder  = "<datafile_access_token>"
)

// source describes what a Poller fetches and how it talks about it.
type source[T any] struct {
	// what names the file in log lines ("Optimizely datafile"); noun in errors ("datafile").
	what, noun string
	// loadedMsg and updatedMsg are the Info lines of the first and of later updates.
	loadedMsg, updatedMsg string
	waitingMsg            string
	// authHint names the config keys to check; hintStatus the statuses it is given for.
	authHint   string
	hintStatus func(status int) bool

	// check reports a configuration that cannot be fetched (logged, returned).
	check func() error
	// url returns the URL of one request; it contains secrets.
	url func() string
	// redactedURL is the URL as logged.
	redactedURL string
	// header adds source-specific request headers (may contain secrets).
	header func(http.Header)

	parse func([]byte) (T, error)
	// contentRevision, when set, derives the revision from the body alone: an unchanged
	// body is recognised before parsing. Otherwise valueRevision reads it from the value.
	contentRevision func(data []byte) string
	valueRevision   func(v T) string
	// loadedFields are logged with loadedMsg.
	loadedFields func(data []byte, v T) []zap.Field

	// secrets are the strings never to log, most specific first, with their placeholders.
	secrets [][2]string
}

// loaded is a delivered value and its revision.
type loaded[T any] struct {
	value    T
	revision string
}

// Poller keeps a remote file current.
type Poller[T any] struct {
	src      source[T]
	interval time.Duration
	client   *http.Client
	logger   *zap.Logger
	onUpdate func(T)

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

func newPoller[T any](src source[T], interval time.Duration, client *http.Client, logger *zap.Logger, onUpdate func(T)) *Poller[T] {
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
		onUpdate = func(T) {}
	}
	if src.hintStatus == nil {
		src.hintStatus = func(int) bool { return false }
	}
	p := &Poller[T]{
		src:      src,
		interval: interval,
		client:   client,
		logger:   logger,
		onUpdate: onUpdate,
		done:     make(chan struct{}),
	}
	p.src.redactedURL = p.redact(src.redactedURL)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// secretList lists each non-empty secret raw, path-escaped and query-escaped, with its
// placeholder, in the order given (give the longer secrets first: should the sdk key be a
// substring of the token, the token is still hidden whole).
func secretList(pairs ...[2]string) [][2]string {
	var out [][2]string
	for _, pr := range pairs {
		s, placeholder := pr[0], pr[1]
		if s == "" {
			continue
		}
		for _, v := range []string{s, url.PathEscape(s), url.QueryEscape(s)} {
			out = append(out, [2]string{v, placeholder})
		}
	}
	return out
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
		p.logger.Debug(p.src.what+" fetch cancelled by shutdown", zap.String("url", p.src.redactedURL))
		return err
	}
	if p.current.Load() == nil && !p.waitingLogged {
		p.waitingLogged = true
		p.logger.Info(p.src.waitingMsg, zap.String("url", p.src.redactedURL))
	}
	return err
}

// fetch does one request; it logs failures itself (with their specific fields) and returns
// an error for them.
func (p *Poller[T]) fetch(ctx context.Context) error {
	what, noun := p.src.what, p.src.noun
	if p.src.check != nil {
		if err := p.src.check(); err != nil {
			p.logger.Warn("cannot fetch the "+what, zap.Error(err))
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.src.url(), nil)
	if err != nil {
		err = fmt.Errorf("invalid %s URL: %w", noun, p.sanitize(err))
		p.logger.Warn("cannot fetch the "+what, zap.String("url", p.src.redactedURL), zap.Error(err))
		return err
	}
	req.Header.Set("Accept", "application/json")
	if p.src.header != nil {
		p.src.header(req.Header)
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
	defer drainClose(resp.Body)

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
		p.logger.Debug(what+" not modified", zap.String("url", p.src.redactedURL))
		return nil
	default:
		snippet := p.errorBody(resp.Body)
		err := fmt.Errorf("%s server answered HTTP %d", noun, resp.StatusCode)
		fields := []zap.Field{zap.Int("status", resp.StatusCode)}
		if snippet != "" {
			fields = append(fields, zap.String("body", snippet))
		}
		msg := what + " request failed; keeping the last good " + noun
		if p.src.authHint != "" && p.src.hintStatus(resp.StatusCode) {
			msg = fmt.Sprintf("%s request refused (HTTP %d); %s; keeping the last good %s",
				what, resp.StatusCode, p.src.authHint, noun)
			err = fmt.Errorf("%w; %s", err, p.src.authHint)
		}
		p.logger.Warn(msg, p.fields(fields...)...)
		return err
	}
}

func (p *Poller[T]) handleOK(resp *http.Response) error {
	what, noun := p.src.what, p.src.noun
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
	if p.src.contentRevision != nil {
		rev = p.src.contentRevision(data)
		if old != nil && old.revision == rev {
			p.remember(resp)
			p.logger.Debug(what+" unchanged", zap.String("revision", rev))
			return nil
		}
	}
	v, err := p.src.parse(data)
	if err != nil {
		err = p.sanitize(err)
		p.logger.Warn(what+" rejected; keeping the last good "+noun,
			p.fields(zap.Int("bytes", len(data)), zap.Error(err))...)
		return err
	}
	p.remember(resp)
	if p.src.contentRevision == nil {
		rev = p.src.valueRevision(v)
	}

	if old != nil && old.revision == rev {
		p.logger.Debug(what+" unchanged", zap.String("revision", rev))
		return nil
	}
	p.current.Store(&loaded[T]{value: v, revision: rev})
	if old == nil {
		fields := []zap.Field{zap.String("revision", rev)}
		if p.src.loadedFields != nil {
			fields = append(fields, p.src.loadedFields(data, v)...)
		}
		p.logger.Info(p.src.loadedMsg, fields...)
	} else {
		p.logger.Info(p.src.updatedMsg,
			zap.String("revision", rev),
			zap.String("previous_revision", old.revision))
	}
	p.onUpdate(v)
	return nil
}

// remember keeps the validators of a good response for the next conditional request.
func (p *Poller[T]) remember(resp *http.Response) {
	p.lastModified = resp.Header.Get("Last-Modified")
	p.etag = resp.Header.Get("ETag")
}

func (p *Poller[T]) fields(extra ...zap.Field) []zap.Field {
	fs := make([]zap.Field, 0, len(extra)+2)
	fs = append(fs, zap.String("url", p.src.redactedURL))
	if cur := p.current.Load(); cur != nil {
		fs = append(fs, zap.String("current_revision", cur.revision))
	}
	return append(fs, extra...)
}

// errorBody reads at most maxErrorBodyBytes of an error response, redacted and trimmed.
func (p *Poller[T]) errorBody(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, maxErrorBodyBytes))
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	return p.redact(s)
}

func (p *Poller[T]) redact(s string) string {
	for _, sec := range p.src.secrets {
		s = strings.ReplaceAll(s, sec[0], sec[1])
	}
	return s
}

// sanitize strips the URL *url.Error carries and, should a secret still show, replaces the
// error by a redacted copy of its message (dropping the chain, which would expose it).
func (p *Poller[T]) sanitize(err error) error {
	if err == nil {
		return nil
	}
	for {
		var ue *url.Error
		if !errors.As(err, &ue) || ue.Err == nil {
			break
		}
		if ue == err {
			err = ue.Err
			continue
		}
		// A *url.Error deeper in the chain: flatten the message.
		msg := strings.ReplaceAll(err.Error(), ue.Error(), ue.Err.Error())
		err = errors.New(msg)
		break
	}
	msg := err.Error()
	if red := p.redact(msg); red != msg {
		return errors.New(red)
	}
	return err
}

func drainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrainBytes))
	_ = body.Close()
}
