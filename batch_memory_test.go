package experimentationexporter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/experimentationexporter/experimentationexporter/internal/metadata"
)

// The batcher's splits share the batch's bytes instead of copying them: a push of 1000
// events cut into batches of 500 costs no copy.
func TestSplitSharesFullParts(t *testing.T) {
	b := batchOf(testContext, 0, 10)
	parts, err := b.MergeSplit(context.Background(), 5, exporterhelper.RequestSizerTypeItems, nil)
	require.NoError(t, err)
	require.Len(t, parts, 2)
	first, second := parts[0].(*eventBatch), parts[1].(*eventBatch)
	assert.Same(t, &b.Data[0], &first.Data[0], "a full part shares the batch's bytes")
	assert.Same(t, &b.Data[b.Ends[4]], &second.Data[0], "a full last part shares the batch's bytes")
	assert.Equal(t, len(first.Data), cap(first.Data), "capped: an append cannot reach the next part")
}

// A last part smaller than the batch size may stay open in the batcher until
// flush_interval: it is copied so that it does not keep the whole push alive.
func TestSplitCopiesPartialLastPart(t *testing.T) {
	b := batchOf(testContext, 0, 7)
	parts, err := b.MergeSplit(context.Background(), 5, exporterhelper.RequestSizerTypeItems, nil)
	require.NoError(t, err)
	require.Len(t, parts, 2)
	last := parts[1].(*eventBatch)
	assert.NotSame(t, &b.Data[b.Ends[4]], &last.Data[0])
	assert.Equal(t, `{"v":[{"i":5},{"i":6}]}`, bodies(parts[1:])[0])
}

// Merging a push into an open batch copies only the events that fill the open batch.
func TestMergeCopiesOnlyWhatFillsTheOpenBatch(t *testing.T) {
	open := batchOf(testContext, 0, 2)
	push := batchOf(testContext, 2, 12)
	parts, err := open.MergeSplit(context.Background(), 5, exporterhelper.RequestSizerTypeItems, push)
	require.NoError(t, err)
	assert.Equal(t, []string{
		`{"v":[{"i":0},{"i":1},{"i":2},{"i":3},{"i":4}]}`,
		`{"v":[{"i":5},{"i":6},{"i":7},{"i":8},{"i":9}]}`,
		`{"v":[{"i":10},{"i":11},{"i":12},{"i":13}]}`,
	}, bodies(parts))
	assert.Same(t, &push.Data[push.Ends[2]], &parts[1].(*eventBatch).Data[0], "the rest of the push is cut in place")
}

// Whatever the sizes, merge and split give the events in order, in parts of at most
// maxSize, and no part's memory is written by a later merge into another part.
func TestMergeSplitMatchesConcatenation(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		maxSize := 1 + r.IntN(8)
		na, no := r.IntN(2*maxSize+1), r.IntN(3*maxSize+1)
		a, o := batchOf(testContext, 0, na), batchOf(testContext, na, no)
		var parts []xexporterhelper.Request
		var err error
		if r.IntN(4) == 0 {
			parts, err = a.MergeSplit(context.Background(), maxSize, exporterhelper.RequestSizerTypeItems, nil)
			no = 0
		} else {
			parts, err = a.MergeSplit(context.Background(), maxSize, exporterhelper.RequestSizerTypeItems, o)
		}
		require.NoError(t, err)
		want := bodiesOfChunks(na+no, maxSize)
		got := bodies(parts)
		require.Equal(t, want, got, "na=%d no=%d max=%d", na, no, maxSize)
		// Merge more events into every part: no other part may change.
		for _, p := range parts {
			_, err := p.(*eventBatch).MergeSplit(context.Background(), 0, exporterhelper.RequestSizerTypeItems, batchOf(testContext, 900, 3))
			require.NoError(t, err)
		}
		after := bodies(parts)
		for i := range parts {
			assert.Equal(t, want[i], after[i][:len(want[i])-2]+"]}", "part %d overwritten", i)
		}
		if t.Failed() {
			return
		}
	}
}

// bodiesOfChunks is what splitting events 0..n-1 at maxSize must give.
func bodiesOfChunks(n, maxSize int) []string {
	all := batchOf(testContext, 0, n)
	var out []string
	for i := 0; i < n; i += maxSize {
		out = append(out, string(all.appendBody(nil, i, min(i+maxSize, n))))
	}
	if n == 0 {
		out = []string{string(all.appendBody(nil, 0, 0))}
	}
	return out
}

