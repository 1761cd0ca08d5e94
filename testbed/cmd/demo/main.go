// Command demo runs the whole path on one machine: the Event API replica, the collector
// built with ocb (examples/demo.yaml: traces and logs pipelines, no mapping), and
// testbed/e2e/goclient, a real Go app: the official Optimizely Go SDK decides flags behind an
// OpenFeature provider, the OpenFeature Go SDK's contrib OpenTelemetry hook records each
// evaluation as a feature_flag.evaluation span event exported over OTLP/HTTP, and a
// purchase of every third user is an experiment.conversion log record. The app captures
// the impressions the SDK itself would have sent; the demo compares them with what the
// replica received and exits non-zero on any difference.
//
// It runs from testbed/ (its own Go module; make run does that), so the default paths
// are relative to testbed/:
//
//	cd testbed && go run ./cmd/demo -collector ../_build/otelcol-experimentation -config ../examples/demo.yaml
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
	"github.com/experimentationexporter/experimentationexporter/testbed/harness"
)

func main() {
	collector := flag.String("collector", "../_build/otelcol-experimentation", "collector binary built with ocb (make collector)")
	config := flag.String("config", "../examples/demo.yaml", "collector config; it reads OTLP_ENDPOINT, EVENTS_ENDPOINT and DATAFILE_PATH")
	datafile := flag.String("datafile", "../testdata/datafile.json", "Optimizely datafile the app decides with and the collector resolves against")
	goclient := flag.String("goclient", "", "prebuilt testbed/e2e/goclient binary (default: build it from e2e/goclient)")
	users := flag.Int("users", 300, "demo users: every flag of the datafile is evaluated for each")
	conversions := flag.Bool("conversions", true, "the app also reports a purchase for every third user")
	wait := flag.Duration("wait", 60*time.Second, "longest wait for the events to arrive")
	flag.Parse()
	if err := run(*collector, *config, *datafile, *goclient, *users, *conversions, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(collector, config, datafile, goclient string, users int, conversions bool, wait time.Duration) error {
	if _, err := os.Stat(collector); err != nil {
		return fmt.Errorf("collector binary (build it with make collector): %w", err)
	}
	datafile, err := filepath.Abs(datafile)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if goclient == "" {
		goclient = filepath.Join(tmp, "goclient")
		fmt.Println("building the demo app (testbed/e2e/goclient, its own Go module)")
		build := exec.Command("go", "build", "-o", goclient, ".")
		build.Dir = "e2e/goclient"
		build.Env = append(os.Environ(), "GOWORK=off")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("building testbed/e2e/goclient: %w\n%s", err, out)
		}
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

	// The demo application: decides, evaluates and exports, then exits after its flush.
	expect := filepath.Join(tmp, "expect.jsonl")
	args := []string{"-datafile", datafile, "-otlp", "http://" + otlp, "-users", strconv.Itoa(users), "-expect", expect}
	wantConversions := 0
	if conversions {
		args = append(args, "-conversions")
		wantConversions = (users + 2) / 3
	}
	fmt.Printf("running the demo app: goclient %s\n", strings.Join(args, " "))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goclient, args...).CombinedOutput()
	fmt.Printf("  %s\n", strings.TrimSpace(string(out)))
	if err != nil {
		return fmt.Errorf("demo app: %w", err)
	}
	want, evalsByFlag, err := harness.ReadExpect(expect)
	if err != nil {
		return err
	}

	start := time.Now()
	arrived := harness.WaitFor(ctx, wait, func() bool {
		st := api.Stats()
		return st.Impressions >= len(want) && st.Conversions >= wantConversions
	})
	if arrived {
		fmt.Printf("all events arrived %s after the app's flush; stopping the collector (SIGTERM)\n", time.Since(start).Round(time.Millisecond))
	} else {
		fmt.Printf("waited %s; stopping the collector (SIGTERM)\n", wait)
	}
	if err := col.Stop(30 * time.Second); err != nil {
		return err
	}

	// What arrived, by evaluation, and the conversions.
	st := api.Stats()
	var bodies [][]byte
	for _, r := range api.Accepted() {
		bodies = append(bodies, r.Body)
	}
	got, err := harness.ReceivedImpressions(bodies)
	if err != nil {
		return fmt.Errorf("a request the replica accepted: %w", err)
	}
	convByKey, revenue := map[string]int{}, int64(0)
	for _, body := range bodies {
		var b struct {
			Visitors []struct {
				Snapshots []struct {
					Events []struct {
						Key     string `json:"key"`
						Revenue *int64 `json:"revenue"`
					} `json:"events"`
				} `json:"snapshots"`
			} `json:"visitors"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return fmt.Errorf("a request the replica accepted: %w", err)
		}
		for _, v := range b.Visitors {
			for _, s := range v.Snapshots {
				for _, e := range s.Events {
					if e.Key != "campaign_activated" {
						convByKey[e.Key]++
						if e.Revenue != nil {
							revenue += *e.Revenue
						}
					}
				}
			}
		}
	}

	// The summary: per flag and per rule, the SDK's impressions and the received ones.
	evaluations := 0
	for _, n := range evalsByFlag {
		evaluations += n
	}
	fmt.Printf("Event API received:\n")
	fmt.Printf("  requests     %d (%d accepted, %d rejected), %d bytes\n", st.Requests, st.Accepted, st.Rejected, st.Bytes)
	fmt.Printf("  impressions  %d of the %d the Optimizely SDK sent for %d evaluations\n", st.Impressions, len(want), evaluations)
	if conversions {
		var byKey []string
		for _, k := range slices.Sorted(maps.Keys(convByKey)) {
			byKey = append(byKey, fmt.Sprintf("%s %d", k, convByKey[k]))
		}
		fmt.Printf("  conversions  %d of %d (%s), revenue %d\n", st.Conversions, wantConversions, strings.Join(byKey, ", "), revenue)
	}
	type count struct{ evals, sdk, got int }
	flags, rules := map[string]*count{}, map[string]*count{}
	bump := func(m map[string]*count, k string) *count {
		if m[k] == nil {
			m[k] = &count{}
		}
		return m[k]
	}
	for f, n := range evalsByFlag {
		bump(flags, f).evals = n
	}
	for k, d := range want {
		bump(flags, k.Flag).sdk++
		bump(rules, d.RuleKey+" ("+d.RuleType+")").sdk++
	}
	for k, ds := range got {
		bump(flags, k.Flag).got += len(ds)
		for _, d := range ds {
			bump(rules, d.RuleKey+" ("+d.RuleType+")").got++
		}
	}
	fmt.Printf("  %-40s %11s %8s %8s\n", "flag", "evaluations", "sdk", "received")
	for _, f := range slices.Sorted(maps.Keys(flags)) {
		fmt.Printf("  %-40s %11d %8d %8d\n", f, flags[f].evals, flags[f].sdk, flags[f].got)
	}
	fmt.Printf("  %-40s %11s %8s %8s\n", "rule", "", "sdk", "received")
	for _, r := range slices.Sorted(maps.Keys(rules)) {
		fmt.Printf("  %-40s %11s %8d %8d\n", r, "", rules[r].sdk, rules[r].got)
	}

	// Per (visitor_id, flag_key): the same impression as the SDK's, once; nothing else.
	missing, extra, differ := harness.DiffImpressions(want, got)
	problems := append(append(missing, extra...), differ...)
	if st.Rejected > 0 {
		problems = append(problems, fmt.Sprintf("%d requests rejected", st.Rejected))
	}
	if st.Conversions != wantConversions {
		problems = append(problems, fmt.Sprintf("%d of %d conversions arrived", st.Conversions, wantConversions))
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		fmt.Fprintf(os.Stderr, "collector output:\n%s\n", tail(col.Output(), 4000))
		return fmt.Errorf("%d problems, e.g.:\n  %s", len(problems), strings.Join(problems[:min(10, len(problems))], "\n  "))
	}
	fmt.Println("every impression matches the Optimizely SDK's decision (rule, experiment, variation, campaign); every conversion arrived")
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
