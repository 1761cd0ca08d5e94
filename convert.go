package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/experimentationexporter/experimentationexporter/internal/destination"
	"github.com/experimentationexporter/experimentationexporter/internal/privacy"
	"github.com/experimentationexporter/experimentationexporter/internal/reason"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

// tally counts a conversion's outcomes so metrics are recorded once per call.
type tally struct {
	impressions, conversions, extra int
	guessed                         int // impressions whose rule was a guess
	deduplicated, noExposure        int // dedup: impressions left out, conversions of unexposed visitors
	reasons                         []reasonCount
	resolutions                     []resolutionCount
	privacy                         [privacy.NumReasons]int
}

type resolutionCount struct {
	resolution string
	conversion bool
	n          int
}

func (t *tally) resolved(how string, conversion bool) {
	for i := range t.resolutions {
		if t.resolutions[i].resolution == how && t.resolutions[i].conversion == conversion {
			t.resolutions[i].n++
			return
		}
	}
	t.resolutions = append(t.resolutions, resolutionCount{how, conversion, 1})
}

type reasonCount struct {
	reason  string
	dropped bool
	n       int
	// example names the keys of the first dropped record, so the warning says what to fix.
	example []zap.Field
}

func (t *tally) add(why string, dropped bool, f *record.Fields) {
	for i := range t.reasons {
		if t.reasons[i].reason == why && t.reasons[i].dropped == dropped {
			t.reasons[i].n++
			return
		}
	}
	rc := reasonCount{reason: why, dropped: dropped, n: 1}
	if dropped && f != nil {
		for _, k := range []struct {
			name string
			slot record.Slot
		}{{"flag_key", record.FlagKey}, {"rule_key", record.RuleKey}, {"variation_key", record.VariationKey}, {"event_key", record.EventKey}} {
			if v, ok := f.Get(k.slot); ok {
				rc.example = append(rc.example, zap.String("example_"+k.name, v.AsString()))
			}
		}
	}
	t.reasons = append(t.reasons, rc)
}

func (e *experimentationExporter) report(ctx context.Context, t *tally) {
	e.obs.built(ctx, "impression", t.impressions)
	e.obs.built(ctx, "conversion", t.conversions)
	e.obs.built(ctx, "custom_dimension", t.extra)
	for _, r := range t.resolutions {
		e.obs.resolved(ctx, r.resolution, r.conversion, r.n)
	}
	if t.guessed > 0 {
		e.obs.guessed(t.guessed)
	}
	e.obs.dedup(ctx, t.deduplicated, t.noExposure)
	for reason, n := range t.privacy {
		if n > 0 {
			e.obs.redacted(ctx, privacy.Reason(reason).String(), n)
		}
	}
	for _, r := range t.reasons {
		if r.dropped {
			e.obs.dropped(ctx, r.reason, r.n, "Dropping experimentation records that cannot become valid events.", r.example...)
		} else {
			e.obs.skipped(ctx, r.reason, r.n)
		}
	}
}

// convert turns a push's log records into one batch of encoded events, before the
// sending queue, so batch_size and the queue count events, not records.
func (e *experimentationExporter) convert(ctx context.Context, ld plog.Logs) (xexporterhelper.Request, error) {
	rev, ok := e.dest.Current()
	if !ok {
		return e.pendingBatch(ctx, ld)
	}
	// Size the buffer from the mean event size seen so far, for the records that can
	// become events: growing it by doubling would cost more than encoding the events,
	// and a buffer sized for plain log lines in the same push is allocated for nothing.
	n := e.eventRecords(ld)
	b := &eventBatch{bctx: rev.Context, Events: destination.Events{Data: make([]byte, 0, n*int(e.meanEventBytes.Load())*9/8), Ends: make([]int, 0, n)}}
	var t tally
	e.buildInto(b, ld, rev.NewBuilder(), &t)
	if k := b.Len(); k > 0 {
		e.meanEventBytes.Store(int64(len(b.Data) / k))
	}
	// The batch waits in the queue holding its buffer: not one sized for records that
	// became no event.
	b.trim()
	e.report(ctx, &t)
	return b, nil
}

