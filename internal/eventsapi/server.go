// Package eventsapi is a local replica of Optimizely's Event API (logx) and VWO's
// batch-events API. Tests and demos point the exporter at it instead of the real
// services: it validates payloads as strictly as the real APIs document, records
// every request, and can be scripted to fail.
package eventsapi // import "github.com/experimentationexporter/experimentationexporter/internal/eventsapi"

import (
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Modes, as reported in Received.Mode.
const (
	ModeOptimizely = "optimizely"
	ModeVWO        = "vwo"
)

// Paths of the two APIs. VWO may prefix its path with a collection segment such as
// "/eu01".
const (
	OptimizelyPath = "/v1/events"
	VWOPath        = "/server-side/batch-events"
)

// Defaults mirror the documented limits of the real APIs.
const (
	DefaultMaxBodyBytes = 3_500_000
	DefaultMaxVWOEvents = 5000
)

// StatusClientClosed records a request whose client went away during a scripted
// delay (nginx's convention; it is never sent).
const StatusClientClosed = 499

// drainLimit bounds how much of an oversized body is read and thrown away so the
// client sees the error response rather than a reset connection.
const drainLimit = 64 << 20

// Options configure a Server. The zero value is ready to use.
type Options struct {
	// MaxBodyBytes caps a request body (after Content-Encoding); 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxVWOEvents caps the events of one VWO batch; 0 means DefaultMaxVWOEvents.
	MaxVWOEvents int
	// Admin also serves GET /stats (Stats as JSON) and POST /reset. These requests
	// are not recorded.
	Admin bool
	// Logf, if set, is told about every answer that is not 2xx.
	Logf func(format string, args ...any)
}

// Server is the replica. It implements http.Handler and is safe for concurrent use.
type Server struct {
	opts Options

	mu       sync.Mutex
	requests []Received
	stats    Stats
	uuids    map[string]int
	script   []Step
	fault    func(r *http.Request, body []byte) *Step

	lifeMu  sync.Mutex
	hs      *http.Server
	url     string
	closed  bool
	closing chan struct{} // closed by Close so scripted delays end at once

	connMu sync.Mutex
	active map[net.Conn]struct{} // connections serving a request
}

// New returns a Server; call Start to listen, or use it as an http.Handler.
func New(opts Options) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxVWOEvents <= 0 {
		opts.MaxVWOEvents = DefaultMaxVWOEvents
	}
	return &Server{opts: opts, uuids: map[string]int{}, closing: make(chan struct{})}
}

// Start listens on addr (e.g. "127.0.0.1:0"), serves in a goroutine and returns
// the base URL, e.g. "http://127.0.0.1:41234".
func (s *Server) Start(addr string) (string, error) {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.hs != nil || s.closed {
		return "", errors.New("eventsapi: already started or closed")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("eventsapi: %w", err)
	}
	s.active = map[net.Conn]struct{}{}
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ConnState: s.trackConn}
	s.url = "http://" + ln.Addr().String()
	hs := s.hs // Close may clear s.hs before the goroutine runs
	go func() { _ = hs.Serve(ln) }()
	return s.url, nil
}

// URL is the base URL given by Start, or "" before it.
func (s *Server) URL() string {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.url
}

// Close stops the listener started by Start, ends scripted delays, and waits
// briefly for in-flight requests. It is safe to call more than once; a closed
// Server cannot be started again.
func (s *Server) Close() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.closing)
	}
	if s.hs == nil {
		return nil
	}
	// Shutdown lets answers in flight get out, but waits up to 5s on connections a
	// client dialed and never used; so stop it once no request is active and let
	// Close drop the rest.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for s.activeConns() > 0 {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		cancel()
	}()
	_ = s.hs.Shutdown(ctx)
	err := s.hs.Close()
	s.hs = nil
	return err
}

// trackConn follows connection states for Close.
func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if st == http.StateActive {
		s.active[c] = struct{}{}
	} else {
		delete(s.active, c)
	}
}

