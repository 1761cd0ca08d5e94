// Command impressions reports flag evaluations from Go: OpenFeature evaluates a flag, the
// contrib OpenTelemetry hook adds a feature_flag.evaluation span event to the request's
// span, and the OTLP exporter sends the span to the collector, whose traces pipeline
// ends in the experimentation exporter.
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 go run .
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	otelhook "github.com/open-feature/go-sdk-contrib/hooks/open-telemetry/pkg"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/memprovider"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context) (err error) {
	// Spans go to $OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces (default http://localhost:4318).
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	defer func() { err = errors.Join(err, tp.Shutdown(ctx)) }() // sends what is left
	otel.SetTracerProvider(tp)

	// Your provider (Optimizely, VWO, flagd, ...): its variants must be the platform's
	// variation keys. This in-memory one gives everyone the variation "treatment".
	provider := memprovider.NewInMemoryProvider(map[string]memprovider.InMemoryFlag{
		"checkout_redesign": {
			Key:            "checkout_redesign",
			State:          memprovider.Enabled,
			DefaultVariant: "treatment",
			Variants:       map[string]any{"control": false, "treatment": true},
		},
	})
	if err := openfeature.SetProviderAndWait(provider); err != nil {
		return err
	}
	defer openfeature.Shutdown()
	openfeature.AddHooks(otelhook.NewTracesHook())
	client := openfeature.NewClient("checkout")

	return handle(ctx, client, "user-123")
}

// handle is one request. The evaluation's ctx must carry the span (otelhttp's request
// context does): the hook adds the event to trace.SpanFromContext(ctx).
func handle(ctx context.Context, client *openfeature.Client, userID string) error {
	ctx, span := otel.Tracer("checkout").Start(ctx, "GET /product")
	defer span.End()
	redesign, err := client.BooleanValue(ctx, "checkout_redesign", false,
		openfeature.NewEvaluationContext(userID, nil))
	if err != nil {
		return err
	}
	if redesign {
		fmt.Println("new checkout for", userID)
	} else {
		fmt.Println("old checkout for", userID)
	}
	return nil
}
