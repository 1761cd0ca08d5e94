package experimentationexporter

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
)

// FuzzConvert feeds OTLP/JSON logs (or, when the input is not OTLP/JSON, records whose
// attribute values are cut from the input) through mapping and encoding. Nothing may
// panic and every request body must be valid JSON.
func FuzzConvert(f *testing.F) {
	seed, err := os.ReadFile("testdata/otlp_logs.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed, 1.5)
	f.Add([]byte("user-1\x00checkout_redesign\x00checkout_redesign_ab\x00treatment\xff\xfe"), math.NaN())
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"eventName":"experiment.conversion","attributes":[{"key":"experiment.revenue","value":{"doubleValue":1e308}}]}]}]}]}`), math.Inf(1))
	vwoCfg := createDefaultConfig().(*Config)
	vwoCfg.Destination, vwoCfg.VWO.AccountID, vwoCfg.VWO.SDKKey, vwoCfg.VWO.PushCustomDimensions = DestinationVWO, 12345, "k", true
	vwoCfg.VWO.SettingsFilePath = filepath.Join("testdata", "vwo_settings.json")
	exporters := []*experimentationExporter{
		startedExporter(f, testConfig("http://127.0.0.1:1/v1/events")),
		startedExporter(f, vwoCfg),
	}
	f.Fuzz(func(t *testing.T, data []byte, num float64) {
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(data)
		if err != nil {
			ld = recordsFrom(data, num)
		}
		for _, e := range exporters {
			req, err := e.convert(context.Background(), ld)
			if err != nil {
				t.Fatal(err)
			}
			b := req.(*eventBatch)
			if body := b.appendBody(nil, 0, len(b.Ends)); !json.Valid(body) {
				t.Fatalf("invalid JSON body: %q", body)
			}
		}
	})
}

// recordsFrom builds an impression and a conversion whose attributes come from data.
func recordsFrom(data []byte, num float64) plog.Logs {
	part := func(i int) string {
		n := len(data)
		return string(data[i*n/4 : (i+1)*n/4])
	}
	return logsOf(
		with(impression(part(0), part(1), part(2), part(3)), func(lr plog.LogRecord) {
			lr.Attributes().PutStr("experiment.campaign.id", part(1))
			lr.Attributes().PutInt("experiment.variation.id", int64(len(data)))
			m := lr.Attributes().PutEmptyMap("experiment.visitor.attributes")
			m.PutStr(part(1), part(2))
			m.PutDouble("age", num)
			m.PutStr("$opt_x", part(3))
			lr.Attributes().PutStr("user_agent.original", part(0))
			lr.Attributes().PutStr("event.id", part(2))
		}),
		with(conversion(part(0), "purchase"), func(lr plog.LogRecord) {
			lr.Attributes().PutDouble("experiment.value", num)
			lr.Attributes().PutDouble("experiment.revenue", num)
			tags := lr.Attributes().PutEmptyMap("experiment.tags")
			tags.PutDouble(part(3), num)
			nested := tags.PutEmptyMap("n")
			for i := 0; i < 40; i++ {
				nested = nested.PutEmptyMap(part(i % 4))
			}
			tags.PutEmptyBytes("b").FromRaw(data)
		}),
	)
}