func (s *Server) activeConns() int {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	return len(s.active)
}

// ServeHTTP routes a request to the Optimizely or VWO replica.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.opts.Admin && s.serveAdmin(w, r) {
		return
	}
	rec := Received{
		Mode:   route(r.URL.Path),
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		Header: r.Header.Clone(),
		At:     time.Now(),
	}
	if rec.Mode == "" {
		s.answer(w, &rec, http.StatusNotFound, errorBody("not found"), outcome{})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.answer(w, &rec, http.StatusMethodNotAllowed, errorBody("method not allowed"), outcome{})
		return
	}

	body, err := readBody(r, s.opts.MaxBodyBytes)
	rec.Body = body
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errEncoding) {
			status = http.StatusUnsupportedMediaType
		}
		s.answer(w, &rec, status, errorBody(err.Error()), outcome{})
		return
	}

	if step := s.nextStep(r, body); step != nil {
		if !s.sleep(r.Context(), step.Delay) {
			if r.Context().Err() == nil { // Close cut the delay short
				s.answer(w, &rec, http.StatusServiceUnavailable, errorBody("server closing"), outcome{})
				return
			}
			rec.Status = StatusClientClosed
			rec.Error = "client closed request during scripted delay"
			s.record(rec, outcome{})
			return
		}
		if step.Status != 0 {
			if step.RetryAfter != "" {
				w.Header().Set("Retry-After", step.RetryAfter)
			}
			s.answer(w, &rec, step.Status, []byte(step.Body), outcome{})
			return
		}
	}

	var (
		status int
		resp   []byte
		out    outcome
	)
	switch rec.Mode {
	case ModeOptimizely:
		status, resp, out = s.optimizely(r, body)
	case ModeVWO:
		status, resp, out = s.vwo(r, body)
	}
	s.answer(w, &rec, status, resp, out)
}

// route names the API a path belongs to, or "".
func route(path string) string {
	if path == OptimizelyPath {
		return ModeOptimizely
	}
	if path == VWOPath {
		return ModeVWO
	}
	// One collection segment may precede the VWO path: /eu01/server-side/batch-events.
	if prefix, ok := strings.CutSuffix(path, VWOPath); ok &&
		len(prefix) > 1 && prefix[0] == '/' && !strings.Contains(prefix[1:], "/") {
		return ModeVWO
	}
	return ""
}

var errEncoding = errors.New("unsupported content-encoding")

// readBody reads at most limit+1 bytes of the decoded body, so an oversized body is
// detectable by length, then drains the rest so the client reads our answer.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	defer func() { _, _ = io.Copy(io.Discard, io.LimitReader(r.Body, drainLimit)) }()
	var rd io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("body: bad gzip: %w", err)
		}
		defer zr.Close()
		rd = zr
	case "deflate":
		zr, err := zlib.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("body: bad deflate: %w", err)
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, fmt.Errorf("%w %q", errEncoding, enc)
	}
	body, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return body, fmt.Errorf("body: read: %w", err)
	}
	return body, nil
}

// answer writes the response and records the request.
func (s *Server) answer(w http.ResponseWriter, rec *Received, status int, body []byte, out outcome) {
	rec.Status = status
	if status < 200 || status > 299 {
		rec.Error = errorText(body)
		if s.opts.Logf != nil {
			s.opts.Logf("eventsapi: %s %s -> %d %s", rec.Mode, rec.Path, status, body)
		}
	}
	s.record(*rec, out)
	if len(body) > 0 && status != http.StatusNoContent {
		if json.Valid(body) {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
		return
	}
	w.WriteHeader(status)
}

// serveAdmin answers /stats and /reset; it reports whether it did.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case "/stats":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return true
		}
		b, _ := json.Marshal(s.Stats())
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append(b, '\n'))
		return true
	case "/reset":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return true
		}
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// errorBody renders the {"error": msg} body both APIs use for failures.
func errorBody(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}

// errorText extracts msg from an {"error": msg} body, else returns the body.
func errorText(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return string(body)
}
