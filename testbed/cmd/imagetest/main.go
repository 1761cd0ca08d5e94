// Command imagetest checks the collector's container image (the repository's Dockerfile,
// built by make image): it runs the image with podman or docker, ships OTLP/HTTP records
// from the host through it to the Event API replica, and stops it with SIGTERM.
//
//  0. The image runs as user 10001 with the collector as ENTRYPOINT and
//     --config /etc/otelcol/config.yaml as CMD, and its default config validates.
//  1. The Event API replica (internal/eventsapi, what cmd/eventsapi serves) listens on a
//     free 127.0.0.1 port of the host.
//  2. The image runs with its own ENTRYPOINT and CMD (--config /etc/otelcol/config.yaml)
//     and the host's network, with a config mounted at /etc/otelcol/config.yaml that
//     sends to the replica and the fixture datafile at /etc/otelcol/datafile.json. The
//     sending queue is persistent, in the image's /var/lib/otelcol/file_storage, so the
//     image's non-root user (10001) must be able to write there.
//  3. The OpenTelemetry Go SDK (testbed/harness emitter) sends impressions and
//     conversions; every event must arrive once, with no rejected request.
//  4. A few more impressions, fewer than batch_size and with a flush_interval of an hour,
//     wait in the exporter's open batch; SIGTERM must deliver them and end the container
//     with exit code 0 within -stop-timeout.
//
// It runs from testbed/ (make image-test does that, after make image):
//
//	cd testbed && go run ./cmd/imagetest -engine podman -image otelcol-experimentation:0.1.0
//
// The container is removed at the end, also on failure, on SIGINT and on SIGTERM.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
	"github.com/experimentationexporter/experimentationexporter/testbed/harness"
)

type options struct {
	engine, image, datafile      string
	users, tail, batchSize       int
	startTimeout, deliverTimeout time.Duration
	stopTimeout, timeout         time.Duration
	keepLogs                     bool
}

func main() {
	var o options
	flag.StringVar(&o.engine, "engine", defaultEngine(), "container engine: podman or docker (default: podman if installed, else docker)")
	flag.StringVar(&o.image, "image", "otelcol-experimentation:0.1.0", "image to test (make image builds it)")
	flag.StringVar(&o.datafile, "datafile", "../testdata/datafile.json", "Optimizely datafile mounted at /etc/otelcol/datafile.json")
	flag.IntVar(&o.users, "users", 150, "users of the first phase: one impression and one conversion each")
	flag.IntVar(&o.tail, "tail", 30, "impressions sent right before SIGTERM (fewer than -batch-size: they wait in the open batch)")
	flag.IntVar(&o.batchSize, "batch-size", 100, "the exporter's batch_size")
	flag.DurationVar(&o.startTimeout, "start-timeout", 30*time.Second, "longest wait for the container's OTLP port")
	flag.DurationVar(&o.deliverTimeout, "deliver-timeout", 30*time.Second, "longest wait for the first phase's events at the replica")
	flag.DurationVar(&o.stopTimeout, "stop-timeout", 20*time.Second, "longest time from SIGTERM to the container's exit")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "the whole check's time limit")
	flag.BoolVar(&o.keepLogs, "logs", false, "print the container's log also when the check passes")
	flag.Parse()
	if o.tail >= o.batchSize || o.users < 1 || o.tail < 1 {
		fmt.Fprintln(os.Stderr, "imagetest: need -users >= 1 and 1 <= -tail < -batch-size")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeoutCause(ctx, o.timeout, fmt.Errorf("the check's time limit (-timeout %s) ran out", o.timeout))
	defer cancel()
	if err := run(ctx, o); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, context.Cause(ctx))
		}
		fmt.Fprintln(os.Stderr, "imagetest: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("imagetest: PASS")
}

func defaultEngine() string {
	if e := os.Getenv("CONTAINER_ENGINE"); e != "" {
		return e
	}
	if _, err := exec.LookPath("podman"); err == nil {
		return "podman"
	}
	return "docker"
}

// engine runs container engine commands, each with its own time limit.
type engine struct{ name string }

