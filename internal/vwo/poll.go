package vwo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/httpx"
	"github.com/experimentationexporter/experimentationexporter/internal/poller"
)

const (
	// Host serves VWO settings files.
	Host = "https://dev.visualwebsiteoptimizer.com"
	// SettingsPath is the settings endpoint, after the host and the collection prefix.
	SettingsPath = "/server-side/settings"

	waitingMessage = "waiting for the first VWO settings file; records are kept in the sending queue until it arrives"
	authHint       = "check vwo::account_id and vwo::sdk_key"

	randomPlaceholder = "<random>"
)

// PollConfig configures the VWO settings file poller.
type PollConfig struct {
	AccountID int64               // required
	SDKKey    configopaque.String // required; sent as the query parameter i
	// CollectionPrefix, when set, goes after the host:
	// https://dev.visualwebsiteoptimizer.com/<prefix>/server-side/settings.
	CollectionPrefix string
	// URL optionally overrides the settings URL (without query; CollectionPrefix is then
	// ignored). The query is appended to it.
	URL        string
	Interval   time.Duration // polling interval (caller validates >= 1s)
	Client     *http.Client
	Logger     *zap.Logger
	SDKName    string // the sdk query parameter
	SDKVersion string // the sdk-v query parameter
}

// SettingsURL is the settings URL (without query) for a collection prefix.
func SettingsURL(collectionPrefix string) string {
	u := Host
	if collectionPrefix != "" {
		u += "/" + url.PathEscape(collectionPrefix)
	}
	return u + SettingsPath
}

// pollURL builds the settings URL the way the VWO Go SDK does (FetchSettingsFile):
// ?a=<account>&i=<sdk key>&r=<random>&platform=server&sdk=<name>&sdk-v=<version>&api-version=1.
func pollURL(cfg PollConfig, key, random string) string {
	base := cfg.URL
	if base == "" {
		base = SettingsURL(cfg.CollectionPrefix)
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep +
		"a=" + strconv.FormatInt(cfg.AccountID, 10) +
		"&i=" + key +
		"&r=" + random +
		"&platform=server" +
		"&sdk=" + url.QueryEscape(cfg.SDKName) +
		"&sdk-v=" + url.QueryEscape(cfg.SDKVersion) +
		"&api-version=1"
}

// SettingsRevision is the revision of a settings file: the SHA-256 of its body, in hex
// (settings files carry no revision of their own).
func SettingsRevision(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// NewSettingsPoller builds a poller of the VWO settings file of cfg.AccountID; nothing
// happens until Start or FetchNow. parse turns the JSON body into a T (nil: json.Unmarshal
// into a T); the slice it gets is its own and may be kept (e.g. in T, to hand the raw
// settings on). onUpdate is called (from the poller goroutine, never concurrently with
// itself) with each settings file whose body differs from the last one delivered; an
// unchanged body is not parsed again.
func NewSettingsPoller[T any](cfg PollConfig, parse func([]byte) (T, error), onUpdate poller.OnUpdate[T]) *poller.Poller[T] {
	if parse == nil {
		parse = func(data []byte) (T, error) {
			var v T
			err := json.Unmarshal(data, &v)
			return v, err
		}
	}
	key := url.QueryEscape(string(cfg.SDKKey))
	src := poller.Source[T]{
		What:       "VWO settings file",
		Noun:       "settings file",
		LoadedMsg:  "VWO settings file loaded",
		UpdatedMsg: "VWO settings file updated",
		WaitingMsg: waitingMessage,
		AuthHint:   authHint,
		HintStatus: func(status int) bool {
			return status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound
		},
		Check: func() error {
			var errs []error
			if cfg.AccountID <= 0 {
				errs = append(errs, errors.New("vwo::account_id is not set"))
			}
			if cfg.SDKKey == "" {
				errs = append(errs, errors.New("vwo::sdk_key is empty"))
			}
			return errors.Join(errs...)
		},
		URL: func() string {
			return pollURL(cfg, key, strconv.FormatFloat(rand.Float64(), 'f', -1, 64))
		},
		RedactedURL:     pollURL(cfg, poller.SDKKeyPlaceholder, randomPlaceholder),
		Parse:           parse,
		ContentRevision: SettingsRevision,
		LoadedFields: func(data []byte, _ T) []zap.Field {
			return []zap.Field{zap.Int64("account_id", cfg.AccountID), zap.Int("bytes", len(data))}
		},
		Secrets: httpx.NewRedactor([2]string{string(cfg.SDKKey), poller.SDKKeyPlaceholder}),
	}
	return poller.New(src, cfg.Interval, cfg.Client, cfg.Logger, onUpdate)
}
