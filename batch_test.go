package experimentationexporter

import (
	"context"
	"fmt"
	"github.com/experimentationexporter/experimentationexporter/internal/destination"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
)

var testContext = &destination.Context{Key: "k1", URL: "http://x", Prefix: []byte(`{"v":[`), Suffix: []byte(`]}`)}

// batchOf makes a batch of n events `{"i":<first+k>}`.
func batchOf(bctx *destination.Context, first, n int) *eventBatch {
	b := &eventBatch{bctx: bctx}
	for k := 0; k < n; k++ {
		b.Data = fmt.Appendf(b.Data, `{"i":%d}`, first+k)
		b.End()
	}
	return b
}

func bodies(reqs []xexporterhelper.Request) []string {
	var out []string
	for _, r := range reqs {
		b := r.(*eventBatch)
		out = append(out, string(b.appendBody(nil, 0, len(b.Ends))))
	}
	return out
}

func TestMergeSplitItems(t *testing.T) {
	a := batchOf(testContext, 0, 3)
	got, err := a.MergeSplit(context.Background(), 4, exporterhelper.RequestSizerTypeItems, batchOf(testContext, 3, 6))
	require.NoError(t, err)
	assert.Equal(t, []string{
		`{"v":[{"i":0},{"i":1},{"i":2},{"i":3}]}`,
		`{"v":[{"i":4},{"i":5},{"i":6},{"i":7}]}`,
		`{"v":[{"i":8}]}`,
	}, bodies(got))
}

func TestMergeSplitSplitsDoNotShareMemory(t *testing.T) {
	a := batchOf(testContext, 0, 4)
	parts, err := a.MergeSplit(context.Background(), 2, exporterhelper.RequestSizerTypeItems, nil)
	require.NoError(t, err)
	require.Len(t, parts, 2)
	first := parts[0].(*eventBatch)
	// Merging into the first part must not overwrite the second one.
	_, err = first.MergeSplit(context.Background(), 0, exporterhelper.RequestSizerTypeItems, batchOf(testContext, 9, 1))
	require.NoError(t, err)
	assert.Equal(t, []string{`{"v":[{"i":2},{"i":3}]}`}, bodies(parts[1:]))
}

func TestMergeSplitNeverMixesContexts(t *testing.T) {
	other := &destination.Context{Key: "k2", URL: "http://x", Prefix: []byte(`{"w":[`), Suffix: []byte(`]}`)}
	a := batchOf(testContext, 0, 2)
	got, err := a.MergeSplit(context.Background(), 10, exporterhelper.RequestSizerTypeItems, batchOf(other, 2, 2))
	require.NoError(t, err)
	// The old batch comes first: the batcher flushes it and keeps the new one open.
	assert.Equal(t, []string{`{"v":[{"i":0},{"i":1}]}`, `{"w":[{"i":2},{"i":3}]}`}, bodies(got))
}

func TestMergeSplitBytes(t *testing.T) {
	a := batchOf(testContext, 0, 5) // each event 7 bytes, wrapper 8 bytes
	got, err := a.MergeSplit(context.Background(), 8+7+1+7, exporterhelper.RequestSizerTypeBytes, nil)
	require.NoError(t, err)
	for _, r := range got {
		assert.LessOrEqual(t, r.BytesSize(), 23)
	}
	assert.Len(t, got, 3)
	assert.Equal(t, len(bodies(got)[0]), got[0].BytesSize())
}

func TestByteChunksRespectTheCap(t *testing.T) {
	b := batchOf(testContext, 0, 100)
	var total int
	for _, limit := range []int{15, 23, 40, 100, 1000} {
		total = 0
		b.byteChunks(limit, func(i, j int) bool {
			body := b.appendBody(nil, i, j)
			if j-i > 1 {
				assert.LessOrEqual(t, len(body), limit)
			}
			total += j - i
			return true
		})
		assert.Equal(t, 100, total)
	}
}

func TestBatchEncodingRoundTrip(t *testing.T) {
	b := batchOf(testContext, 0, 7)
	raw, err := batchEncoding{}.Marshal(context.Background(), b)
	require.NoError(t, err)
	_, r, err := batchEncoding{}.Unmarshal(raw)
	require.NoError(t, err)
	got := r.(*eventBatch)
	assert.Equal(t, testContext.Key, got.bctx.Key)
	assert.Equal(t, testContext.URL, got.bctx.URL)
	assert.Equal(t, string(b.appendBody(nil, 0, 7)), string(got.appendBody(nil, 0, 7)))

	for cut := 0; cut < len(raw); cut++ {
		_, _, err := batchEncoding{}.Unmarshal(raw[:cut])
		assert.Error(t, err, "truncated at %d", cut)
	}
}

func TestOnErrorKeepsOnlyRemaining(t *testing.T) {
	b := batchOf(testContext, 0, 5)
	rest := b.slice(3, 5)
	got := b.OnError(&partialError{err: assert.AnError, remaining: rest})
	assert.Equal(t, 2, got.ItemsCount())
	assert.Same(t, b, b.OnError(assert.AnError).(*eventBatch))
}