func (e engine) run(parent context.Context, limit time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(parent, limit)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, e.name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if parent.Err() != nil {
		return out.String(), fmt.Errorf("%s %s: stopped", e.name, strings.Join(args, " "))
	}
	if ctx.Err() != nil {
		return out.String(), fmt.Errorf("%s %s: no answer within %s", e.name, strings.Join(args, " "), limit)
	}
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", e.name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

func run(ctx context.Context, o options) error {
	start := time.Now()
	e := engine{name: o.engine}
	if _, err := exec.LookPath(o.engine); err != nil {
		return fmt.Errorf("container engine %q not found (make image-test installs podman on Debian)", o.engine)
	}
	meta, err := e.run(ctx, 30*time.Second, "image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Cmd}}", o.image)
	if err != nil {
		return fmt.Errorf("image %s not found (build it with make image): %w", o.image, err)
	}
	const wantMeta = `10001:10001 ["/otelcol-experimentation"] ["--config","/etc/otelcol/config.yaml"]`
	if meta != wantMeta {
		return fmt.Errorf("image %s: user, entrypoint and cmd are %s; want %s", o.image, meta, wantMeta)
	}
	// The image's own config (examples/production.yaml) with its one variable set.
	if out, err := e.run(ctx, 60*time.Second, "run", "--rm", "--network", "none", "-e", "OPTIMIZELY_SDK_KEY=imagetest",
		o.image, "validate", "--config", "/etc/otelcol/config.yaml"); err != nil {
		return fmt.Errorf("the image's default config /etc/otelcol/config.yaml does not validate: %w\n%s", err, out)
	}
	fmt.Printf("imagetest: %s: user %s; its default config validates\n", o.image, strings.Fields(meta)[0])
	datafile, err := filepath.Abs(o.datafile)
	if err != nil {
		return err
	}
	if _, err := os.Stat(datafile); err != nil {
		return fmt.Errorf("datafile: %w", err)
	}

	// 1. The replica, on the host.
	api := eventsapi.New(eventsapi.Options{})
	apiURL, err := api.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the Event API replica: %w", err)
	}
	defer api.Close()

	// 2. The container, with the host's network: its OTLP receiver and its own metrics
	// listen on free ports of the host's loopback (never 4318 or 8888, which other
	// collectors on this machine may hold).
	otlpPort, err := harness.FreePort()
	if err != nil {
		return err
	}
	metricsPort, err := harness.FreePort()
	if err != nil {
		return err
	}
	if metricsPort == otlpPort {
		if metricsPort, err = harness.FreePort(); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "imagetest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "config.yaml")
	// 0644: the image's user 10001 reads the mounted file.
	if err := os.WriteFile(cfg, []byte(config(otlpPort, metricsPort, apiURL+eventsapi.OptimizelyPath, o.batchSize)), 0o644); err != nil {
		return err
	}

	name := fmt.Sprintf("otelcol-imagetest-%d-%d", os.Getpid(), time.Now().Unix())
	fmt.Printf("imagetest: %s run %s as %s: OTLP/HTTP on 127.0.0.1:%d, Event API replica at %s\n", o.engine, o.image, name, otlpPort, apiURL)
	runAt := time.Now()
	if _, err := e.run(ctx, 60*time.Second, "run", "-d", "--name", name,
		"--network", "host",
		"--label", "io.experimentationexporter.imagetest=1",
		"-v", cfg+":/etc/otelcol/config.yaml:ro",
		"-v", datafile+":/etc/otelcol/datafile.json:ro",
		o.image); err != nil {
		// A container that was created but did not start is removed below too.
		defer removeContainer(e, name)
		return fmt.Errorf("starting the container: %w", err)
	}
	passed := false
	defer func() {
		if !passed || o.keepLogs {
			printLogs(e, name)
		}
		removeContainer(e, name)
	}()

	if err := waitListening(ctx, e, name, otlpPort, o.startTimeout); err != nil {
		return err
	}
	fmt.Printf("imagetest: OTLP receiver up %s after run\n", time.Since(runAt).Round(time.Millisecond))

	// 3. Records from the host; each event must arrive once.
	otlp := "127.0.0.1:" + strconv.Itoa(otlpPort)
	sent := time.Now()
	if err := emit(ctx, otlp, 0, o.users, true); err != nil {
		return err
	}
	want := wantIDs(0, o.users, true)
	if err := waitDelivered(ctx, api, want, o.deliverTimeout); err != nil {
		return fmt.Errorf("first phase: %w", err)
	}
	st := api.Stats()
	fmt.Printf("imagetest: %d impressions and %d conversions arrived %s after the first record (%d requests accepted)\n",
		st.Impressions, st.Conversions, time.Since(sent).Round(time.Millisecond), st.Accepted)

	// 4. An open batch, then SIGTERM: the collector must deliver it and exit 0.
	if err := emit(ctx, otlp, o.users, o.users+o.tail, false); err != nil {
		return err
	}
	time.Sleep(200 * time.Millisecond) // the records reach the exporter's batcher
	if n := api.Stats().Impressions; n != o.users {
		return fmt.Errorf("the last %d impressions were sent before SIGTERM (%d impressions arrived; want %d): the open batch was not open", n-o.users, n, o.users)
	}
	if _, err := e.run(ctx, 30*time.Second, "kill", "--signal", "TERM", name); err != nil {
		return fmt.Errorf("sending SIGTERM: %w", err)
	}
	termAt := time.Now()
	out, err := e.run(ctx, o.stopTimeout, "wait", name)
	stopped := time.Since(termAt)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("the container did not exit within %s of SIGTERM: %w", o.stopTimeout, err)
	}
	code := lastLine(out)
	fmt.Printf("imagetest: SIGTERM to exit: %s, exit code %s\n", stopped.Round(time.Millisecond), code)
	if code != "0" {
		return fmt.Errorf("the container exited with code %s after SIGTERM; want 0", code)
	}
	if err := waitDelivered(ctx, api, wantIDs(0, o.users+o.tail, false), 0); err != nil {
		return fmt.Errorf("after SIGTERM (the open batch must be sent before the exit): %w", err)
	}
	logs, _ := e.run(ctx, 30*time.Second, "logs", name)
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "\terror\t") || strings.Contains(line, "panic:") {
			return fmt.Errorf("the collector logged an error: %s", line)
		}
	}
	st = api.Stats()
	fmt.Printf("imagetest: %d impressions, %d conversions in %d accepted requests, none rejected; total %s\n",
		st.Impressions, st.Conversions, st.Accepted, time.Since(start).Round(time.Millisecond))
	passed = true
	return nil
}

