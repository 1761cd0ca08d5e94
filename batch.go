package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"

	"github.com/experimentationexporter/experimentationexporter/internal/destination"
)

// The sending queue holds two kinds of request: eventBatch, events built and encoded
// before the queue, and pendingRecords, records kept while the destination cannot build
// events yet (no datafile). Both keep their items in one destination.Events buffer.

// eventBatch is the request of built events: encoded JSON laid end to end, so batching,
// splitting and sending copy bytes and never re-encode.
type eventBatch struct {
	bctx *destination.Context
	destination.Events
	// attempt counts sends of these events, for the debug log.
	attempt int
}

// pendingRecords is the request of records kept until events can be built: each item
// is a serialized single-record plog.Logs.
type pendingRecords struct {
	destination.Events
}

// splitter is either request: a request of the other kind is never merged.
type splitter interface {
	xexporterhelper.Request
	split(maxSize int, szt exporterhelper.RequestSizerType) []xexporterhelper.Request
}

var (
	_ xexporterhelper.RequestErrorHandler = (*eventBatch)(nil)
	_ xexporterhelper.RequestErrorHandler = (*pendingRecords)(nil)
	_ splitter                            = (*eventBatch)(nil)
	_ splitter                            = (*pendingRecords)(nil)
)

func (b *eventBatch) ItemsCount() int { return b.Len() }

// BytesSize is the size of the request body that carries the whole batch.
func (b *eventBatch) BytesSize() int { return b.bodySize(0, b.Len()) }

// bodySize is the body size of events [i, j).
func (b *eventBatch) bodySize(i, j int) int {
	return len(b.bctx.Prefix) + len(b.Range(i, j)) + len(b.bctx.Suffix)
}

// appendBody writes the request body for events [i, j) to dst.
func (b *eventBatch) appendBody(dst []byte, i, j int) []byte {
	dst = append(dst, b.bctx.Prefix...)
	dst = append(dst, b.Range(i, j)...)
	return append(dst, b.bctx.Suffix...)
}

// slice returns events [i, j) as a new batch that owns its memory.
func (b *eventBatch) slice(i, j int) *eventBatch {
	return &eventBatch{bctx: b.bctx, Events: b.Slice(i, j), attempt: b.attempt}
}

// share returns events [i, j) as a new batch that shares b's bytes instead of copying
// them. Its Data is capped at its last event, so an append to it reallocates and never
// writes into the events after it. A batch's bytes never change once built, so pieces
// of one batch can be queued, merged and sent independently.
func (b *eventBatch) share(i, j int) *eventBatch {
	off, end := 0, 0
	if i > 0 {
		off = b.Ends[i-1]
	}
	if j > i {
		end = b.Ends[j-1]
	} else {
		end = off
	}
	ends := make([]int, j-i)
	for k := i; k < j; k++ {
		ends[k-i] = b.Ends[k] - off
	}
	return &eventBatch{bctx: b.bctx, Events: destination.Events{Data: b.Data[off:end:end], Ends: ends}, attempt: b.attempt}
}

// trim moves b's events into right-sized memory when more than a quarter of its buffers
// would stay unused. The queue counts events, not bytes: a push of mostly skipped
// records (plain log lines in the same pipeline, say) must not keep a buffer sized for
// all of its records while it is queued or waits in the batcher.
func (b *eventBatch) trim() {
	if cap(b.Data)-len(b.Data) > len(b.Data)/4 {
		b.Data = append(make([]byte, 0, len(b.Data)), b.Data...)
	}
	if cap(b.Ends)-len(b.Ends) > len(b.Ends)/4 {
		b.Ends = append(make([]int, 0, len(b.Ends)), b.Ends...)
	}
}

