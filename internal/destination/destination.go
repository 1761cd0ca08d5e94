// Package destination is the seam between the component shell and the platforms: what a
// platform package (internal/optimizely, internal/vwo) implements, and the few types both
// sides share. The shell registers the platforms in one place (destinations.go).
package destination // import "github.com/experimentationexporter/experimentationexporter/internal/destination"

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"

	"github.com/experimentationexporter/experimentationexporter/internal/dedup"
	"github.com/experimentationexporter/experimentationexporter/internal/privacy"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

// Section is a platform's configuration section: what the shell needs of a platform
// before it runs. Errors name keys under the section's name ("vwo::sdk_key").
type Section interface {
	// ValidateSelected checks the section when its platform is the configured
	// destination. (Not Validate: the collector validates every nested Validator,
	// selected or not.)
	ValidateSelected() error
	// BatchDefaults are batch_size and flush_interval when the user sets neither.
	BatchDefaults() (batchSize int, flushInterval time.Duration)
	// Secrets are the section's values that must never reach a log line.
	Secrets() []string
	// EventsPerRecord is the most events one record may become: it sizes queue items.
	EventsPerRecord() int
	// NewDestination builds the platform's destination; nothing runs until Start.
	NewDestination(Settings) Destination
}

// Settings is what the shell hands a platform's destination.
type Settings struct {
	Telemetry component.TelemetrySettings
	// Endpoint overrides the platform's events URL; "" means the platform's own.
	Endpoint string
	// SourceClient is the client config for fetching the project configuration
	// (datafile, settings file): the events client's TLS, proxy and timeouts without its
	// headers and auth, which are meant for the events API only.
	SourceClient confighttp.ClientConfig
	// Privacy is the privacy gate (nil: visitor data leaves as the app sent it).
	Privacy *privacy.Gate
	// ClientName and ClientVersion identify the exporter in payloads and URLs.
	ClientName, ClientVersion string
	// Exposures remembers the impressions sent, when dedup is on (nil: off).
	Exposures *dedup.Set
}

// Destination is one events API at run time.
type Destination interface {
	// Start loads or starts polling the project configuration.
	Start(ctx context.Context, host component.Host) error
	Shutdown()
	// Current is the revision new events are built with; ok is false until the first
	// project configuration has arrived.
	Current() (rev *Revision, ok bool)
	// WaitReady blocks until Current is ok, ctx ends or stop is closed.
	WaitReady(ctx context.Context, stop <-chan struct{}) error
	// Authorize adds what must never be persisted or logged: keys and tokens.
	Authorize(req *http.Request)
}

// Revision is everything built from one revision of a project configuration.
type Revision struct {
	Context *Context
	// NewBuilder returns the builder of one batch.
	NewBuilder func() Builder
}

// Context is what all events of one request share: a request never mixes destinations,
// endpoints, accounts, projects, configuration revisions or anonymize_ip.
type Context struct {
	// Key identifies the context; two batches merge only when their keys are equal.
	Key string
	// URL is the events URL without secrets; Authorize adds them.
	URL string
	// Prefix and Suffix wrap the comma-separated events into a request body.
	Prefix, Suffix []byte
}

// Builder appends the events of records to a batch. One builder serves one batch, so it
// may keep per-batch state (VWO's custom dimensions already pushed).
type Builder interface {
	Build(dst *Events, f *record.Fields) Result
}

// Result is what became of one record.
type Result struct {
	Events int // events appended; 0 when the record was skipped or dropped
	// Reason says why nothing was appended (internal/reason); Dropped tells a drop from a skip.
	Reason  string
	Dropped bool
	// Resolution says how an impression's rule was found ("" where none is resolved);
	// Guessed, that the record lacked what would have told the rule apart.
	Resolution string
	Guessed    bool
	// Deduplicated: the impression repeated one sent within the dedup window and was left
	// out. NoExposure: a conversion of a visitor with no remembered impression (dedup on).
	Deduplicated, NoExposure bool
}

// StrictClientConfig has confighttp.ClientConfig's fields and none of its methods:
// ClientConfig's Unmarshal ignores unknown keys, so the strict mirrors that name every
// unknown key (config_strict.go) decode client settings into this type.
type StrictClientConfig confighttp.ClientConfig

// MinPollingInterval is the shortest polling interval of a project configuration.
const MinPollingInterval = time.Second

// CheckHTTPURL accepts absolute http and https URLs; the error completes "<key> ".
func CheckHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("must be an absolute http or https URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http or https URL, got %q", s)
	}
	return nil
}
