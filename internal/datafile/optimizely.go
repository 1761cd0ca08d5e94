package datafile

import (
	"errors"
	"net/http"
	"strings"
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

	waitingMessage = "waiting for the first Optimizely datafile; records are kept in the sending queue until it arrives"
	authHint       = "check optimizely::sdk_key and optimizely::datafile_access_token"
)

// Config configures the Optimizely datafile poller.
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

// DatafilePoller keeps an Optimizely datafile current.
type DatafilePoller = Poller[*optimizely.Datafile]

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

// New builds a poller of the Optimizely datafile of cfg.SDKKey; nothing happens until
// Start or FetchNow. The revision is the datafile's "revision".
func New(cfg Config, onUpdate OnUpdate) *DatafilePoller {
	url := URLFor(cfg)
	src := source[*optimizely.Datafile]{
		what:       "Optimizely datafile",
		noun:       "datafile",
		loadedMsg:  "datafile loaded",
		updatedMsg: "datafile updated",
		waitingMsg: waitingMessage,
		authHint:   authHint,
		hintStatus: func(status int) bool {
			return status == http.StatusForbidden || status == http.StatusUnauthorized
		},
		check: func() error {
			tmpl := cfg.URL
			if tmpl == "" {
				tmpl = DefaultURLTemplate
			}
			if cfg.SDKKey == "" && strings.Contains(tmpl, "%s") {
				return errors.New("optimizely::sdk_key is empty")
			}
			return nil
		},
		url:         func() string { return url },
		redactedURL: expand(cfg, sdkKeyPlaceholder),
		header: func(h http.Header) {
			if cfg.AccessToken != "" {
				h.Set("Authorization", "Bearer "+string(cfg.AccessToken))
			}
		},
		parse:         optimizely.Parse,
		valueRevision: func(df *optimizely.Datafile) string { return df.Revision },
		loadedFields: func(_ []byte, df *optimizely.Datafile) []zap.Field {
			return []zap.Field{zap.String("project_id", df.ProjectID), zap.String("version", df.Version)}
		},
		// The token first: should the key be a substring of it, the token is still hidden whole.
		secrets: secretList(
			[2]string{string(cfg.AccessToken), tokenPlaceholder},
			[2]string{string(cfg.SDKKey), sdkKeyPlaceholder},
		),
	}
	return newPoller(src, cfg.Interval, cfg.Client, cfg.Logger, (func(*optimizely.Datafile))(onUpdate))
}
