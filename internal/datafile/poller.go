// Package datafile keeps an Optimizely project datafile current by polling the CDN, the way
// the Optimizely SDKs' polling config managers do: conditional GETs with If-Modified-Since,
// updates delivered only when the revision changes, and the last good datafile kept on any
// failure.
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

	"go.opentelemetry.io/collector/config/configopaque"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/optimizely"
)

const (
	// DefaultURLTemplate serves public datafiles.
	DefaultURLTemplate = "https://cdn.optimizely.com/datafiles/%s.json"
	// AuthURLTemplate serves authenticated datafiles (requires an access token).
	AuthURLTemplate = "https://config.optimizely.com/datafiles/auth/%s.json"

	// DefaultInterval is used when Config.Interval is not positive (the SDKs' default).
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

	waitingMessage = "waiting for the first Optimizely datafile; records are kept in the sending queue until it arrives"
	authHint       = "check optimizely::sdk_key and optimizely::datafile_access_token"
)

// Config configures a Poller.
type Config struct {
	SDKKey      configopaque.String // required
	AccessToken configopaque.String // optional: authenticated datafile
	// URL optionally overrides the URL template; it may contain "%s" for the sdk key, else it
	// is used as is.
	URL      string
	Interval time.Duration // polling interval (caller validates >= 1s)
	Client   *http.Client  // built by the caller from confighttp
	Logger   *zap.Logger
}

// OnUpdate is called (from the poller goroutine, never concurrently with itself) with each
// datafile whose revision differs from the last one delivered.
type OnUpdate func(df *optimizely.Datafile)

// Poller keeps a datafile current.
type Poller struct {
	cfg      Config
	url      string
	redacted string
	client   *http.Client
	logger   *zap.Logger
	onUpdate OnUpdate

	current atomic.Pointer[optimizely.Datafile]

	// fetchMu serializes fetches and guards the fields below.
	fetchMu       sync.Mutex
	lastModified  string
	waitingLogged bool

	ctx    context.Context
	cancel context.CancelFunc

	lifeMu  sync.Mutex
	started bool
	done    chan struct{}
}

// URLFor resolves the datafile URL of cfg. The result contains the sdk key: never log it.
func URLFor(cfg Config) string {
	return expand(cfg, string(cfg.SDKKey))
}

func expand(cfg Config, key string) string {
	tmpl := cfg.URL
	if tmpl == "" {
		tmpl = DefaultURLTemplate
		if cfg.AccessToken != "" {
			tmpl = AuthURLTemplate
		}
	}
	if !strings.Contains(tmpl, "%s") {
		return tmpl
	}
	return strings.ReplaceAll(tmpl, "%s", key)
}

// New builds a poller; nothing happens until Start or FetchNow.
func New(cfg Config, onUpdate OnUpdate) *Poller {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Timeout: loopRequestTimeout}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	if onUpdate == nil {
		onUpdate = func(*optimizely.Datafile) {}
	}
	p := &Poller{
		cfg:      cfg,
		url:      URLFor(cfg),
		client:   client,
		logger:   logger,
		onUpdate: onUpdate,
		done:     make(chan struct{}),
	}
	p.redacted = p.redact(expand(cfg, sdkKeyPlaceholder))
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// Current returns the last good datafile, or nil while none has been loaded.
func (p *Poller) Current() *optimizely.Datafile {
	return p.current.Load()
}

