// Command goclient is a real Go app for the end-to-end tests: it decides flags with
// the official Optimizely Go SDK behind an OpenFeature provider, lets the OpenFeature
// contrib OpenTelemetry hook record each evaluation as a span event, and exports the
// spans over OTLP/HTTP. The SDK's own event dispatcher is replaced by one that
// captures every payload the SDK would have posted to the Event API; those payloads
// are written to -expect as the ground truth the collector's output is compared to.
// With -conversions it also reports a purchase for every third user, as an app does:
// an experiment.conversion log record through the OpenTelemetry logs SDK.
//
// With -attributes every user gets visitor attributes (userAttributes: device,
// app_version, age, country, is_vip, plan, loyalty_points, cycling by user index), sent
// in the OpenFeature evaluation context, which the provider hands to the Optimizely
// user context: audiences decide. With -rule-key-setter the hook copies the rule key the
// provider puts in the flag metadata to experiment.rule.key on the span event, so the
// exporter never has to find the rule (the README's recipe).
//
//	cd testbed/e2e/goclient && go build -o ../../../_build/goclient .
//	goclient -datafile testdata/datafile.json -otlp http://127.0.0.1:4318 -users 200 -expect want.jsonl
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	otelhook "github.com/open-feature/go-sdk-contrib/hooks/open-telemetry/pkg"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/optimizely/go-sdk/v2/pkg/client"
	"github.com/optimizely/go-sdk/v2/pkg/config"
	"github.com/optimizely/go-sdk/v2/pkg/event"
	"github.com/optimizely/go-sdk/v2/pkg/logging"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "goclient:", err)
		os.Exit(1)
	}
}

// expectation is one line of -expect: one evaluation and the impression the SDK
// dispatched for it (null when it sent none).
type expectation struct {
	User         string               `json:"user"`
	Attributes   map[string]any       `json:"attributes,omitempty"`
	Flag         string               `json:"flag"`
	VariationKey string               `json:"variation_key"`
	Reason       string               `json:"reason"`
	Value        any                  `json:"value"`
	RuleKey      string               `json:"rule_key"`
	Enabled      bool                 `json:"enabled"`
	SDKDecisions []event.Decision     `json:"sdk_decisions"`
	SDKEvent     *event.SnapshotEvent `json:"sdk_event"`
}

