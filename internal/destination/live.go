package destination

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Live holds a destination's current Revision. Until the first one is set, Current is
// not ok and WaitReady blocks: records wait in the sending queue.
type Live struct {
	rev       atomic.Pointer[Revision]
	ready     chan struct{}
	readyOnce sync.Once
}

// NewLive returns a Live without a revision.
func NewLive() *Live { return &Live{ready: make(chan struct{})} }

// Use switches new events to rev. Batches built under the previous revision have
// another context key, so the batcher flushes them before merging new ones.
func (l *Live) Use(rev *Revision) {
	l.rev.Store(rev)
	l.readyOnce.Do(func() { close(l.ready) })
}

// Current returns the revision in use.
func (l *Live) Current() (*Revision, bool) {
	rev := l.rev.Load()
	return rev, rev != nil
}

// ErrStopped is returned by WaitReady when the exporter stops first.
var ErrStopped = errors.New("exporter is shutting down before the destination's configuration (datafile, settings file) arrived")

// WaitReady blocks until a revision is in use, ctx ends or stop is closed.
func (l *Live) WaitReady(ctx context.Context, stop <-chan struct{}) error {
	select {
	case <-l.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return ErrStopped
	}
}
