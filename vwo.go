package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"errors"
	"net/http"

	"go.opentelemetry.io/collector/component"
)

type vwoDestination struct{ cfg *Config }

func newVWODestination(cfg *Config) *vwoDestination { return &vwoDestination{cfg: cfg} }

func (*vwoDestination) start(context.Context, component.Host, *http.Client) error {
	return errors.New("destination vwo is not supported yet")
}
func (*vwoDestination) shutdown()                                        {}
func (*vwoDestination) current() (*batchContext, buildFunc, bool)        { return nil, nil, false }
func (*vwoDestination) waitReady(context.Context, <-chan struct{}) error { return nil }
func (*vwoDestination) authorize(*http.Request)                          {}