func run() error {
	datafile := flag.String("datafile", "", "Optimizely datafile (required)")
	otlp := flag.String("otlp", "", "OTLP/HTTP base URL, e.g. http://127.0.0.1:4318; empty: decide only, export nothing")
	users := flag.Int("users", 10, "evaluate for user-0 .. user-(N-1)")
	flags := flag.String("flags", "", "comma-separated flag keys (default: every flag in the datafile)")
	typ := flag.String("type", "bool", "OpenFeature flag type: bool (value = enabled) or string (value = variation key)")
	expect := flag.String("expect", "", "write one JSON line per evaluation here")
	conversions := flag.Bool("conversions", false, "also report a purchase (experiment.conversion log record, revenue 4200) for every third user; needs -otlp")
	withAttrs := flag.Bool("attributes", false, "give every user visitor attributes (device, app_version, age, country, is_vip, plan, loyalty_points) in the evaluation context")
	ruleKeySetter := flag.Bool("rule-key-setter", false, "the hook copies the flag metadata's ruleKey to experiment.rule.key on the span event")
	flag.Parse()
	if *datafile == "" {
		return errors.New("-datafile is required")
	}
	if *typ != "bool" && *typ != "string" {
		return fmt.Errorf("-type %q: want bool or string", *typ)
	}
	if *conversions && *otlp == "" {
		return errors.New("-conversions needs -otlp")
	}
	data, err := os.ReadFile(*datafile)
	if err != nil {
		return err
	}
	logging.SetLogLevel(logging.LogLevelWarning)

	// The Optimizely SDK, with its dispatcher replaced by one that keeps the payloads.
	captured := &capture{}
	cm := config.NewStaticProjectConfigManagerWithOptions("", config.WithInitialDatafile(data))
	if cm == nil {
		return fmt.Errorf("%s: the Optimizely SDK cannot read this datafile", *datafile)
	}
	optly, err := (&client.OptimizelyFactory{Datafile: data}).Client(
		client.WithConfigManager(cm),
		client.WithEventProcessor(event.NewBatchEventProcessor(
			event.WithEventDispatcher(captured),
			event.WithBatchSize(10),
			event.WithQueueSize(1<<20), // the default (1000) drops events when full
			event.WithFlushInterval(time.Second),
		)),
		client.WithOdpDisabled(true),
	)
	if err != nil {
		return err
	}
	keys := strings.Split(*flags, ",")
	if *flags == "" {
		keys = slices.Sorted(maps.Keys(optly.GetOptimizelyConfig().FeaturesMap))
	}

	// OpenTelemetry: a tracer provider exporting over OTLP/HTTP (or not at all).
	ctx := context.Background()
	res := resource.NewSchemaless(attribute.String("service.name", "goclient"))
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	var exp *recordingExporter
	var lp *sdklog.LoggerProvider
	var logExp *recordingLogExporter
	if *otlp != "" {
		u, err := url.Parse(*otlp)
		if err != nil {
			return fmt.Errorf("-otlp: %w", err)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		e, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()))
		if err != nil {
			return err
		}
		exp = &recordingExporter{SpanExporter: e}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp, sdktrace.WithBlocking()))
		if *conversions {
			u.Path = strings.TrimSuffix(u.Path, "/v1/traces") + "/v1/logs"
			le, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(u.String()))
			if err != nil {
				return err
			}
			logExp = &recordingLogExporter{Exporter: le}
			lp = sdklog.NewLoggerProvider(sdklog.WithResource(res),
				sdklog.WithProcessor(sdklog.NewBatchProcessor(logExp, sdklog.WithMaxQueueSize(max(*users, 2048)))))
		}
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	tracer := tp.Tracer("goclient")
	var logger otellog.Logger
	if lp != nil {
		logger = lp.Logger("goclient")
	}

	// OpenFeature: the provider below and the contrib hook, with its defaults or with
	// the rule key setter.
	if err := openfeature.SetProviderAndWait(newProvider(optly)); err != nil {
		return err
	}
	if *ruleKeySetter {
		// The README's recipe. The hook's setter sees only the flag metadata, and span
		// event attributes cannot hold maps: a Go app sends the rule the SDK decided,
		// which the provider puts in the metadata as "ruleKey"
		// (OptimizelyDecision.RuleKey). The exporter reads experiment.rule.key and need
		// not resolve the rule from the datafile (resolution "record", never a guess).
		openfeature.AddHooks(otelhook.NewTracesHook(otelhook.WithTracesAttributeSetter(
			func(md openfeature.FlagMetadata) []attribute.KeyValue {
				if rule, _ := md["ruleKey"].(string); rule != "" {
					return []attribute.KeyValue{attribute.String("experiment.rule.key", rule)}
				}
				return nil
			})))
	} else {
		openfeature.AddHooks(otelhook.NewTracesHook())
	}
	of := openfeature.NewClient("goclient")

	var out []expectation
	sent := 0 // conversions
	for i := range *users {
		user := fmt.Sprintf("user-%d", i)
		var attrs map[string]any
		if *withAttrs {
			attrs = userAttributes(i)
		}
		for _, key := range keys {
			// The hook adds its span event to trace.SpanFromContext(ctx).
			_, span := tracer.Start(ctx, "GET /product", trace.WithSpanKind(trace.SpanKindServer))
			spanCtx := trace.ContextWithSpan(ctx, span)
			evalCtx := openfeature.NewEvaluationContext(user, attrs)
			var d openfeature.InterfaceEvaluationDetails
			if *typ == "string" {
				sd, _ := of.StringValueDetails(spanCtx, key, "", evalCtx)
				d = openfeature.InterfaceEvaluationDetails{Value: sd.Value, EvaluationDetails: sd.EvaluationDetails}
			} else {
				bd, _ := of.BooleanValueDetails(spanCtx, key, false, evalCtx)
				d = openfeature.InterfaceEvaluationDetails{Value: bd.Value, EvaluationDetails: bd.EvaluationDetails}
			}
			span.End()
			rule, _ := d.FlagMetadata["ruleKey"].(string)
			enabled, _ := d.FlagMetadata["enabled"].(bool)
			out = append(out, expectation{User: user, Attributes: attrs, Flag: key, VariationKey: d.Variant,
				Reason: string(d.Reason), Value: d.Value, RuleKey: rule, Enabled: enabled})
		}
		if logger != nil && i%3 == 0 {
			// A conversion: the user bought something worth 42.00 (revenue in cents).
			var r otellog.Record
			r.SetEventName("experiment.conversion")
			r.SetTimestamp(time.Now())
			r.AddAttributes(
				attribute.String("user.id", user),
				attribute.String("experiment.event.key", "purchase"),
				attribute.Int64("experiment.revenue", 4200),
			)
			logger.Emit(ctx, r)
			sent++
		}
	}

	// Close flushes the SDK's batch event processor into the capturing dispatcher.
	optly.Close()
	openfeature.Shutdown()
	impressions, err := captured.byEvaluation()
	if err != nil {
		return err
	}
	for i := range out {
		k := [2]string{out[i].User, out[i].Flag}
		if imp, ok := impressions[k]; ok {
			out[i].SDKDecisions = imp.Decisions
			out[i].SDKEvent = &imp.Events[0]
			delete(impressions, k)
		}
	}
	if len(impressions) > 0 {
		return fmt.Errorf("the SDK dispatched %d impressions for no evaluation", len(impressions))
	}

	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := tp.ForceFlush(sctx); err != nil {
		return fmt.Errorf("flushing spans: %w", err)
	}
	if err := tp.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down the tracer provider: %w", err)
	}
	if exp != nil {
		if err := exp.firstErr(); err != nil {
			return fmt.Errorf("exporting spans: %w", err)
		}
	}
	if lp != nil {
		if err := lp.Shutdown(sctx); err != nil { // flushes the conversions
			return fmt.Errorf("shutting down the logger provider: %w", err)
		}
		if err := logExp.firstErr(); err != nil {
			return fmt.Errorf("exporting log records: %w", err)
		}
	}

	if *expect != "" {
		f, err := os.Create(*expect)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(f)
		for _, e := range out {
			if err := enc.Encode(e); err != nil {
				_ = f.Close()
				return err
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "goclient: %d evaluations (%d users x %d flags), %d SDK impressions",
		len(out), *users, len(keys), captured.count())
	if *conversions {
		fmt.Fprintf(os.Stderr, ", %d conversions", sent)
	}
	fmt.Fprintln(os.Stderr)
	return nil
}

// userAttributes are user i's visitor attributes: each one cycles with its own period,
// so the audiences of testbed/e2e/testdata/audiences_datafile.json (modern mobile app,
// adults outside KP, VIP, has plan, loyal customers, old app) split the users between
// rules that hold the same variation keys. plan is absent for every seventh user.
func userAttributes(i int) map[string]any {
	m := map[string]any{
		"device":         []string{"ios", "android", "web"}[i%3],
		"app_version":    []string{"1.9.3", "2.4.9", "2.5.0", "2.6.1", "3.0.0"}[i%5],
		"age":            12 + (i*7)%70,
		"country":        []string{"US", "DE", "KP"}[(i/3)%3],
		"is_vip":         i%4 == 0,
		"loyalty_points": (i * 37) % 6000,
	}
	if i%7 != 6 {
		m["plan"] = []string{"free", "pro", "team"}[i%3]
	}
	return m
}

// provider is an OpenFeature provider backed by the Optimizely Go SDK: the variant is
// the variation key the SDK's Decide returned.
type provider struct {
	c     *client.OptimizelyClient
	flags map[string]bool
}

func newProvider(c *client.OptimizelyClient) *provider {
	p := &provider{c: c, flags: map[string]bool{}}
	for k := range c.GetOptimizelyConfig().FeaturesMap {
		p.flags[k] = true
	}
	return p
}

func (p *provider) Metadata() openfeature.Metadata { return openfeature.Metadata{Name: "optimizely"} }
func (p *provider) Hooks() []openfeature.Hook      { return nil }

// decide runs user.Decide and fills the resolution detail. ok is false on errors.
func (p *provider) decide(flagKey string, flat openfeature.FlattenedContext) (client.OptimizelyDecision, openfeature.ProviderResolutionDetail, bool) {
	var d client.OptimizelyDecision
	userID, _ := flat[openfeature.TargetingKey].(string)
	if userID == "" {
		return d, openfeature.ProviderResolutionDetail{Reason: openfeature.ErrorReason,
			ResolutionError: openfeature.NewTargetingKeyMissingResolutionError("no targeting key")}, false
	}
	if !p.flags[flagKey] {
		return d, openfeature.ProviderResolutionDetail{Reason: openfeature.ErrorReason,
			ResolutionError: openfeature.NewFlagNotFoundResolutionError(fmt.Sprintf("flag %q is not in the datafile", flagKey))}, false
	}
	attrs := map[string]any{}
	for k, v := range flat {
		if k != openfeature.TargetingKey {
			attrs[k] = v
		}
	}
	user := p.c.CreateUserContext(userID, attrs)
	d = user.Decide(flagKey, nil)
	res := openfeature.ProviderResolutionDetail{
		Variant:      d.VariationKey,
		Reason:       openfeature.SplitReason,
		FlagMetadata: openfeature.FlagMetadata{"ruleKey": d.RuleKey, "enabled": d.Enabled},
	}
	if d.VariationKey == "" { // no rule bucketed the user: the flag is off
		res.Reason = openfeature.DefaultReason
	}
	return d, res, true
}

func (p *provider) BooleanEvaluation(_ context.Context, flag string, def bool, flat openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	d, res, ok := p.decide(flag, flat)
	if !ok {
		return openfeature.BoolResolutionDetail{Value: def, ProviderResolutionDetail: res}
	}
	return openfeature.BoolResolutionDetail{Value: d.Enabled, ProviderResolutionDetail: res}
}

func (p *provider) StringEvaluation(_ context.Context, flag string, def string, flat openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	d, res, ok := p.decide(flag, flat)
	if !ok || d.VariationKey == "" {
		return openfeature.StringResolutionDetail{Value: def, ProviderResolutionDetail: res}
	}
	return openfeature.StringResolutionDetail{Value: d.VariationKey, ProviderResolutionDetail: res}
}

func (p *provider) ObjectEvaluation(_ context.Context, flag string, def any, flat openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	d, res, ok := p.decide(flag, flat)
	if !ok || d.Variables == nil {
		return openfeature.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: res}
	}
	return openfeature.InterfaceResolutionDetail{Value: d.Variables.ToMap(), ProviderResolutionDetail: res}
}

