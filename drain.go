package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.uber.org/zap"
)

// exporterhelper stops its retry sender before it drains the queue at shutdown, so a
// batch in backoff, or failing while the queue drains, would be dropped from an
// in-memory queue. The drainer covers both: shutdown waits for batches in backoff, and
// once draining, push retries by itself (with retry_on_failure's intervals) until the
// drain deadline. With a persistent queue what is left stays on disk.
type drainer struct {
	cfg    *Config
	logger *zap.Logger

	// ctx is set when shutdown begins; it ends at the drain deadline.
	ctx    atomic.Pointer[context.Context]
	logged sync.Once

	// waiting holds batches in exporterhelper's retry backoff, with the time by which
	// their next attempt is due.
	mu      sync.Mutex
	waiting map[*eventBatch]time.Time
}

// minDrainRetryWait keeps a zero initial_interval from retrying in a tight loop.
const minDrainRetryWait = 100 * time.Millisecond

func newDrainer(cfg *Config, logger *zap.Logger) drainer {
	return drainer{cfg: cfg, logger: logger, waiting: map[*eventBatch]time.Time{}}
}

// begin is called before exporterhelper's shutdown drains the queue. Without a deadline
// from the collector, timeout_interval bounds the drain.
func (d *drainer) begin(ctx context.Context) (context.Context, context.CancelFunc) {
	cancel := context.CancelFunc(func() {})
	budget := d.cfg.TimeoutInterval
	if deadline, ok := ctx.Deadline(); ok {
		budget = time.Until(deadline)
	} else {
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), budget)
	}
	d.ctx.Store(&ctx)
	d.logged.Do(func() {
		if q := d.cfg.QueueConfig.Get(); q != nil && q.StorageID != nil {
			d.logger.Info("Shutting down: sending the queued experimentation events. Events not sent in time stay in the persistent queue and are sent after the restart.",
				zap.Duration("timeout_interval", budget), zap.String("storage", q.StorageID.String()))
			return
		}
		d.logger.Info("Shutting down: sending the queued experimentation events. Events not sent in time are lost; set sending_queue::storage to keep them across restarts.",
			zap.Duration("timeout_interval", budget))
	})
	return ctx, cancel
}

// then begins the drain, waits for batches in backoff, then runs a signal's
// exporterhelper shutdown, which drains its queue.
func (d *drainer) then(ctx context.Context, shutdown func(context.Context) error) error {
	drainCtx, cancel := d.begin(ctx)
	defer cancel()
	d.waitBackoffs(drainCtx)
	return shutdown(ctx)
}

// waitBackoffs waits until no batch sits in exporterhelper's retry backoff (or ctx ends).
func (d *drainer) waitBackoffs(ctx context.Context) {
	for {
		d.mu.Lock()
		now, waiting := time.Now(), 0
		for b, due := range d.waiting {
			if now.After(due) {
				delete(d.waiting, b) // the retry sender gave up on it
				continue
			}
			waiting++
		}
		d.mu.Unlock()
		if waiting == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// resumed notes that b left the backoff: it is being sent again.
func (d *drainer) resumed(b *eventBatch) {
	d.mu.Lock()
	delete(d.waiting, b)
	d.mu.Unlock()
}

// backingOff notes the events of a retryable failure, which exporterhelper retries
// after its backoff (or Retry-After).
func (d *drainer) backingOff(err error) {
	var pe *partialError
	if !errors.As(err, &pe) || consumererror.IsPermanent(err) {
		return
	}
	due := time.Now().Add(max(d.cfg.RetryConfig.MaxInterval, pe.retryAfter) + time.Second)
	d.mu.Lock()
	d.waiting[pe.remaining] = due
	d.mu.Unlock()
}

// retry resends what a retryable failure left while the drain lasts, waiting
// retry_on_failure's intervals (or Retry-After) between attempts.
func (d *drainer) retry(ctx context.Context, err error, send func(context.Context, *eventBatch) error) error {
	rc := d.cfg.RetryConfig
	wait := rc.InitialInterval
	if wait <= 0 {
		wait = minDrainRetryWait
	}
	for err != nil && !consumererror.IsPermanent(err) {
		dctx := d.ctx.Load()
		if dctx == nil {
			return err
		}
		pause := wait
		if t, ok := throttleDelay(err); ok {
			pause = max(pause, t)
		}
		select {
		case <-(*dctx).Done():
			return err
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		wait = min(time.Duration(float64(wait)*max(rc.Multiplier, 1)), max(rc.MaxInterval, rc.InitialInterval))
		var pe *partialError
		if !errors.As(err, &pe) {
			return err
		}
		err = send(ctx, pe.remaining)
	}
	return err
}
