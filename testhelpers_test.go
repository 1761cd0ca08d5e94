package experimentationexporter

import (
	"context"
	"flag"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/experimentationexporter/experimentationexporter/internal/metadata"
)

var update = flag.Bool("update", false, "rewrite golden files")

// baseTime is the fixture's first record time: 2025-11-23T12:13:20.123Z.
var baseTime = time.Unix(0, 1763900000123000000)

// testConfig is a valid Optimizely config on the fixture datafile, sending to url.
func testConfig(url string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Optimizely.DatafilePath = filepath.Join("testdata", "datafile.json")
	cfg.Endpoint = url
	return cfg
}

// startedExporter builds an exporter on cfg and starts it.
func startedExporter(t testing.TB, cfg *Config) *experimentationExporter {
	t.Helper()
	e, err := newExporter(cfg, exportertest.NewNopSettings(metadata.Type))
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	return e
}

// logsOf wraps records built by fns into one plog.Logs.
func logsOf(fns ...func(lr plog.LogRecord)) plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, fn := range fns {
		fn(lrs.AppendEmpty())
	}
	return ld
}

func impression(visitor, flag, rule, variation string) func(plog.LogRecord) {
	return func(lr plog.LogRecord) {
		lr.SetEventName("feature_flag.evaluation")
		lr.SetTimestamp(pcommon.NewTimestampFromTime(baseTime))
		a := lr.Attributes()
		a.PutStr("feature_flag.context.id", visitor)
		a.PutStr("feature_flag.key", flag)
		a.PutStr("experiment.rule.key", rule)
		a.PutStr("feature_flag.result.variant", variation)
	}
}

func conversion(visitor, eventKey string) func(plog.LogRecord) {
	return func(lr plog.LogRecord) {
		lr.SetEventName("experiment.conversion")
		lr.SetTimestamp(pcommon.NewTimestampFromTime(baseTime))
		a := lr.Attributes()
		a.PutStr("user.id", visitor)
		a.PutStr("experiment.event.key", eventKey)
	}
}

// with applies extra changes after a record builder.
func with(base func(plog.LogRecord), extra func(plog.LogRecord)) func(plog.LogRecord) {
	return func(lr plog.LogRecord) { base(lr); extra(lr) }
}

// checkGolden compares got with testdata/golden/name as JSON.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		var buf []byte
		buf = append(buf, got...)
		require.NoError(t, os.WriteFile(path, indentJSON(t, buf), 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got))
}

// startObservedLogs is startLogs with the exporter's log lines at level and above captured.
func startObservedLogs(t *testing.T, cfg *Config, level zapcore.Level) (exporter.Logs, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(level)
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	exp, _, err := newLogsExporter(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	return exp, logs
}

// exporterAttr is the exporter attribute every metric of an exporter made with the
// test settings carries: its component id.
var exporterAttr = attribute.String("exporter", component.NewID(metadata.Type).String())
