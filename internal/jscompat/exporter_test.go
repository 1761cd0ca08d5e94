package jscompat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/experimentationexporter/experimentationexporter/internal/optimizely"
	"github.com/experimentationexporter/experimentationexporter/internal/record"
)

// The exporter's client name and version (exporter.go); the SDK sends its own, so they
// only need to be well-formed here.
const (
	exporterClientName    = "otel-collector-experimentation-exporter"
	exporterClientVersion = "0.1.0"
)

// exporterRun builds the exporter's events for one datafile.
type exporterRun struct {
	df     *optimizely.Datafile
	b      *optimizely.Builder
	r      *record.Reader
	prefix []byte // the EventBatch up to the first visitor
	header map[string]json.RawMessage
}

func newExporterRun(t *testing.T, data []byte) *exporterRun {
	t.Helper()
	df, err := optimizely.Parse(data)
	if err != nil {
		t.Fatalf("exporter rejects the datafile: %v", err)
	}
	e := &exporterRun{df: df, b: optimizely.NewBuilder(df, optimizely.FlagDecisionsAuto), r: record.NewReader(record.DefaultMapping())}
	e.prefix = df.BatchPrefix(exporterClientName, exporterClientVersion)
	hb, err := splitBatch(append(append([]byte(nil), e.prefix...), "]}"...))
	if err != nil {
		t.Fatalf("the exporter's batch prefix: %v", err)
	}
	e.header = hb.header
	return e
}

// built is what the exporter made of one record.
type built struct {
	visitor    json.RawMessage   // nil unless verdict is Built
	extra      []json.RawMessage // further visitor objects of the record (a holdout's impression)
	verdict    record.Verdict
	reason     string
	resolution optimizely.Resolution
}

func (e *exporterRun) append(lr plog.LogRecord) (built, error) {
	var f record.Fields
	e.r.Read(lr, &f)
	out, verdict, reason, res := e.b.AppendResolved(nil, &f)
	b := built{verdict: verdict, reason: reason, resolution: res}
	if verdict != record.Built {
		return b, nil
	}
	// The visitor must also make a valid EventBatch with the prefix.
	body := append(append(append([]byte(nil), e.prefix...), out...), "]}"...)
	sb, err := splitBatch(body)
	if err != nil || len(sb.visitors) == 0 {
		return b, fmt.Errorf("the exporter's body is not an EventBatch of visitors (%v): %s", err, body)
	}
	b.visitor, b.extra = sb.visitors[0], sb.visitors[1:]
	return b, nil
}

var fallbackTime = pcommon.Timestamp(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())

// newRecord starts a log record as the app logs it: event name, timestamp (the SDK
// event's, in ms, when it sent one), event.id (the SDK event's uuid, so both sides carry
// the same one and it can be compared exactly).
func newRecord(eventName string, sent map[string]any) (plog.Logs, plog.LogRecord) {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName(eventName)
	lr.SetTimestamp(fallbackTime)
	if sent != nil {
		if ts, ok := sent["timestamp"].(json.Number); ok {
			if ms, err := ts.Int64(); err == nil {
				lr.SetTimestamp(pcommon.Timestamp(ms * 1e6))
			}
		}
		if id, ok := sent["uuid"].(string); ok {
			lr.Attributes().PutStr("event.id", id)
		}
	}
	return ld, lr
}

// decisionRecord is the record an app with the OpenFeature OpenTelemetry EventHook
// logs for the SDK's decision (feature_flag.key, feature_flag.result.variant,
// feature_flag.context.id), with the visitor's attributes in experiment.visitor.attributes.
// sent is the SDK's impression event (nil if it sent none).
func decisionRecord(d *jsLine, sent map[string]any) (plog.Logs, plog.LogRecord, error) {
	ld, lr := newRecord("feature_flag.evaluation", sent)
	a := lr.Attributes()
	a.PutStr("feature_flag.key", d.FlagKey)
	a.PutStr("feature_flag.provider.name", "optimizely")
	if d.VariationKey != nil && *d.VariationKey != "" {
		a.PutStr("feature_flag.result.variant", *d.VariationKey)
		a.PutStr("feature_flag.result.reason", "targeting_match")
	} else {
		a.PutStr("feature_flag.result.reason", "default")
	}
	a.PutStr("feature_flag.context.id", d.UserID)
	if err := putAttributes(a, d.Attributes); err != nil {
		return ld, lr, err
	}
	return ld, lr, nil
}

// conversionRecord is the record an app logs next to user.trackEvent(key, tags):
// revenue and value in their own attributes, the other tags in experiment.tags.
func conversionRecord(c *jsLine, sent map[string]any) (plog.Logs, plog.LogRecord, error) {
	ld, lr := newRecord("experiment.conversion", sent)
	a := lr.Attributes()
	a.PutStr("user.id", c.UserID)
	a.PutStr("experiment.event.key", c.EventKey)
	if err := putAttributes(a, c.Attributes); err != nil {
		return ld, lr, err
	}
	tags, err := orderedObject(c.Tags)
	if err != nil {
		return ld, lr, err
	}
	var rest []kv
	for _, t := range tags {
		switch t.key {
		case "revenue":
			putValue(a, "experiment.revenue", t.value)
		case "value":
			putValue(a, "experiment.value", t.value)
		default:
			rest = append(rest, t)
		}
	}
	if len(rest) > 0 {
		m := a.PutEmptyMap("experiment.tags")
		for _, t := range rest {
			putValue(m, t.key, t.value)
		}
	}
	return ld, lr, nil
}

// putAttributes puts the visitor attributes (a JSON object as the SDK got them, or null)
// in experiment.visitor.attributes, in the object's order.
func putAttributes(a pcommon.Map, raw json.RawMessage) error {
	attrs, err := orderedObject(raw)
	if err != nil || attrs == nil {
		return err
	}
	m := a.PutEmptyMap("experiment.visitor.attributes")
	for _, x := range attrs {
		putValue(m, x.key, x.value)
	}
	return nil
}

// putValue puts a JSON value as OpenTelemetry JS logs it: an integral number as Int
// (Number.isInteger), another number as Double, null as an empty value.
func putValue(dst pcommon.Map, k string, v any) {
	switch v := v.(type) {
	case nil:
		dst.PutEmpty(k)
	case string:
		dst.PutStr(k, v)
	case bool:
		dst.PutBool(k, v)
	case json.Number:
		s := string(v)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				dst.PutInt(k, i)
				return
			}
		}
		f, _ := v.Float64()
		if f == float64(int64(f)) && f >= -(1<<53) && f <= 1<<53 {
			dst.PutInt(k, int64(f))
			return
		}
		dst.PutDouble(k, f)
	case []any:
		s := dst.PutEmptySlice(k)
		for _, x := range v {
			tmp := pcommon.NewMap()
			putValue(tmp, "", x)
			y, _ := tmp.Get("")
			y.CopyTo(s.AppendEmpty())
		}
	case map[string]any:
		panic("nested objects are not used here")
	}
}

type kv struct {
	key   string
	value any
}

// orderedObject decodes a JSON object keeping its key order and numbers as json.Number;
// null gives nil.
func orderedObject(raw json.RawMessage) ([]kv, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %.100s", raw)
	}
	out := []kv{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, kv{tok.(string), v})
	}
	return out, nil
}

func verdictName(v record.Verdict) string {
	switch v {
	case record.Built:
		return "Built"
	case record.Skipped:
		return "Skipped"
	case record.Dropped:
		return "Dropped"
	}
	return strconv.Itoa(int(v))
}