// config is the collector config mounted into the container: the replica as the events
// endpoint, the mounted datafile, a persistent queue in the image's queue directory, and
// batches that only a full batch_size or the shutdown sends.
func config(otlpPort, metricsPort int, endpoint string, batchSize int) string {
	return fmt.Sprintf(`receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
extensions:
  file_storage:
    directory: /var/lib/otelcol/file_storage
exporters:
  experimentation:
    endpoint: %s
    batch_size: %d
    flush_interval: 1h
    optimizely:
      datafile_path: /etc/otelcol/datafile.json
    sending_queue:
      storage: file_storage
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 500ms
service:
  extensions: [file_storage]
  telemetry:
    logs:
      level: info
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [experimentation]
`, otlpPort, endpoint, batchSize, metricsPort)
}

// waitListening waits until the container's OTLP port accepts connections, failing
// early if the container exits.
func waitListening(ctx context.Context, e engine, name string, port int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	lastCheck := time.Time{}
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Since(lastCheck) > time.Second {
			lastCheck = time.Now()
			state, err := e.run(ctx, 15*time.Second, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name)
			if err != nil {
				return err
			}
			if f := strings.Fields(state); len(f) > 0 && (f[0] == "exited" || f[0] == "dead" || f[0] == "stopped") {
				return fmt.Errorf("the container exited during start (state %q)", state)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("the container's OTLP receiver did not listen on 127.0.0.1:%d within %s", port, timeout)
}

// emit sends impressions (and conversions) for users [from, to) with the OpenTelemetry
// Go SDK and flushes it: when it returns, the collector accepted every record.
func emit(ctx context.Context, otlp string, from, to int, conversions bool) error {
	em, err := harness.NewEmitter(ctx, otlp, 2*(to-from)+16)
	if err != nil {
		return err
	}
	at := time.Now()
	for i := from; i < to; i++ {
		em.Impression(ctx, i, at)
		if conversions {
			em.Conversion(ctx, i, at)
		}
	}
	em.Plain(ctx, "GET /cart 200 12ms") // skipped by the exporter
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := em.Shutdown(sctx); err != nil {
		return fmt.Errorf("sending OTLP/HTTP to %s: %w", otlp, err)
	}
	return nil
}

func wantIDs(from, to int, conversions bool) []string {
	var ids []string
	for i := from; i < to; i++ {
		ids = append(ids, harness.ImpressionID(i))
		if conversions {
			ids = append(ids, harness.ConversionID(i))
		}
	}
	return ids
}

// waitDelivered waits until the replica accepted every wanted event, and checks that none
// arrived twice and that no request was rejected.
func waitDelivered(ctx context.Context, api *eventsapi.Server, want []string, timeout time.Duration) error {
	harness.WaitFor(ctx, timeout, func() bool { return len(api.UUIDs()) >= len(want) })
	uuids := api.UUIDs()
	var missing []string
	for _, id := range want {
		if uuids[id] == 0 {
			missing = append(missing, id)
		}
	}
	st := api.Stats()
	if len(missing) > 0 {
		return fmt.Errorf("%d of %d events did not arrive within %s (e.g. %s); replica stats %+v", len(missing), len(want), timeout, missing[0], st)
	}
	for id, n := range uuids {
		if n > 1 {
			return fmt.Errorf("event %s arrived %d times", id, n)
		}
	}
	if st.Rejected > 0 {
		for _, r := range api.Requests() {
			if !r.Accepted() {
				return fmt.Errorf("the replica rejected %d requests, e.g. status %d: %s", st.Rejected, r.Status, r.Error)
			}
		}
		return fmt.Errorf("the replica rejected %d requests", st.Rejected)
	}
	return nil
}

func printLogs(e engine, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := e.run(ctx, 30*time.Second, "logs", name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "imagetest: container log: %v\n", err)
		return
	}
	lines := strings.Split(out, "\n")
	if len(lines) > 80 {
		fmt.Fprintf(os.Stderr, "imagetest: container log (last 80 of %d lines):\n", len(lines))
		lines = lines[len(lines)-80:]
	} else {
		fmt.Fprintln(os.Stderr, "imagetest: container log:")
	}
	for _, l := range lines {
		fmt.Fprintln(os.Stderr, "  | "+l)
	}
}

// removeContainer removes the container whatever its state; it runs after the check's
// own context may have ended.
func removeContainer(e engine, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.run(ctx, 30*time.Second, "rm", "-f", name); err != nil {
		fmt.Fprintf(os.Stderr, "imagetest: removing container %s: %v\n", name, err)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[i+1:])
	}
	return s
}
