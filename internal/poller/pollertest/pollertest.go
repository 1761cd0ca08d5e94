// Package pollertest serves project configuration files to pollers under test.
package pollertest // import "github.com/experimentationexporter/experimentationexporter/internal/poller/pollertest"

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest/observer"
)

// SeenRequest is what the fake server saw of a request.
type SeenRequest struct {
	Path, RawQuery, IfModifiedSince, IfNoneMatch, Authorization string
}

// CDN is a fake datafile CDN and VWO settings endpoint: conditional GETs, scripted
// failures, blocking, and a record of every request.
type CDN struct {
	sync.Mutex
	Body         []byte
	LastModified string
	ETag         string
	Status       int // when non-zero, every request is answered with it
	FailFirst    int // number of first requests answered 503
	Block        bool
	Blocked      chan struct{}
	Requests     []SeenRequest
}

func (c *CDN) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.Lock()
	c.Requests = append(c.Requests, SeenRequest{
		Path:            r.URL.Path,
		RawQuery:        r.URL.RawQuery,
		IfModifiedSince: r.Header.Get("If-Modified-Since"),
		IfNoneMatch:     r.Header.Get("If-None-Match"),
		Authorization:   r.Header.Get("Authorization"),
	})
	if c.Block {
		c.Unlock()
		c.Blocked <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return
	}
	defer c.Unlock()
	if c.FailFirst > 0 {
		c.FailFirst--
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	if c.Status != 0 {
		// Some servers echo the request; the key in its path or query must not leak to
		// the logs.
		http.Error(w, "forbidden: "+r.URL.String(), c.Status)
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == c.ETag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" && ims == c.LastModified {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if c.LastModified != "" {
		w.Header().Set("Last-Modified", c.LastModified)
	}
	if c.ETag != "" {
		w.Header().Set("ETag", c.ETag)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(c.Body)
}

// Set serves body with a Last-Modified date.
func (c *CDN) Set(body []byte, lastModified string) {
	c.Lock()
	defer c.Unlock()
	c.Body, c.LastModified = body, lastModified
}

// SetBody serves body.
func (c *CDN) SetBody(body []byte) {
	c.Lock()
	defer c.Unlock()
	c.Body = body
}

// SetStatus answers every request with s (0: serve the body).
func (c *CDN) SetStatus(s int) {
	c.Lock()
	defer c.Unlock()
	c.Status = s
}

// Seen lists the requests so far.
func (c *CDN) Seen() []SeenRequest {
	c.Lock()
	defer c.Unlock()
	return append([]SeenRequest(nil), c.Requests...)
}

// AssertNoSecrets fails t if any log entry contains one of secrets.
func AssertNoSecrets(t *testing.T, logs *observer.ObservedLogs, secrets ...string) {
	t.Helper()
	for _, e := range logs.All() {
		texts := []string{e.Message}
		for k, v := range e.ContextMap() {
			texts = append(texts, k, fmt.Sprint(v))
		}
		for _, f := range e.Context {
			texts = append(texts, f.String)
			if f.Interface != nil {
				texts = append(texts, fmt.Sprint(f.Interface))
			}
		}
		for _, s := range texts {
			for _, secret := range secrets {
				assert.NotContains(t, s, secret, "log entry %q leaks a secret", e.Message)
			}
		}
	}
}

// AssertErrNoSecrets fails t unless err is an error free of secrets.
func AssertErrNoSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	require.Error(t, err)
	for _, secret := range secrets {
		assert.NotContains(t, err.Error(), secret)
	}
}

// CountMessage counts log entries whose message contains sub.
func CountMessage(logs *observer.ObservedLogs, sub string) int {
	n := 0
	for _, e := range logs.All() {
		if strings.Contains(e.Message, sub) {
			n++
		}
	}
	return n
}
