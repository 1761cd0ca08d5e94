// Command decisionlistener is an app that calls the Optimizely Go SDK directly, without
// OpenFeature: a DECISION notification listener reports every Decide call's decision as a
// feature_flag.evaluation log record, with the rule key, and DisableDecisionEvent keeps
// the SDK from sending the same impression itself (it would be counted twice).
//
//	OPTIMIZELY_SDK_KEY=... OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 go run .
//
// OPTIMIZELY_DATAFILE, when set, is a datafile to start with instead of the first poll of
// the CDN (offline; the end-to-end test runs it with testdata/datafile.json and no SDK key).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/optimizely/go-sdk/v2/pkg/client"
	"github.com/optimizely/go-sdk/v2/pkg/decide"
	"github.com/optimizely/go-sdk/v2/pkg/notification"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context) (err error) {
	// Records go to $OTEL_EXPORTER_OTLP_ENDPOINT/v1/logs (default http://localhost:4318).
	exp, err := otlploghttp.New(ctx)
	if err != nil {
		return err
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
	defer func() { err = errors.Join(err, lp.Shutdown(ctx)) }() // sends what is left
	logger := lp.Logger("checkout")

	sdkKey := os.Getenv("OPTIMIZELY_SDK_KEY")
	var datafile []byte // nil: the SDK fetches the datafile for sdkKey
	if path := os.Getenv("OPTIMIZELY_DATAFILE"); path != "" {
		if datafile, err = os.ReadFile(path); err != nil {
			return err
		}
	}

	// snippet:start listener
	optly, err := (&client.OptimizelyFactory{SDKKey: sdkKey, Datafile: datafile}).Client(
		client.WithDefaultDecideOptions([]decide.OptimizelyDecideOptions{decide.DisableDecisionEvent}))
	if err != nil {
		return err
	}
	defer optly.Close()
	_, err = optly.DecisionService.OnDecision(func(n notification.DecisionNotification) {
		info := n.DecisionInfo
		variation, _ := info["variationKey"].(string)
		if n.Type != notification.Flag || variation == "" {
			return // not a Decide call, or no rule matched
		}
		flag, _ := info["flagKey"].(string)
		rule, _ := info["ruleKey"].(string)
		var r log.Record
		r.SetEventName("feature_flag.evaluation")
		r.SetTimestamp(time.Now())
		r.AddAttributes(
			attribute.String("feature_flag.key", flag),
			attribute.String("feature_flag.result.variant", variation),
			attribute.String("user.id", n.UserContext.ID),
			attribute.String("experiment.rule.key", rule),
		) // add the user's attributes as the map experiment.visitor.attributes to keep them on the impression
		logger.Emit(context.Background(), r)
	})
	if err != nil {
		return err
	}
	// snippet:end listener

	user := optly.CreateUserContext("user-123", nil)
	decision := user.Decide("checkout_redesign", nil)
	fmt.Printf("checkout_redesign: variation %q of rule %q\n", decision.VariationKey, decision.RuleKey)
	return nil
}
