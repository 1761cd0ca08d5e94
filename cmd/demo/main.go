// Command demo runs the main job on one machine: the Event API replica, the collector
// built with ocb, and an application instrumented with the OpenTelemetry Go SDK that
// emits impressions and conversions for a few hundred users. It prints what the API
// received and exits non-zero if anything is missing.
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
	collector := flag.String("collector", "_build/otelcol-experimentation", "collector binary built with ocb")
	config := flag.String("config", "examples/demo.yaml", "collector config")
	users := flag.Int("users", 300, "demo users: one impression each, a conversion for every third")
	flag.Parse()
	if err := run(*collector, *config, *users); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(collector, config string, users int) error {
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
	datafile, _ := filepath.Abs("testdata/datafile.json")
	otlp := "127.0.0.1:" + strconv.Itoa(port)
	col := &harness.Collector{Binary: collector, ConfigPath: config, OTLPPort: port, Env: []string{
		"OTLP_ENDPOINT=" + otlp, "EVENTS_ENDPOINT=" + apiURL + "/v1/events", "DATAFILE_PATH=" + datafile,
	}}
	fmt.Printf("Event API replica on %s; starting the collector (OTLP/HTTP on %s)\n", apiURL, otlp)
	if err := col.Start(30 * time.Second); err != nil {
		return err
	}
	defer col.Stop(30 * time.Second)

	ctx := context.Background()
	app, err := harness.NewEmitter(ctx, otlp, 4*users+16)
	if err != nil {
		return err
	}
	now := time.Now()
	conversions := 0
	for i := 0; i < users; i++ {
		app.Impression(ctx, i, now)
		if i%3 == 0 {
			app.Conversion(ctx, i, now.Add(time.Second))
			conversions++
		}
	}
	app.Plain(ctx, "GET /cart 200 12ms")
	if err := app.Shutdown(ctx); err != nil {
		return fmt.Errorf("demo app: %w", err)
	}
	fmt.Printf("demo app emitted %d impressions, %d conversions and 1 ordinary log line\n", users, conversions)

	want := users + conversions
	harness.WaitFor(ctx, 60*time.Second, func() bool { return len(api.UUIDs()) >= want })
	if err := col.Stop(30 * time.Second); err != nil {
		return err
	}
	st, uuids := api.Stats(), api.UUIDs()
	dups := 0
	for _, c := range uuids {
		dups += c - 1
	}
	fmt.Printf("Event API received: %d requests (%d accepted), %d impressions, %d conversions, %d bytes, %d duplicates\n",
		st.Requests, st.Accepted, st.Impressions, st.Conversions, st.Bytes, dups)
	if st.Impressions != users || st.Conversions != conversions {
		return fmt.Errorf("missing events: want %d impressions and %d conversions", users, conversions)
	}
	fmt.Println("every event arrived")
	return nil
}
