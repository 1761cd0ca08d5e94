package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"net/http"

	"go.opentelemetry.io/collector/component"

	"github.com/experimentationexporter/experimentationexporter/internal/record"
	"github.com/experimentationexporter/experimentationexporter/internal/vwo"
)

// vwoDestination builds VWO batch-events requests. It needs no datafile: ids come
// from the records, so it is ready at once.
type vwoDestination struct {
	cfg   *Config
	bctx  *batchContext
	build buildFunc
}

func newVWODestination(cfg *Config) *vwoDestination {
	url := cfg.Endpoint
	if url == "" {
		url = vwo.EventsURL(cfg.VWO.CollectionPrefix)
	}
	// The sdk key (env) is added at send time: it must not be persisted with the batch.
	url += "?" + vwo.Query(cfg.VWO.AccountID, clientName, clientVersion)
	builder := vwo.NewBuilder(cfg.VWO.AccountID, cfg.VWO.PushCustomDimensions)
	d := &vwoDestination{
		cfg: cfg,
		bctx: &batchContext{
			key:    "vwo\x00" + url,
			url:    url,
			prefix: []byte(vwo.BodyPrefix),
			suffix: []byte(vwo.BodySuffix),
		},
	}
	d.build = func(b *eventBatch, f *record.Fields) buildResult {
		start := len(b.data)
		data, ends, verdict, reason := builder.Append(b.data, nil, f)
		if verdict != record.Built {
			return buildResult{reason: reason, dropped: verdict == record.Dropped}
		}
		if len(ends) == 1 {
			b.data = data
			b.endEvent()
			return buildResult{events: 1}
		}
		// Several events (custom dimensions): lay them out comma-terminated.
		events := append([]byte(nil), data[start:]...)
		b.data = data[:start]
		prev := start
		for _, end := range ends {
			b.data = append(b.data, events[prev-start:end-start]...)
			b.endEvent()
			prev = end
		}
		return buildResult{events: len(ends)}
	}
	return d
}

func (*vwoDestination) start(context.Context, component.Host, *http.Client) error { return nil }
func (*vwoDestination) shutdown()                                                 {}

func (d *vwoDestination) current() (*batchContext, buildFunc, bool) { return d.bctx, d.build, true }

func (*vwoDestination) waitReady(context.Context, <-chan struct{}) error { return nil }

// authorize adds the sdk key as the env query parameter and the Authorization header.
func (d *vwoDestination) authorize(req *http.Request) {
	key := string(d.cfg.VWO.SDKKey)
	q := req.URL.Query()
	q.Set("env", key)
	req.URL.RawQuery = q.Encode()
	req.Header.Set("Authorization", key)
}
