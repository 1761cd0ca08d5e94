package vwocompat

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	vwosdk "github.com/wingify/vwo-go-sdk"
	"github.com/wingify/vwo-go-sdk/pkg/api"
	"github.com/wingify/vwo-go-sdk/pkg/constants"
	"github.com/wingify/vwo-go-sdk/pkg/request"
	"github.com/wingify/vwo-go-sdk/pkg/schema"
	"github.com/wingify/vwo-go-sdk/pkg/service"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
)

const (
	settingsPath = "testdata/settings.json"
	vwoHost      = "dev.visualwebsiteoptimizer.com"
	sdkModule    = "github.com/wingify/vwo-go-sdk"
	sdkRelease   = "v1.26.0" // the module version; the SDK reports constants.SDKVersion
)

// Captured is one HTTP request an SDK made, as it reached the server.
type Captured struct {
	SDK        string              `json:"sdk"`
	SDKVersion string              `json:"sdk_version"`
	Scenario   string              `json:"scenario,omitempty"`
	Method     string              `json:"method"`
	Host       string              `json:"host"`
	Path       string              `json:"path"`
	Query      string              `json:"query"`
	Header     map[string][]string `json:"header"`
	Body       string              `json:"body"`
	// Status is what the replica (internal/eventsapi) answered; not saved.
	Status int    `json:"-"`
	Answer string `json:"-"`
}

// interceptor stands in for dev.visualwebsiteoptimizer.com: the SDK's HTTP client
// dials a local TLS server, which records each request and hands it to the
// project's Event API replica, whose answer goes back to the SDK.
type interceptor struct {
	srv     *httptest.Server
	replica *eventsapi.Server
	reqs    chan Captured
}

func newInterceptor(t *testing.T) *interceptor {
	t.Helper()
	ic := &interceptor{replica: eventsapi.New(eventsapi.Options{}), reqs: make(chan Captured, 100000)}
	ic.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c := Captured{
			SDK: sdkModule, SDKVersion: sdkRelease,
			Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: string(body),
		}
		rec := httptest.NewRecorder()
		r.Body = io.NopCloser(bytes.NewReader(body))
		ic.replica.ServeHTTP(rec, r)
		c.Status, c.Answer = rec.Code, rec.Body.String()
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		ic.reqs <- c
	}))
	addr := ic.srv.Listener.Addr().String()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			if a != vwoHost+":443" {
				return nil, fmt.Errorf("unexpected dial to %s", a)
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // local test server
		ForceAttemptHTTP2: true,
	}
	// pkg/request.PostRequest (the batch-events call) uses this package variable.
	prev := request.Client
	request.Client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		request.Client = prev
		ic.srv.Close()
	})
	return ic
}

// next waits for the SDK's next request.
func (ic *interceptor) next(t *testing.T) Captured {
	t.Helper()
	select {
	case c := <-ic.reqs:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for the SDK's request")
		return Captured{}
	}
}

// none checks that the SDK sends nothing more for a short while.
func (ic *interceptor) none(t *testing.T, wait time.Duration) {
	t.Helper()
	select {
	case c := <-ic.reqs:
		t.Fatalf("unexpected request %s %s?%s %s", c.Method, c.Path, c.Query, c.Body)
	case <-time.After(wait):
	}
}

// settingsFile reads and processes testdata/settings.json the way the SDK's own
// GetSettingsFile does after fetching it.
func settingsFile(t *testing.T) schema.SettingsFile {
	t.Helper()
	var m service.SettingsFileManager
	if err := m.ProcessSettingsFile(settingsPath); err != nil {
		t.Fatal(err)
	}
	m.Process()
	return m.GetSettingsFile()
}

// launch starts an SDK instance with batch events: the queue is flushed when it
// holds eventsPerRequest events (the time-based flush is 10 minutes away).
func launch(t *testing.T, sf schema.SettingsFile, eventsPerRequest int) *api.VWOInstance {
	t.Helper()
	inst, err := vwosdk.Launch(sf, api.WithBatchEventQueue(api.BatchConfig{
		EventsPerRequest: eventsPerRequest, RequestTimeInterval: 600,
	}, nil))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func readSettings(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(settingsPath)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var _ = constants.SDKVersion
