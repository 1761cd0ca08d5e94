package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/reason"
)

// exporterhelper stops its retry sender before it drains the queue at shutdown, so a
// batch in backoff, or failing while the queue drains, would be dropped from an
// in-memory queue. The drainer covers both: shutdown waits for batches in backoff, and
// once draining, push retries by itself (with retry_on_failure's intervals) until the
// drain deadline. With a persistent queue what is left stays on disk.
type drainer struct {
	cfg    *Config
	logger *zap.Logger

	// The first signal's shutdown begins the drain, for every signal the exporter serves:
	// ctx ends at the drain deadline, and so does expired, which exists from the start so
	// a push can wait on it before the drain begins.
	started sync.Once
	ctx     atomic.Pointer[context.Context]
	expired context.Context
	expire  context.CancelFunc
	// givenUp counts what an in-memory queue loses at the deadline: records still
	// waiting for the first datafile or settings file, events the API did not take.
	givenUp atomic.Int64
	obs     *telemetryObserver

	// waiting holds batches in exporterhelper's retry backoff, with the time by which
	// their next attempt is due.
	mu      sync.Mutex
	waiting map[*eventBatch]time.Time
}

// minDrainRetryWait keeps a zero initial_interval from retrying in a tight loop.
const minDrainRetryWait = 100 * time.Millisecond

func newDrainer(cfg *Config, logger *zap.Logger, obs *telemetryObserver) *drainer {
	d := &drainer{cfg: cfg, logger: logger, obs: obs, waiting: map[*eventBatch]time.Time{}}
	d.expired, d.expire = context.WithCancel(context.Background())
	return d
}

// persistent reports whether the sending queue keeps what is not sent on disk.
func (d *drainer) persistent() bool {
	q := d.cfg.QueueConfig.Get()
	return q != nil && q.StorageID != nil
}

// begin is called before exporterhelper's shutdown drains the queue. The first call
// sets the drain deadline, which every signal shares: the shutdown context's deadline or
// timeout_interval, whichever comes first.
func (d *drainer) begin(ctx context.Context) context.Context {
	d.started.Do(func() {
		budget := d.cfg.TimeoutInterval
		if deadline, ok := ctx.Deadline(); ok {
			budget = min(budget, time.Until(deadline))
		}
		drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
		context.AfterFunc(drain, func() { cancel(); d.expire() })
		d.ctx.Store(&drain)
		if d.persistent() {
			d.logger.Info("Shutting down: sending the queued experimentation events. Events not sent in time stay in the persistent queue and are sent after the restart.",
				zap.Duration("timeout_interval", budget), zap.String("storage", d.cfg.QueueConfig.Get().StorageID.String()))
			return
		}
		d.logger.Info("Shutting down: sending the queued experimentation events. Events not sent in time are lost; set sending_queue::storage to keep them across restarts.",
			zap.Duration("timeout_interval", budget))
	})
	return *d.ctx.Load()
}

// then begins the drain, waits for batches in backoff, then runs a signal's
// exporterhelper shutdown, which drains its queue. What an in-memory queue gave up is
// said once, at error level.
func (d *drainer) then(ctx context.Context, shutdown func(context.Context) error) error {
	d.waitBackoffs(d.begin(ctx))
	err := shutdown(ctx)
	if n := d.givenUp.Swap(0); n > 0 {
		d.logger.Error("Shutting down: the drain deadline passed; experimentation records and events still queued in memory are lost. Set sending_queue::storage to keep them across restarts.",
			zap.Int64("lost", n), zap.Duration("timeout_interval", d.cfg.TimeoutInterval))
	}
	return err
}

// draining reports whether shutdown has begun the drain.
func (d *drainer) draining() bool {
	return d.ctx.Load() != nil
}

// untilDeadline returns ctx, cancelled also when the drain deadline passes (also when
// the drain begins later): a wait for the datafile never outlasts the shutdown.
func (d *drainer) untilDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	wait, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(d.expired, cancel)
	return wait, func() { stop(); cancel() }
}

// isExpired reports whether the drain deadline has passed.
func (d *drainer) isExpired() bool {
	return d.expired.Err() != nil
}

// giveUp accounts n records or events an in-memory queue loses at the drain deadline
// (counted as dropped, reason shutdown) and returns err, permanent: retrying is over.
// A persistent queue keeps them: err stays retryable so exporterhelper leaves the item on
// disk for the next start.
func (d *drainer) giveUp(ctx context.Context, n int, err error) error {
	if d.persistent() {
		return err
	}
	d.givenUp.Add(int64(n))
	d.obs.count(ctx, reason.Shutdown, n)
	return consumererror.NewPermanent(err)
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
		if !d.draining() {
			return err
		}
		pause := wait
		if t, ok := throttleDelay(err); ok {
			pause = max(pause, t)
		}
		select {
		case <-d.expired.Done():
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
