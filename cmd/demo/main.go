// Command demo runs the whole path on one machine: the Event API replica, the collector
// built with ocb, and an application instrumented with the OpenTelemetry Go SDK that
// emits impressions and conversions for a few hundred users and some ordinary log lines.
// It prints what the API received and exits non-zero if anything is missing.
//
//	go run ./cmd/demo -collector _build/otelcol-experimentation -config examples/demo.yaml
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
	"github.com/experimentationexporter/experimentationexporter/internal/harness"
)

func main() {
	collector := flag.String("collector", "_build/otelcol-experimentation", "collector binary built with ocb (make collector)")
	config := flag.String("config", "examples/demo.yaml", "collector config; it reads OTLP_ENDPOINT, EVENTS_ENDPOINT and DATAFILE_PATH")
	datafile := flag.String("datafile", "testdata/datafile.json", "Optimizely datafile the collector resolves events against")
	users := flag.Int("users", 300, "demo users: one impression each, a conversion for every third")
	wait := flag.Duration("wait", 60*time.Second, "longest wait for the events to arrive")
	flag.Parse()
	if err := run(*collector, *config, *datafile, *users, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(collector, config, datafile string, users int, wait time.Duration) error {
	if _, err := os.Stat(collector); err != nil {
		return fmt.Errorf("collector binary (build it with make collector): %w", err)
	}
	datafile, err := filepath.Abs(datafile)
	if err != nil {
		return err
	}
	api := eventsapi.New(eventsapi.Options{})
	apiURL, err := api.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer api.Close()
	port, err := harness.FreePort()
	if err != nil {
		return err
	}
	otlp := "127.0.0.1:" + strconv.Itoa(port)
	col := &harness.Collector{Binary: collector, ConfigPath: config, OTLPPort: port, Env: []string{
		"OTLP_ENDPOINT=" + otlp, "EVENTS_ENDPOINT=" + apiURL + eventsapi.OptimizelyPath, "DATAFILE_PATH=" + datafile,
	}}
	fmt.Printf("Event API replica on %s; collector %s with %s, OTLP/HTTP on %s\n", apiURL, collector, config, otlp)
	if err := col.Start(30 * time.Second); err != nil {
		return err
	}
	defer col.Stop(30 * time.Second)

	// The demo application: what an app with OpenFeature's OpenTelemetry hook emits.
	ctx := context.Background()
	app, err := harness.NewEmitter(ctx, otlp, 2*users+64)
	if err != nil {
		return err
	}
	now := time.Now()
	conversions, plain := 0, 0
	for i := 0; i < users; i++ {
		app.Impression(ctx, i, now)
		if i%3 == 0 {
			app.Conversion(ctx, i, now.Add(time.Second))
			conversions++
		}
		if i%100 == 0 {
			app.Plain(ctx, "GET /cart/"+harness.UserID(i)+" 200 12ms")
			plain++
		}
	}
	app.Plain(ctx, "POST /checkout 201 40ms")
	plain++
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := app.Shutdown(sctx); err != nil { // flushes every record to the collector
		return fmt.Errorf("demo app: %w", err)
	}
	fmt.Printf("demo app emitted %d impressions, %d conversions and %d ordinary log lines\n", users, conversions, plain)

	start := time.Now()
	arrived := harness.WaitFor(ctx, wait, func() bool {
		st := api.Stats()
		return st.Impressions >= users && st.Conversions >= conversions
	})
	if arrived {
		fmt.Printf("all events arrived %s after the app's flush; stopping the collector (SIGTERM)\n", time.Since(start).Round(time.Millisecond))
	} else {
		fmt.Printf("waited %s; stopping the collector (SIGTERM)\n", wait)
	}
	if err := col.Stop(30 * time.Second); err != nil {
		return err
	}

	st, uuids := api.Stats(), api.UUIDs()
	dups := 0
	for _, c := range uuids {
		dups += c - 1
	}
	fmt.Printf("Event API received:\n")
	fmt.Printf("  requests     %d (%d accepted, %d rejected)\n", st.Requests, st.Accepted, st.Rejected)
	fmt.Printf("  impressions  %d of %d\n", st.Impressions, users)
	fmt.Printf("  conversions  %d of %d\n", st.Conversions, conversions)
	fmt.Printf("  bytes        %d\n", st.Bytes)
	fmt.Printf("  duplicates   %d\n", dups)
	if st.Impressions < users || st.Conversions < conversions {
		fmt.Fprintf(os.Stderr, "collector output:\n%s\n", tail(col.Output(), 4000))
		return fmt.Errorf("missing events: %d of %d impressions and %d of %d conversions arrived",
			st.Impressions, users, st.Conversions, conversions)
	}
	fmt.Println("every event arrived")
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