// Start fetches the datafile immediately in a background goroutine, then every Interval.
// Until the first datafile is loaded, failed fetches are retried sooner: after 1s, doubling
// up to min(Interval, 30s). Calling Start more than once, or after Shutdown, does nothing.
func (p *Poller) Start() {
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
func (p *Poller) Shutdown() {
	p.lifeMu.Lock()
	p.cancel()
	started := p.started
	p.lifeMu.Unlock()
	if started {
		<-p.done
	}
}

func (p *Poller) run() {
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
		wait := p.cfg.Interval
		if p.Current() == nil {
			wait = min(backoff, p.cfg.Interval, maxFirstBackoff)
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

// FetchNow fetches the datafile once, synchronously. A changed revision is stored and handed
// to OnUpdate before FetchNow returns; on any failure the last good datafile is kept, the
// reason is logged and returned. Shutdown cancels a fetch in flight. Errors never contain
// the sdk key or the access token.
func (p *Poller) FetchNow(ctx context.Context) error {
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
		p.logger.Debug("Optimizely datafile fetch cancelled by shutdown", zap.String("url", p.redacted))
		return err
	}
	if p.current.Load() == nil && !p.waitingLogged {
		p.waitingLogged = true
		p.logger.Info(waitingMessage, zap.String("url", p.redacted))
	}
	return err
}

// fetch does one request; it logs failures itself (with their specific fields) and returns
// an error for them.
func (p *Poller) fetch(ctx context.Context) error {
	if p.cfg.SDKKey == "" && strings.Contains(p.expandTemplate(), "%s") {
		err := errors.New("optimizely::sdk_key is empty")
		p.logger.Warn("cannot fetch the Optimizely datafile", zap.Error(err))
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		err = fmt.Errorf("invalid datafile URL: %w", p.sanitize(err))
		p.logger.Warn("cannot fetch the Optimizely datafile", zap.String("url", p.redacted), zap.Error(err))
		return err
	}
	req.Header.Set("Accept", "application/json")
	if p.cfg.AccessToken != "" {
		req.Header.Set("Authorization", "Bearer "+string(p.cfg.AccessToken))
	}
	if p.lastModified != "" {
		req.Header.Set("If-Modified-Since", p.lastModified)
	}

	resp, err := p.client.Do(req)
	if err != nil {
		err = p.sanitize(err)
		if ctx.Err() == nil || p.ctx.Err() == nil {
			p.logger.Warn("Optimizely datafile request failed; keeping the last good datafile",
				p.fields(zap.Error(err))...)
		}
		return fmt.Errorf("datafile request failed: %w", err)
	}
	defer drainClose(resp.Body)

	switch resp.StatusCode {
	case http.StatusOK:
		return p.handleOK(resp)
	case http.StatusNotModified:
		if p.current.Load() == nil {
			err := errors.New("datafile server answered 304 Not Modified but no datafile is loaded")
			p.lastModified = ""
			p.logger.Warn("Optimizely datafile not loaded", p.fields(zap.Int("status", resp.StatusCode), zap.Error(err))...)
			return err
		}
		p.logger.Debug("Optimizely datafile not modified", zap.String("url", p.redacted))
		return nil
	default:
		snippet := p.errorBody(resp.Body)
		err := fmt.Errorf("datafile server answered HTTP %d", resp.StatusCode)
		fields := []zap.Field{zap.Int("status", resp.StatusCode)}
		if snippet != "" {
			fields = append(fields, zap.String("body", snippet))
		}
		msg := "Optimizely datafile request failed; keeping the last good datafile"
		if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
			msg = fmt.Sprintf("Optimizely datafile request refused (HTTP %d); %s; keeping the last good datafile",
				resp.StatusCode, authHint)
			err = fmt.Errorf("%w; %s", err, authHint)
		}
		p.logger.Warn(msg, p.fields(fields...)...)
		return err
	}
}

func (p *Poller) handleOK(resp *http.Response) error {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDatafileBytes+1))
	if err != nil {
		err = fmt.Errorf("reading datafile: %w", p.sanitize(err))
		p.logger.Warn("Optimizely datafile download failed; keeping the last good datafile", p.fields(zap.Error(err))...)
		return err
	}
	if len(data) > maxDatafileBytes {
		err := fmt.Errorf("datafile exceeds %d bytes", maxDatafileBytes)
		p.logger.Warn("Optimizely datafile rejected; keeping the last good datafile", p.fields(zap.Error(err))...)
		return err
	}
	df, err := optimizely.Parse(data)
	if err != nil {
		err = p.sanitize(err)
		p.logger.Warn("Optimizely datafile rejected; keeping the last good datafile",
			p.fields(zap.Int("bytes", len(data)), zap.Error(err))...)
		return err
	}
	p.lastModified = resp.Header.Get("Last-Modified")

	old := p.current.Load()
	if old != nil && old.Revision == df.Revision {
		p.logger.Debug("Optimizely datafile unchanged", zap.String("revision", df.Revision))
		return nil
	}
	p.current.Store(df)
	if old == nil {
		p.logger.Info("datafile loaded",
			zap.String("revision", df.Revision),
			zap.String("project_id", df.ProjectID),
			zap.String("version", df.Version))
	} else {
		p.logger.Info("datafile updated",
			zap.String("revision", df.Revision),
			zap.String("previous_revision", old.Revision))
	}
	p.onUpdate(df)
	return nil
}

func (p *Poller) fields(extra ...zap.Field) []zap.Field {
	fs := make([]zap.Field, 0, len(extra)+2)
	fs = append(fs, zap.String("url", p.redacted))
	if cur := p.current.Load(); cur != nil {
		fs = append(fs, zap.String("current_revision", cur.Revision))
	}
	return append(fs, extra...)
}

func (p *Poller) expandTemplate() string {
	if p.cfg.URL != "" {
		return p.cfg.URL
	}
	return DefaultURLTemplate
}

// errorBody reads at most maxErrorBodyBytes of an error response, redacted and trimmed.
func (p *Poller) errorBody(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, maxErrorBodyBytes))
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	return p.redact(s)
}

// secrets lists the strings that must never reach a log line or an error: the sdk key and
// the token, raw and escaped.
func (p *Poller) secrets() [][2]string {
	var out [][2]string
	add := func(s, placeholder string) {
		if s == "" {
			return
		}
		for _, v := range []string{s, url.PathEscape(s), url.QueryEscape(s)} {
			out = append(out, [2]string{v, placeholder})
		}
	}
	// The token first: should the key be a substring of it, the token is still hidden whole.
	add(string(p.cfg.AccessToken), tokenPlaceholder)
	add(string(p.cfg.SDKKey), sdkKeyPlaceholder)
	return out
}

func (p *Poller) redact(s string) string {
	for _, sec := range p.secrets() {
		s = strings.ReplaceAll(s, sec[0], sec[1])
	}
	return s
}

// sanitize strips the URL *url.Error carries and, should a secret still show, replaces the
// error by a redacted copy of its message (dropping the chain, which would expose it).
func (p *Poller) sanitize(err error) error {
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
