// Command conversions reports a purchase from Go: an experiment.conversion log record
// through the OpenTelemetry logs SDK, exported over OTLP/HTTP to the collector, whose logs
// pipeline ends in the experimentation exporter. For Optimizely the event key is one of
// the datafile's and the revenue is in cents.
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 go run .
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

func main() {
	if err := run(context.Background(), "user-123"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, userID string) (err error) {
	// Records go to $OTEL_EXPORTER_OTLP_ENDPOINT/v1/logs (default http://localhost:4318).
	exp, err := otlploghttp.New(ctx)
	if err != nil {
		return err
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
	defer func() { err = errors.Join(err, lp.Shutdown(ctx)) }() // sends what is left
	logger := lp.Logger("checkout")

	var r log.Record
	r.SetEventName("experiment.conversion")
	r.SetTimestamp(time.Now())
	r.AddAttributes(
		attribute.String("user.id", userID),
		attribute.String("experiment.event.key", "purchase"),
		attribute.Int64("experiment.revenue", 4200), // cents
	)
	logger.Emit(ctx, r)
	return nil
}