// eventRecords counts the records of ld that record.Reader takes for impressions or
// conversions (by their event name); the others become no event.
func (e *experimentationExporter) eventRecords(ld plog.Logs) int {
	n := 0
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				if e.reader.KindOf(lrs.At(k)) != record.Other {
					n++
				}
			}
		}
	}
	return n
}

// convertTraces builds events from the flag-evaluation span events of a push, exactly
// as from log records with the same attributes.
func (e *experimentationExporter) convertTraces(ctx context.Context, td ptrace.Traces) (xexporterhelper.Request, error) {
	ld, skipped := e.spans.Logs(td)
	if skipped > 0 {
		e.obs.skipped(ctx, reason.NotAnEvent, skipped)
	}
	return e.convert(ctx, ld)
}

func (e *experimentationExporter) buildInto(b *eventBatch, ld plog.Logs, build destination.Builder, t *tally) {
	var f record.Fields
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				e.reader.Read(lrs.At(k), &f)
				if f.Kind == record.Other {
					t.add(reason.NotAnEvent, false, nil)
					continue
				}
				r := build.Build(&b.Events, &f)
				if f.Privacy != (privacy.Counts{}) {
					for i, n := range f.Privacy {
						t.privacy[i] += int(n)
					}
				}
				if r.NoExposure {
					t.noExposure++
				}
				if r.Deduplicated {
					// The impression was left out; what else the record became (VWO
					// custom-dimension pushes) still goes.
					t.deduplicated++
					t.extra += r.Events
					continue
				}
				if r.Events == 0 {
					t.add(r.Reason, r.Dropped, &f)
					continue
				}
				if f.Kind == record.Impression {
					t.impressions++
				} else {
					t.conversions++
				}
				t.extra += r.Events - 1
				if r.Resolution != "" {
					t.resolved(r.Resolution, f.Kind == record.Conversion)
				}
				if r.Guessed {
					t.guessed++
				}
			}
		}
	}
}

// pendingBatch keeps the experimentation records of ld, one serialized single-record
// plog.Logs per item, until events can be built.
func (e *experimentationExporter) pendingBatch(ctx context.Context, ld plog.Logs) (xexporterhelper.Request, error) {
	b := &pendingRecords{}
	var f record.Fields
	var t tally
	marshaler := plog.ProtoMarshaler{}
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			for k := 0; k < sl.LogRecords().Len(); k++ {
				lr := sl.LogRecords().At(k)
				e.reader.Read(lr, &f)
				if f.Kind == record.Other {
					t.add(reason.NotAnEvent, false, nil)
					continue
				}
				one := plog.NewLogs()
				orl := one.ResourceLogs().AppendEmpty()
				rl.Resource().CopyTo(orl.Resource())
				osl := orl.ScopeLogs().AppendEmpty()
				sl.Scope().CopyTo(osl.Scope())
				lr.CopyTo(osl.LogRecords().AppendEmpty())
				raw, err := marshaler.MarshalLogs(one)
				if err != nil {
					return nil, fmt.Errorf("keeping a record until the datafile arrives: %w", err)
				}
				b.Data = append(b.Data, raw...)
				b.End()
			}
		}
	}
	e.report(ctx, &t)
	return b, nil
}

// buildPending waits for the destination to be ready, then builds the kept records.
func (e *experimentationExporter) buildPending(ctx context.Context, p *pendingRecords) (*eventBatch, error) {
	if err := e.dest.WaitReady(ctx, e.stop); err != nil {
		return nil, err
	}
	rev, _ := e.dest.Current()
	b := &eventBatch{bctx: rev.Context}
	build := rev.NewBuilder()
	var t tally
	unmarshaler := plog.ProtoUnmarshaler{}
	for i := range p.Ends {
		ld, err := unmarshaler.UnmarshalLogs(p.Event(i))
		if err != nil {
			t.add(reason.CorruptPendingRecord, true, nil)
			continue
		}
		e.buildInto(b, ld, build, &t)
	}
	e.report(ctx, &t)
	return b, nil
}
