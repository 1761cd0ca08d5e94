package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// builderState is everything built from one revision of a destination's project
// configuration (Optimizely datafile, VWO settings file).
type builderState struct {
	bctx  *batchContext
	build buildFunc
}

// liveState holds a destination's current builderState. Until the first one is set,
// current is not ok and waitReady blocks: records wait in the sending queue.
type liveState struct {
	state     atomic.Pointer[builderState]
	ready     chan struct{}
	readyOnce sync.Once
}

func newLiveState() *liveState { return &liveState{ready: make(chan struct{})} }

// use switches new events to st. Batches built under the previous state have another
// context key, so the batcher flushes them before merging new ones.
func (l *liveState) use(st *builderState) {
	l.state.Store(st)
	l.readyOnce.Do(func() { close(l.ready) })
}

func (l *liveState) current() (*batchContext, buildFunc, bool) {
	st := l.state.Load()
	if st == nil {
		return nil, nil, false
	}
	return st.bctx, st.build, true
}

var errStopped = errors.New("exporter is shutting down before the destination's configuration (datafile, settings file) arrived")

func (l *liveState) waitReady(ctx context.Context, stop <-chan struct{}) error {
	select {
	case <-l.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return errStopped
	}
}