func (p *provider) FloatEvaluation(_ context.Context, _ string, def float64, _ openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	return openfeature.FloatResolutionDetail{Value: def, ProviderResolutionDetail: typeMismatch()}
}

func (p *provider) IntEvaluation(_ context.Context, _ string, def int64, _ openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	return openfeature.IntResolutionDetail{Value: def, ProviderResolutionDetail: typeMismatch()}
}

func typeMismatch() openfeature.ProviderResolutionDetail {
	return openfeature.ProviderResolutionDetail{Reason: openfeature.ErrorReason,
		ResolutionError: openfeature.NewTypeMismatchResolutionError("Optimizely flags are boolean, string (variation key) or object (variables)")}
}

// capture is the SDK's event dispatcher: it keeps every LogEvent instead of posting it.
type capture struct {
	mu     sync.Mutex
	events []event.LogEvent
}

func (c *capture) DispatchEvent(e event.LogEvent) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
	return true, nil
}

func (c *capture) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.events {
		n += len(e.Event.Visitors)
	}
	return n
}

// byEvaluation indexes the captured impressions by (visitor_id, flag_key). Each pair
// is evaluated once, so a second impression for one is an error.
func (c *capture) byEvaluation() (map[[2]string]event.Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[[2]string]event.Snapshot{}
	for _, e := range c.events {
		for _, v := range e.Event.Visitors {
			for _, s := range v.Snapshots {
				if len(s.Decisions) == 0 || len(s.Events) != 1 {
					return nil, fmt.Errorf("visitor %s: a snapshot that is not one impression", v.VisitorID)
				}
				k := [2]string{v.VisitorID, s.Decisions[0].Metadata.FlagKey}
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("two impressions for %v", k)
				}
				m[k] = s
			}
		}
	}
	return m, nil
}

// firstError remembers the first export error, which the batch processors would
// otherwise only log.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) record(err error) error {
	if err != nil {
		f.mu.Lock()
		if f.err == nil {
			f.err = err
		}
		f.mu.Unlock()
	}
	return err
}

func (f *firstError) firstErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// recordingExporter and recordingLogExporter keep the first error of the span and log
// exporters.
type recordingExporter struct {
	sdktrace.SpanExporter
	firstError
}

func (r *recordingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	return r.record(r.SpanExporter.ExportSpans(ctx, spans))
}

type recordingLogExporter struct {
	sdklog.Exporter
	firstError
}

func (r *recordingLogExporter) Export(ctx context.Context, records []sdklog.Record) error {
	return r.record(r.Exporter.Export(ctx, records))
}
