// Command eventsapi runs the local replica of the Optimizely and VWO events APIs
// (see internal/eventsapi) for demos.
//
// It serves POST /v1/events (Optimizely), POST [/<collection>]/server-side/batch-events
// (VWO), GET /stats (counters as JSON) and POST /reset. On SIGINT or SIGTERM it
// prints the final stats as one JSON line to stdout and exits 0; everything else
// goes to stderr so stdout stays machine-readable.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:4380", "listen address")
	failFirst := flag.Int("fail-first", 0, "answer 503 with Retry-After: 1 to the first N API requests")
	statsEvery := flag.Duration("stats-every", 0, "if > 0, print stats to stderr this often")
	readyFile := flag.String("ready-file", "", "once listening, write the base URL to this file")
	quiet := flag.Bool("quiet", false, "do not log rejected requests")
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)

	opts := eventsapi.Options{Admin: true}
	if !*quiet {
		opts.Logf = log.Printf
	}
	srv := eventsapi.New(opts)
	for range *failFirst {
		srv.Script(eventsapi.Step{Status: 503, RetryAfter: "1", Body: `{"error":"service unavailable"}`})
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	url, err := srv.Start(*addr)
	if err != nil {
		return err
	}
	log.Printf("eventsapi: listening on %s", url)
	if *readyFile != "" {
		if err := writeAtomic(*readyFile, url); err != nil {
			_ = srv.Close()
			return err
		}
	}

	var tick <-chan time.Time
	if *statsEvery > 0 {
		t := time.NewTicker(*statsEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			b, _ := json.Marshal(srv.Stats())
			log.Printf("eventsapi: stats %s", b)
		case <-ctx.Done():
			_ = srv.Close()
			b, err := json.Marshal(srv.Stats())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(os.Stdout, "%s\n", b)
			return err
		}
	}
}

// writeAtomic writes via a rename so a reader polling the file never sees it half
// written.
func writeAtomic(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ready-*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