// MergeSplit merges other into b and splits the result at maxSize. A batch of another
// context is never merged: b is returned first, so the batcher flushes it at once. This
// is how a new datafile revision flushes the events queued under the old one.
func (b *eventBatch) MergeSplit(_ context.Context, maxSize int, szt exporterhelper.RequestSizerType, other xexporterhelper.Request) ([]xexporterhelper.Request, error) {
	if other == nil {
		return b.split(maxSize, szt), nil
	}
	o, ok := other.(*eventBatch)
	if !ok || o.bctx.Key != b.bctx.Key {
		return appendSplit([]xexporterhelper.Request{b}, other, maxSize, szt)
	}
	// Counting items (the batcher's sizer): fill b with the first events of other, which
	// is all that gets copied, and cut the rest of other in place.
	if need := maxSize - b.Len(); szt == exporterhelper.RequestSizerTypeItems && need > 0 && o.Len() > need {
		b.Append(&destination.Events{Data: o.Data[:o.Ends[need-1]], Ends: o.Ends[:need]})
		return append([]xexporterhelper.Request{b}, o.cut(need, maxSize, szt)...), nil
	}
	b.Append(&o.Events)
	return b.split(maxSize, szt), nil
}

// appendSplit appends other, split at maxSize, to reqs.
func appendSplit(reqs []xexporterhelper.Request, other xexporterhelper.Request, maxSize int, szt exporterhelper.RequestSizerType) ([]xexporterhelper.Request, error) {
	o, ok := other.(splitter)
	if !ok {
		return nil, fmt.Errorf("experimentation: cannot merge %T", other)
	}
	return append(reqs, o.split(maxSize, szt)...), nil
}

// split cuts b into batches of at most maxSize items or bytes (0 = no limit). A single
// event larger than a byte limit travels alone; the sender drops it with a log line.
func (b *eventBatch) split(maxSize int, szt exporterhelper.RequestSizerType) []xexporterhelper.Request {
	return b.cut(0, maxSize, szt)
}

// cut splits events [from, n) of b as split does. The parts share b's bytes (no copy),
// except a last part smaller than maxSize: the batcher may keep that one open for up to
// flush_interval, so it gets memory of its own instead of keeping all of b alive.
func (b *eventBatch) cut(from, maxSize int, szt exporterhelper.RequestSizerType) []xexporterhelper.Request {
	return splitItems(b, from, b.Len(), maxSize, szt, b.bodySize,
		func(i, j int) xexporterhelper.Request { return b.part(i, j, maxSize, szt) })
}

// part is events [i, j) of b as one part of a split: shared, or copied when it is the
// last one and smaller than maxSize.
func (b *eventBatch) part(i, j, maxSize int, szt exporterhelper.RequestSizerType) *eventBatch {
	if j == b.Len() && (szt != exporterhelper.RequestSizerTypeItems || j-i < maxSize) {
		return b.slice(i, j)
	}
	return b.share(i, j)
}

// splitItems cuts items [from, n) into parts of at most maxSize items, or of bodies of
// at most maxSize bytes (0 = no limit); whole is the request itself, returned when all of
// it fits in one part.
func splitItems(whole xexporterhelper.Request, from, n, maxSize int, szt exporterhelper.RequestSizerType, bodySize func(i, j int) int, part func(i, j int) xexporterhelper.Request) []xexporterhelper.Request {
	if from == 0 && (maxSize <= 0 || n == 0) {
		return []xexporterhelper.Request{whole}
	}
	if maxSize <= 0 {
		return []xexporterhelper.Request{part(from, n)}
	}
	var out []xexporterhelper.Request
	cutRanges(from, n, maxSize, szt, bodySize, func(i, j int) bool {
		if i == 0 && j == n {
			return false
		}
		out = append(out, part(i, j))
		return true
	})
	if out == nil {
		return []xexporterhelper.Request{whole}
	}
	return out
}

// cutRanges visits items [from, n) as consecutive ranges of at most maxSize items, or
// of bodies of at most maxSize bytes, until visit returns false. A range of one item
// may exceed a byte limit.
func cutRanges(from, n, maxSize int, szt exporterhelper.RequestSizerType, bodySize func(i, j int) int, visit func(i, j int) bool) {
	for i := from; i < n; {
		j := i + 1
		if szt == exporterhelper.RequestSizerTypeBytes {
			for j < n && bodySize(i, j+1) <= maxSize {
				j++
			}
		} else {
			j = min(i+maxSize, n)
		}
		if !visit(i, j) {
			return
		}
		i = j
	}
}

// byteChunks cuts events into ranges whose bodies fit maxBytes. A range of one event may
// exceed it: such an event can never be sent.
func (b *eventBatch) byteChunks(maxBytes int, visit func(i, j int) bool) {
	cutRanges(0, b.Len(), maxBytes, exporterhelper.RequestSizerTypeBytes, b.bodySize, visit)
}

