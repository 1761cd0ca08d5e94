package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
)

// sharedExporters holds one exporter per configured component, as contrib's
// internal/sharedcomponent does: the same exporter id in a logs and a traces pipeline
// gets one destination, one datafile poll and one HTTP client. The collector hands
// both pipelines the same *Config.
var sharedExporters = struct {
	sync.Mutex
	m map[*Config]*experimentationExporter
}{m: map[*Config]*experimentationExporter{}}

// acquireExporter returns the exporter of cfg, creating it for the first signal.
// Every acquire is matched by one shutdown (or release, when creation fails).
func acquireExporter(cfg *Config, set exporter.Settings) (*experimentationExporter, error) {
	sharedExporters.Lock()
	defer sharedExporters.Unlock()
	if e, ok := sharedExporters.m[cfg]; ok {
		e.users++
		return e, nil
	}
	e, err := newExporter(cfg, set)
	if err != nil {
		return nil, err
	}
	e.users = 1
	sharedExporters.m[cfg] = e
	return e, nil
}

// release drops one user; the last one shuts the exporter down.
func (e *experimentationExporter) release() bool {
	sharedExporters.Lock()
	defer sharedExporters.Unlock()
	e.users--
	if e.users > 0 {
		return false
	}
	if sharedExporters.m[e.cfg] == e {
		delete(sharedExporters.m, e.cfg)
	}
	return true
}

// start starts the exporter once, for whichever signal starts first.
func (e *experimentationExporter) start(ctx context.Context, host component.Host) error {
	e.startMu.Lock()
	defer e.startMu.Unlock()
	if e.started {
		return e.startErr
	}
	e.started = true
	e.startErr = e.startOnce(ctx, host)
	return e.startErr
}

// shutdown shuts the exporter down when the last signal using it does.
func (e *experimentationExporter) shutdown(ctx context.Context) error {
	if !e.release() {
		return nil
	}
	return e.shutdownLast(ctx)
}

// drainThen marks the start of a drain, waits for batches in backoff, then runs the
// signal's exporterhelper shutdown.
func (e *experimentationExporter) drainThen(ctx context.Context, shutdown func(context.Context) error) error {
	drainCtx, cancel := e.beginDrain(ctx)
	defer cancel()
	e.waitBackoffs(drainCtx)
	return shutdown(ctx)
}
