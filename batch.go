package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"

	"github.com/experimentationexporter/experimentationexporter/internal/vwo"
)

// batchContext is what all events of one request share: a request never mixes
// destinations, endpoints, accounts, projects, datafile revisions or anonymize_ip.
type batchContext struct {
	// key identifies the context; two batches merge only when their keys are equal.
	key string
	// url is the events URL without secrets; the transport adds them.
	url string
	// prefix and suffix wrap the comma-separated events into a request body.
	prefix []byte
	suffix []byte
}

// pendingKey is the context key of batches of raw records kept until the destination can
// build events (no datafile yet).
const pendingKey = "pending"

// pendingContext marks such batches; it is matched by key, never by pointer, because a
// batch read back from a persistent queue carries a new context.
var pendingContext = &batchContext{key: pendingKey}

// pending reports whether the batch holds raw records rather than built events.
func (c *batchContext) pending() bool { return c.key == pendingKey }

// eventBatch is the exporterhelper request: events already encoded as JSON, laid end
// to end in one buffer, so batching, splitting and sending copy bytes and never re-encode.
type eventBatch struct {
	bctx *batchContext
	// data holds each event followed by a comma, so the events [i, j) of a request
	// body are one contiguous slice (minus the last comma) and are sent without copying.
	data []byte
	ends []int // ends[i] is the offset just past event i's comma
	// attempt counts sends of these events, for the debug log.
	attempt int
	// pushed remembers VWO custom dimensions already in this batch (built batches only).
	pushed vwo.Pushed
}

var (
	_ xexporterhelper.Request             = (*eventBatch)(nil)
	_ xexporterhelper.RequestErrorHandler = (*eventBatch)(nil)
)

func (b *eventBatch) ItemsCount() int { return len(b.ends) }

// BytesSize is the size of the request body that carries the whole batch.
func (b *eventBatch) BytesSize() int { return b.bodySize(0, len(b.ends)) }

func (b *eventBatch) start(i int) int {
	if i == 0 {
		return 0
	}
	return b.ends[i-1]
}

// endEvent closes the event just appended to data.
func (b *eventBatch) endEvent() {
	b.data = append(b.data, ',')
	b.ends = append(b.ends, len(b.data))
}

// event returns the JSON of event i.
func (b *eventBatch) event(i int) []byte { return b.data[b.start(i) : b.ends[i]-1] }

// events returns events [i, j) separated by commas: the middle of a request body.
func (b *eventBatch) events(i, j int) []byte {
	if j <= i {
		return nil
	}
	return b.data[b.start(i) : b.ends[j-1]-1]
}

// bodySize is the body size of events [i, j).
func (b *eventBatch) bodySize(i, j int) int {
	return len(b.bctx.prefix) + len(b.events(i, j)) + len(b.bctx.suffix)
}

// appendBody writes the request body for events [i, j) to dst.
func (b *eventBatch) appendBody(dst []byte, i, j int) []byte {
	dst = append(dst, b.bctx.prefix...)
	dst = append(dst, b.events(i, j)...)
	return append(dst, b.bctx.suffix...)
}

// slice returns events [i, j) as a new batch that owns its memory, so later merges into
// either batch cannot overwrite the other.
func (b *eventBatch) slice(i, j int) *eventBatch {
	off := b.start(i)
	out := &eventBatch{
		bctx:    b.bctx,
		data:    append([]byte(nil), b.data[off:b.start(j)]...),
		ends:    make([]int, j-i),
		attempt: b.attempt,
	}
	for k := i; k < j; k++ {
		out.ends[k-i] = b.ends[k] - off
	}
	return out
}

// appendEvents adds every event of o to b.
func (b *eventBatch) appendEvents(o *eventBatch) {
	off := len(b.data)
	b.data = append(b.data, o.data...)
	for _, e := range o.ends {
		b.ends = append(b.ends, e+off)
	}
}

// MergeSplit merges other into b and splits the result at maxSize. A batch of another
// context is never merged: b is returned first, so the batcher flushes it at once. This
// is how a new datafile revision flushes the events queued under the old one.
func (b *eventBatch) MergeSplit(_ context.Context, maxSize int, szt exporterhelper.RequestSizerType, other xexporterhelper.Request) ([]xexporterhelper.Request, error) {
	if other != nil {
		o, ok := other.(*eventBatch)
		if !ok {
			return nil, fmt.Errorf("experimentation: cannot merge %T into an event batch", other)
		}
		if o.bctx.key != b.bctx.key {
			return append([]xexporterhelper.Request{b}, o.split(maxSize, szt)...), nil
		}
		b.appendEvents(o)
	}
	return b.split(maxSize, szt), nil
}

