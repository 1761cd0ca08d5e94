// Command rulekey sends the rule with each impression from Go. The contrib hook's
// attribute setter sees only the flag metadata of the provider's answer (span event
// attributes cannot hold the map of visitor attributes), so a provider that puts the
// decision's rule key in its flag metadata lets the hook copy it to experiment.rule.key:
// the exporter then needs no rule resolution (impressions_resolved{resolution="record"}).
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
	"go.opentelemetry.io/otel/attribute"
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

	// A provider that reports the rule it decided with as the flag metadata "ruleKey" (the
	// Optimizely SDK's decision has it: testbed/e2e/goclient's provider does this). This
	// in-memory one gives everyone "treatment" of the A/B test checkout_redesign_ab.
	decide := func(memprovider.InMemoryFlag, openfeature.FlattenedContext) (any, openfeature.ProviderResolutionDetail) {
		return true, openfeature.ProviderResolutionDetail{
			Reason:       openfeature.TargetingMatchReason,
			Variant:      "treatment",
			FlagMetadata: openfeature.FlagMetadata{"ruleKey": "checkout_redesign_ab"},
		}
	}
	provider := memprovider.NewInMemoryProvider(map[string]memprovider.InMemoryFlag{
		"checkout_redesign": {
			Key:              "checkout_redesign",
			State:            memprovider.Enabled,
			DefaultVariant:   "control",
			Variants:         map[string]any{"control": false, "treatment": true},
			ContextEvaluator: &decide,
		},
	})
	if err := openfeature.SetProviderAndWait(provider); err != nil {
		return err
	}
	defer openfeature.Shutdown()

	// snippet:start hook
	hook := otelhook.NewTracesHook(otelhook.WithTracesAttributeSetter(
		func(md openfeature.FlagMetadata) []attribute.KeyValue {
			if rule, ok := md["ruleKey"].(string); ok && rule != "" {
				return []attribute.KeyValue{attribute.String("experiment.rule.key", rule)}
			}
			return nil
		}))
	// snippet:end hook
	openfeature.AddHooks(hook)
	client := openfeature.NewClient("checkout")

	ctx, span := otel.Tracer("checkout").Start(ctx, "GET /product")
	defer span.End()
	redesign, err := client.BooleanValue(ctx, "checkout_redesign", false,
		openfeature.NewEvaluationContext("user-123", nil))
	if err != nil {
		return err
	}
	fmt.Println("checkout_redesign:", redesign)
	return nil
}