// OnError lets a retry resend only the events the events API has not accepted yet.
func (b *eventBatch) OnError(err error) xexporterhelper.Request { return remainingOr(err, b) }

func (p *pendingRecords) ItemsCount() int { return p.Len() }

func (p *pendingRecords) BytesSize() int { return len(p.Range(0, p.Len())) }

// MergeSplit merges kept records with kept records only.
func (p *pendingRecords) MergeSplit(_ context.Context, maxSize int, szt exporterhelper.RequestSizerType, other xexporterhelper.Request) ([]xexporterhelper.Request, error) {
	if other == nil {
		return p.split(maxSize, szt), nil
	}
	o, ok := other.(*pendingRecords)
	if !ok {
		return appendSplit([]xexporterhelper.Request{p}, other, maxSize, szt)
	}
	p.Append(&o.Events)
	return p.split(maxSize, szt), nil
}

func (p *pendingRecords) split(maxSize int, szt exporterhelper.RequestSizerType) []xexporterhelper.Request {
	return splitItems(p, 0, p.Len(), maxSize, szt, func(i, j int) int { return len(p.Range(i, j)) },
		func(i, j int) xexporterhelper.Request { return &pendingRecords{Events: p.Slice(i, j)} })
}

// OnError: once built, a retry resends only the events not accepted yet.
func (p *pendingRecords) OnError(err error) xexporterhelper.Request { return remainingOr(err, p) }

// partialError carries the events that still need sending after a failed attempt.
type partialError struct {
	err        error
	remaining  *eventBatch
	retryAfter time.Duration
}

func (e *partialError) Error() string { return e.err.Error() }
func (e *partialError) Unwrap() error { return e.err }

func remainingOr(err error, req xexporterhelper.Request) xexporterhelper.Request {
	var pe *partialError
	if errors.As(err, &pe) && pe.remaining != nil {
		if b, ok := req.(*eventBatch); ok {
			pe.remaining.attempt = b.attempt
		}
		return pe.remaining
	}
	return req
}

// batchEncoding persists requests in a sending_queue with storage. The format is
// versioned; secrets are never part of it. Kept records are stored as a batch whose
// context key is pendingKey.
type batchEncoding struct{}

const (
	encodingVersion = 1
	pendingKey      = "pending"
)

func (batchEncoding) Marshal(_ context.Context, r xexporterhelper.Request) ([]byte, error) {
	var c destination.Context
	var s *destination.Events
	switch b := r.(type) {
	case *eventBatch:
		c, s = *b.bctx, &b.Events
	case *pendingRecords:
		c, s = destination.Context{Key: pendingKey}, &b.Events
	default:
		return nil, fmt.Errorf("experimentation: cannot persist %T", r)
	}
	buf := make([]byte, 0, 64+len(c.Key)+len(c.URL)+len(c.Prefix)+len(c.Suffix)+len(s.Data)+4*len(s.Ends))
	buf = append(buf, encodingVersion)
	for _, f := range [][]byte{[]byte(c.Key), []byte(c.URL), c.Prefix, c.Suffix, s.Data} {
		buf = binary.AppendUvarint(buf, uint64(len(f)))
		buf = append(buf, f...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(s.Ends)))
	prev := 0
	for _, e := range s.Ends {
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
	s := destination.Events{Data: append([]byte(nil), fields[4]...), Ends: make([]int, count)}
	prev := 0
	for i := range s.Ends {
		d, k := binary.Uvarint(buf)
		if k <= 0 {
			return context.Background(), nil, errCorruptBatch
		}
		buf = buf[k:]
		prev += int(d)
		if prev > len(s.Data) {
			return context.Background(), nil, errCorruptBatch
		}
		s.Ends[i] = prev
	}
	if len(s.Ends) > 0 && s.Ends[len(s.Ends)-1] != len(s.Data) {
		return context.Background(), nil, errCorruptBatch
	}
	if string(fields[0]) == pendingKey {
		return context.Background(), &pendingRecords{Events: s}, nil
	}
	bctx := &destination.Context{Key: string(fields[0]), URL: string(fields[1]),
		Prefix: append([]byte(nil), fields[2]...), Suffix: append([]byte(nil), fields[3]...)}
	return context.Background(), &eventBatch{bctx: bctx, Events: s}, nil
}
