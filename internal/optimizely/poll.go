package optimizely

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/httpx"
	"github.com/experimentationexporter/experimentationexporter/internal/poller"
)

const (
	// DefaultURLTemplate serves public datafiles.
	DefaultURLTemplate = "https://cdn.optimizely.com/datafiles/%s.json"
	// AuthURLTemplate serves authenticated datafiles (requires an access token).
	AuthURLTemplate = "https://config.optimizely.com/datafiles/auth/%s.json"

	waitingMessage = "waiting for the first Optimizely datafile; records are kept in the sending queue until it arrives"
	authHint       = "check optimizely::sdk_key and optimizely::datafile_access_token"
)

// PollConfig configures the Optimizely datafile poller.
type PollConfig struct {
	SDKKey      configopaque.String // required
	AccessToken configopaque.String // optional: authenticated datafile
	// URL optionally overrides the URL template; it may contain "%s" for the sdk key, else it
	// is used as is.
	URL      string
	Interval time.Duration // polling interval (caller validates >= 1s)
	Client   *http.Client  // built by the caller from confighttp
	Logger   *zap.Logger
}

// URLFor resolves the datafile URL of cfg. The result contains the sdk key: never log it.
func URLFor(cfg PollConfig) string {
	return expand(cfg, string(cfg.SDKKey))
}

func expand(cfg PollConfig, key string) string {
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

// NewPoller builds a poller of the Optimizely datafile of cfg.SDKKey; nothing happens
// until Start or FetchNow. The revision is the datafile's "revision".
func NewPoller(cfg PollConfig, onUpdate poller.OnUpdate[*Datafile]) *poller.Poller[*Datafile] {
	url := URLFor(cfg)
	src := poller.Source[*Datafile]{
		What:       "Optimizely datafile",
		Noun:       "datafile",
		LoadedMsg:  "datafile loaded",
		UpdatedMsg: "datafile updated",
		WaitingMsg: waitingMessage,
		AuthHint:   authHint,
		HintStatus: func(status int) bool {
			return status == http.StatusForbidden || status == http.StatusUnauthorized
		},
		Check: func() error {
			tmpl := cfg.URL
			if tmpl == "" {
				tmpl = DefaultURLTemplate
			}
			if cfg.SDKKey == "" && strings.Contains(tmpl, "%s") {
				return errors.New("optimizely::sdk_key is empty")
			}
			return nil
		},
		URL:         func() string { return url },
		RedactedURL: expand(cfg, poller.SDKKeyPlaceholder),
		Header: func(h http.Header) {
			if cfg.AccessToken != "" {
				h.Set("Authorization", "Bearer "+string(cfg.AccessToken))
			}
		},
		Parse:         Parse,
		ValueRevision: func(df *Datafile) string { return df.Revision },
		LoadedFields: func(_ []byte, df *Datafile) []zap.Field {
			return []zap.Field{zap.String("project_id", df.ProjectID), zap.String("version", df.Version)}
		},
		// The token first: should the key be a substring of it, the token is still hidden whole.
		Secrets: httpx.NewRedactor(
			[2]string{string(cfg.AccessToken), poller.TokenPlaceholder},
			[2]string{string(cfg.SDKKey), poller.SDKKeyPlaceholder},
		),
	}
	return poller.New(src, cfg.Interval, cfg.Client, cfg.Logger, onUpdate)
}