// A push of mostly plain log lines becomes a batch whose memory is sized for its events,
// not for its records: the queue counts events, so it must not hold more. The buffer is
// sized for the records named as events (EventName, or event.name from older SDKs).
func TestConvertRightSizesBatchOfFewEvents(t *testing.T) {
	e := startedExporter(t, testConfig("http://127.0.0.1:1/v1/events"))
	fns := make([]func(plog.LogRecord), 1000)
	for i := range fns {
		switch {
		case i%100 == 0:
			fns[i] = impression(fmt.Sprintf("user-%d", i), "checkout_redesign", "checkout_redesign_ab", "treatment")
		case i%100 == 50:
			fns[i] = with(impression(fmt.Sprintf("user-%d", i), "checkout_redesign", "checkout_redesign_ab", "treatment"), func(lr plog.LogRecord) {
				lr.SetEventName("")
				lr.Attributes().PutStr("event.name", "feature_flag.evaluation")
			})
		default:
			fns[i] = func(lr plog.LogRecord) { lr.Body().SetStr("an ordinary log line") }
		}
	}
	ld := logsOf(fns...)
	assert.Equal(t, 20, e.eventRecords(ld))
	for range 2 { // the second push is sized from the first one's events
		r, err := e.convert(context.Background(), ld)
		require.NoError(t, err)
		b := r.(*eventBatch)
		require.Equal(t, 20, b.Len())
		assert.LessOrEqual(t, cap(b.Data), len(b.Data)*5/4+64, "unused buffer kept while queued")
		assert.LessOrEqual(t, cap(b.Ends), 25)
	}
	// A push of events only keeps its buffer as built: no copy.
	r, err := e.convert(context.Background(), benchLogs(1000))
	require.NoError(t, err)
	b := r.(*eventBatch)
	assert.LessOrEqual(t, cap(b.Data), len(b.Data)*5/4)
}

// trim gives a batch with mostly unused buffers right-sized memory (records that were
// dropped as invalid take room in the estimate) and leaves a well-sized one alone.
func TestTrim(t *testing.T) {
	b := batchOf(testContext, 0, 10)
	body := string(b.appendBody(nil, 0, 10))
	b.Data = append(make([]byte, 0, 10*len(b.Data)), b.Data...)
	b.Ends = append(make([]int, 0, 100), b.Ends...)
	b.trim()
	assert.Equal(t, len(b.Data), cap(b.Data))
	assert.Equal(t, 10, cap(b.Ends))
	assert.Equal(t, body, string(b.appendBody(nil, 0, 10)))

	b.Data = append(make([]byte, 0, len(b.Data)*9/8), b.Data...)
	p := &b.Data[0]
	b.trim()
	assert.Same(t, p, &b.Data[0], "12.5% spare is kept: no copy")
}

// BenchmarkExporterDrained is BenchmarkExporter timed until the queue is drained:
// BenchmarkExporter's timer stops before Shutdown sends what is still queued, so a
// larger queue hides up to queue_size events of work. Compares the default queue_size
// with the 100000 it was before.
func BenchmarkExporterDrained(b *testing.B) {
	for _, size := range []int{10, 500} {
		for _, queue := range []int64{defaultQueueEvents, 100_000} {
			b.Run(fmt.Sprintf("batch_size=%d/queue_size=%d", size, queue), func(b *testing.B) {
				srv, _ := sink(b)
				cfg := testConfig(srv.URL)
				cfg.BatchSize = size
				cfg.FlushInterval = 100 * time.Millisecond
				cfg.QueueConfig.Get().QueueSize = queue
				exp, _, err := newLogsExporter(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
				if err != nil {
					b.Fatal(err)
				}
				if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
					b.Fatal(err)
				}
				const perPush = 100
				ld := benchLogs(perPush)
				b.ReportAllocs()
				start := time.Now()
				n := 0
				for b.Loop() {
					if err := exp.ConsumeLogs(context.Background(), ld); err != nil {
						b.Fatal(err)
					}
					n++
				}
				if err := exp.Shutdown(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(perPush*n)/time.Since(start).Seconds(), "events/s")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// A queue that cannot hold a full batch per consumer limits the requests in flight: said
// once at start, with the queue_size that would not.
func TestWarnSmallQueue(t *testing.T) {
	for _, tc := range []struct {
		queue, batch int
		warn         bool
	}{{defaultQueueEvents, 10, false}, {defaultQueueEvents, 3000, false}, {2000, 500, true}} {
		core, logs := observer.New(zap.WarnLevel)
		set := exportertest.NewNopSettings(metadata.Type)
		set.Logger = zap.New(core)
		cfg := testConfig("http://127.0.0.1:1/v1/events")
		cfg.QueueConfig.Get().QueueSize = int64(tc.queue)
		cfg.BatchSize = tc.batch
		warnSmallQueue(cfg, set)
		if !tc.warn {
			assert.Zero(t, logs.Len(), "queue %d batch %d", tc.queue, tc.batch)
			continue
		}
		require.Equal(t, 1, logs.Len())
		fields := logs.All()[0].ContextMap()
		assert.EqualValues(t, 4, fields["requests_in_flight"])
		assert.EqualValues(t, 5000, fields["queue_size_for_full_concurrency"])
	}
}