// split cuts b into batches of at most maxSize items or bytes (0 = no limit). A single
// event larger than a byte limit travels alone; the transport drops it with a log line.
func (b *eventBatch) split(maxSize int, szt exporterhelper.RequestSizerType) []xexporterhelper.Request {
	n := len(b.ends)
	if maxSize <= 0 || n == 0 {
		return []xexporterhelper.Request{b}
	}
	var out []xexporterhelper.Request
	for i := 0; i < n; {
		j := i + 1
		switch szt {
		case exporterhelper.RequestSizerTypeBytes:
			for j < n && b.bodySize(i, j+1) <= maxSize {
				j++
			}
		default:
			j = min(i+maxSize, n)
		}
		if i == 0 && j == n {
			return []xexporterhelper.Request{b}
		}
		out = append(out, b.slice(i, j))
		i = j
	}
	return out
}

// partialError carries the events that still need sending after a failed attempt.
type partialError struct {
	err        error
	remaining  *eventBatch
	retryAfter time.Duration
}

func (e *partialError) Error() string { return e.err.Error() }
func (e *partialError) Unwrap() error { return e.err }

// OnError lets a retry resend only the events the events API has not accepted yet.
func (b *eventBatch) OnError(err error) xexporterhelper.Request {
	var pe *partialError
	if errors.As(err, &pe) && pe.remaining != nil {
		pe.remaining.attempt = b.attempt
		return pe.remaining
	}
	return b
}

// byteChunks cuts events into ranges whose bodies fit maxBytes. A range of one event may
// exceed it: such an event can never be sent.
func (b *eventBatch) byteChunks(maxBytes int, visit func(i, j int) bool) {
	n := len(b.ends)
	for i := 0; i < n; {
		j := i + 1
		for j < n && b.bodySize(i, j+1) <= maxBytes {
			j++
		}
		if !visit(i, j) {
			return
		}
		i = j
	}
}

// batchEncoding persists batches in a sending_queue with storage. The format is
// versioned; secrets are never part of it.
type batchEncoding struct{}

const encodingVersion = 1

func (batchEncoding) Marshal(_ context.Context, r xexporterhelper.Request) ([]byte, error) {
	b, ok := r.(*eventBatch)
	if !ok {
		return nil, fmt.Errorf("experimentation: cannot persist %T", r)
	}
	c := b.bctx
	buf := make([]byte, 0, 64+len(c.key)+len(c.url)+len(c.prefix)+len(c.suffix)+len(b.data)+4*len(b.ends))
	buf = append(buf, encodingVersion)
	for _, s := range [][]byte{[]byte(c.key), []byte(c.url), c.prefix, c.suffix, b.data} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(b.ends)))
	prev := 0
	for _, e := range b.ends {
		buf = binary.AppendUvarint(buf, uint64(e-prev))
		prev = e
	}
	return buf, nil
}

var errCorruptBatch = errors.New("experimentation: corrupt persisted batch")

func (batchEncoding) Unmarshal(buf []byte) (context.Context, xexporterhelper.Request, error) {
	if len(buf) == 0 || buf[0] != encodingVersion {
		return context.Background(), nil, errCorruptBatch
	}
	buf = buf[1:]
	var fields [5][]byte
	for i := range fields {
		n, k := binary.Uvarint(buf)
		if k <= 0 || n > uint64(len(buf)-k) {
			return context.Background(), nil, errCorruptBatch
		}
		fields[i] = buf[k : k+int(n)]
		buf = buf[k+int(n):]
	}
	count, k := binary.Uvarint(buf)
	if k <= 0 || count > uint64(len(buf)) {
		return context.Background(), nil, errCorruptBatch
	}
	buf = buf[k:]
	b := &eventBatch{
		bctx: &batchContext{key: string(fields[0]), url: string(fields[1]),
			prefix: append([]byte(nil), fields[2]...), suffix: append([]byte(nil), fields[3]...)},
		data: append([]byte(nil), fields[4]...),
		ends: make([]int, count),
	}
	prev := 0
	for i := range b.ends {
		d, k := binary.Uvarint(buf)
		if k <= 0 {
			return context.Background(), nil, errCorruptBatch
		}
		buf = buf[k:]
		prev += int(d)
		if prev > len(b.data) {
			return context.Background(), nil, errCorruptBatch
		}
		b.ends[i] = prev
	}
	if len(b.ends) > 0 && b.ends[len(b.ends)-1] != len(b.data) {
		return context.Background(), nil, errCorruptBatch
	}
	return context.Background(), b, nil
}
