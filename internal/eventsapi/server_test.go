package eventsapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const validOptimizely = `{
  "account_id": "12345",
  "project_id": "67890",
  "revision": "42",
  "client_name": "otel-experimentation-exporter",
  "client_version": "0.1.0",
  "anonymize_ip": true,
  "enrich_decisions": true,
  "visitors": [
    {
      "visitor_id": "user-1",
      "attributes": [
        {"entity_id": "$opt_bot_filtering", "key": "$opt_bot_filtering", "type": "custom", "value": false},
        {"entity_id": "111", "key": "plan", "type": "custom", "value": "gold"},
        {"entity_id": "112", "key": "age", "type": "custom", "value": 42.5}
      ],
      "snapshots": [{
        "decisions": [{
          "campaign_id": "1001", "experiment_id": "2001", "variation_id": "3001",
          "metadata": {"flag_key": "f", "rule_key": "r", "rule_type": "experiment", "variation_key": "on", "enabled": true}
        }],
        "events": [{"entity_id": "1001", "key": "campaign_activated", "timestamp": 1700000000000, "uuid": "uuid-imp-1"}]
      }]
    },
    {
      "visitor_id": "user-2",
      "snapshots": [{
        "events": [{
          "entity_id": "5001", "key": "purchase", "timestamp": 1700000000001, "uuid": "uuid-conv-1",
          "revenue": 1999, "value": 3.25, "tags": {"revenue": 1999, "color": "blue"}
        }]
      }]
    }
  ]
}`

// payload decodes a JSON document so that test cases can edit it by path.
func payload(t testing.TB, doc string) map[string]any {
	t.Helper()
	v, err := decode([]byte(doc))
	require.NoError(t, err)
	return v.(map[string]any)
}

// locate walks a path such as "visitors[1].snapshots[0].events[0]" and returns the
// containing object and final key.
func locate(t testing.TB, root map[string]any, path string) (map[string]any, string) {
	t.Helper()
	parts := strings.Split(path, ".")
	cur := root
	for _, p := range parts[:len(parts)-1] {
		name, idx, hasIdx := strings.Cut(p, "[")
		next := cur[name]
		if hasIdx {
			i, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			require.NoError(t, err)
			next = next.([]any)[i]
		}
		cur = next.(map[string]any)
	}
	return cur, parts[len(parts)-1]
}

func set(path string, v any) func(testing.TB, map[string]any) {
	return func(t testing.TB, root map[string]any) {
		m, k := locate(t, root, path)
		m[k] = v
	}
}

func del(path string) func(testing.TB, map[string]any) {
	return func(t testing.TB, root map[string]any) {
		m, k := locate(t, root, path)
		delete(m, k)
	}
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// do sends one request straight to the handler.
func do(h http.Handler, method, target string, header http.Header, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	for k, vs := range header {
		req.Header[k] = vs
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

func postOptimizely(h http.Handler, body []byte) *httptest.ResponseRecorder {
	return do(h, http.MethodPost, OptimizelyPath, jsonHeader, body)
}

func errorOf(t testing.TB, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), "body %q", w.Body.String())
	return e.Error
}

func TestOptimizelyValidation(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(testing.TB, map[string]any)
		wantErr string // "" means 204
	}{
		{name: "valid"},
		{name: "account_id missing", edit: del("account_id"), wantErr: "account_id: required"},
		{name: "account_id empty", edit: set("account_id", ""), wantErr: "account_id: must be a non-empty string"},
		{name: "account_id number", edit: set("account_id", json.Number("1")), wantErr: "account_id: must be a string"},
		{name: "project_id number", edit: set("project_id", json.Number("1")), wantErr: "project_id: must be a string"},
		{name: "revision null", edit: set("revision", nil), wantErr: "revision: must be a string"},
		{name: "anonymize_ip string", edit: set("anonymize_ip", "true"), wantErr: "anonymize_ip: must be a boolean"},
		{name: "enrich_decisions number", edit: set("enrich_decisions", json.Number("1")), wantErr: "enrich_decisions: must be a boolean"},
		{name: "optional fields absent", edit: func(t testing.TB, m map[string]any) {
			for _, k := range []string{"project_id", "revision", "client_name", "client_version", "anonymize_ip", "enrich_decisions"} {
				delete(m, k)
			}
		}},
		{name: "visitors missing", edit: del("visitors"), wantErr: "visitors: required"},
		{name: "visitors empty", edit: set("visitors", []any{}), wantErr: "visitors: must be a non-empty array"},
		{name: "visitors object", edit: set("visitors", map[string]any{}), wantErr: "visitors: must be an array"},
		{name: "visitor not object", edit: set("visitors", []any{"x"}), wantErr: "visitors[0]: must be an object"},
		{name: "visitor_id missing", edit: del("visitors[1].visitor_id"), wantErr: "visitors[1].visitor_id: required"},
		{name: "visitor_id empty", edit: set("visitors[1].visitor_id", ""), wantErr: "visitors[1].visitor_id: must be a non-empty string"},
		{name: "snapshots missing", edit: del("visitors[1].snapshots"), wantErr: "visitors[1].snapshots: required"},
		{name: "snapshots empty", edit: set("visitors[0].snapshots", []any{}), wantErr: "visitors[0].snapshots: must be a non-empty array"},
		{name: "attributes not array", edit: set("visitors[0].attributes", "x"), wantErr: "visitors[0].attributes: must be an array"},
		{name: "attribute type not custom", edit: set("visitors[0].attributes[1].type", "other"), wantErr: `visitors[0].attributes[1].type: must be "custom"`},
		{name: "attribute key missing", edit: del("visitors[0].attributes[1].key"), wantErr: "visitors[0].attributes[1].key: required"},
		{name: "attribute entity_id missing", edit: del("visitors[0].attributes[2].entity_id"), wantErr: "visitors[0].attributes[2].entity_id: required"},
		{name: "attribute value null", edit: set("visitors[0].attributes[1].value", nil), wantErr: "visitors[0].attributes[1].value: must be a string, boolean or number"},
		{name: "attribute value missing", edit: del("visitors[0].attributes[1].value"), wantErr: "visitors[0].attributes[1].value: required"},
		{name: "events missing", edit: del("visitors[1].snapshots[0].events"), wantErr: "visitors[1].snapshots[0].events: required"},
		{name: "events empty", edit: set("visitors[1].snapshots[0].events", []any{}), wantErr: "visitors[1].snapshots[0].events: must be a non-empty array"},
		{name: "decisions not array", edit: set("visitors[0].snapshots[0].decisions", map[string]any{}), wantErr: "visitors[0].snapshots[0].decisions: must be an array"},
		{name: "campaign_id missing", edit: del("visitors[0].snapshots[0].decisions[0].campaign_id"), wantErr: "visitors[0].snapshots[0].decisions[0].campaign_id: required"},
		{name: "experiment_id number", edit: set("visitors[0].snapshots[0].decisions[0].experiment_id", json.Number("2001")), wantErr: "visitors[0].snapshots[0].decisions[0].experiment_id: must be a string"},
		// The Go SDK sends a holdout's "$opt_dummy_variation_id" (and campaign_id "") as is.
		{name: "holdout variation_id and empty campaign_id", edit: func(t testing.TB, m map[string]any) {
			set("visitors[0].snapshots[0].decisions[0].variation_id", "$opt_dummy_variation_id")(t, m)
			set("visitors[0].snapshots[0].decisions[0].campaign_id", "")(t, m)
		}},
		{name: "variation_id number", edit: set("visitors[0].snapshots[0].decisions[0].variation_id", json.Number("3001")), wantErr: "visitors[0].snapshots[0].decisions[0].variation_id: must be a string or null"},
		{name: "variation_id missing", edit: del("visitors[0].snapshots[0].decisions[0].variation_id"), wantErr: "visitors[0].snapshots[0].decisions[0].variation_id: required"},
		{name: "variation_id null", edit: set("visitors[0].snapshots[0].decisions[0].variation_id", nil)},
		{name: "variation_id empty", edit: set("visitors[0].snapshots[0].decisions[0].variation_id", "")},
		{name: "metadata not object", edit: set("visitors[0].snapshots[0].decisions[0].metadata", "x"), wantErr: "visitors[0].snapshots[0].decisions[0].metadata: must be an object"},
		{name: "metadata enabled string", edit: set("visitors[0].snapshots[0].decisions[0].metadata.enabled", "yes"), wantErr: "visitors[0].snapshots[0].decisions[0].metadata.enabled: must be a boolean"},
		{name: "metadata flag_key number", edit: set("visitors[0].snapshots[0].decisions[0].metadata.flag_key", json.Number("1")), wantErr: "visitors[0].snapshots[0].decisions[0].metadata.flag_key: must be a string"},
		{name: "entity_id missing", edit: del("visitors[1].snapshots[0].events[0].entity_id"), wantErr: "visitors[1].snapshots[0].events[0].entity_id: required"},
		{name: "entity_id empty", edit: set("visitors[1].snapshots[0].events[0].entity_id", "")},
		{name: "key missing", edit: del("visitors[1].snapshots[0].events[0].key"), wantErr: "visitors[1].snapshots[0].events[0].key: required"},
		{name: "key empty", edit: set("visitors[1].snapshots[0].events[0].key", ""), wantErr: "visitors[1].snapshots[0].events[0].key: must be a non-empty string"},
		{name: "uuid missing", edit: del("visitors[1].snapshots[0].events[0].uuid"), wantErr: "visitors[1].snapshots[0].events[0].uuid: required"},
		{name: "timestamp missing", edit: del("visitors[1].snapshots[0].events[0].timestamp"), wantErr: "visitors[1].snapshots[0].events[0].timestamp: required"},
		{name: "timestamp 12 digits", edit: set("visitors[1].snapshots[0].events[0].timestamp", json.Number("170000000000")), wantErr: "visitors[1].snapshots[0].events[0].timestamp: must be a 13-digit epoch-milliseconds integer"},
		{name: "timestamp 14 digits", edit: set("visitors[1].snapshots[0].events[0].timestamp", json.Number("17000000000000")), wantErr: "visitors[1].snapshots[0].events[0].timestamp: must be a 13-digit epoch-milliseconds integer"},
		{name: "timestamp float", edit: set("visitors[1].snapshots[0].events[0].timestamp", json.Number("1700000000000.5")), wantErr: "visitors[1].snapshots[0].events[0].timestamp: must be a 13-digit epoch-milliseconds integer"},
		{name: "timestamp exponent", edit: set("visitors[1].snapshots[0].events[0].timestamp", json.Number("1.7e12")), wantErr: "visitors[1].snapshots[0].events[0].timestamp: must be a 13-digit epoch-milliseconds integer"},
		{name: "timestamp string", edit: set("visitors[1].snapshots[0].events[0].timestamp", "1700000000000"), wantErr: "visitors[1].snapshots[0].events[0].timestamp: must be a 13-digit epoch-milliseconds integer"},
		{name: "revenue fraction", edit: set("visitors[1].snapshots[0].events[0].revenue", json.Number("1.5")), wantErr: "visitors[1].snapshots[0].events[0].revenue: must be an integer"},
		{name: "revenue exponent", edit: set("visitors[1].snapshots[0].events[0].revenue", json.Number("1e2")), wantErr: "visitors[1].snapshots[0].events[0].revenue: must be an integer"},
		{name: "revenue string", edit: set("visitors[1].snapshots[0].events[0].revenue", "100"), wantErr: "visitors[1].snapshots[0].events[0].revenue: must be an integer"},
		{name: "revenue negative", edit: set("visitors[1].snapshots[0].events[0].revenue", json.Number("-100"))},
		{name: "value string", edit: set("visitors[1].snapshots[0].events[0].value", "3"), wantErr: "visitors[1].snapshots[0].events[0].value: must be a number"},
		{name: "value integer", edit: set("visitors[1].snapshots[0].events[0].value", json.Number("3"))},
		{name: "tags array", edit: set("visitors[1].snapshots[0].events[0].tags", []any{}), wantErr: "visitors[1].snapshots[0].events[0].tags: must be an object"},
		{name: "unknown fields ignored", edit: set("visitors[1].snapshots[0].events[0].extra", "x")},
		// The JavaScript SDK's decision-less impression (sendFlagDecisions, no rule
		// matched): campaign_id and entity_id null, experiment_id "", variation_id null.
		{name: "decision-less impression", edit: decisionless()},
		{name: "decision-less with cmab_uuid", edit: func(t testing.TB, m map[string]any) {
			decisionless()(t, m)
			set("visitors[0].snapshots[0].decisions[0].metadata.cmab_uuid", "c-1")(t, m)
		}},
		{name: "campaign_id null with experiment_id", edit: func(t testing.TB, m map[string]any) {
			decisionless()(t, m)
			set("visitors[0].snapshots[0].decisions[0].experiment_id", "2001")(t, m)
		}, wantErr: "visitors[0].snapshots[0].decisions[0].campaign_id: must be a string, got null"},
		{name: "campaign_id null with variation_id", edit: func(t testing.TB, m map[string]any) {
			decisionless()(t, m)
			set("visitors[0].snapshots[0].decisions[0].variation_id", "3001")(t, m)
		}, wantErr: "visitors[0].snapshots[0].decisions[0].campaign_id: must be a string, got null"},
		{name: "campaign_id null with variation_id empty", edit: func(t testing.TB, m map[string]any) {
			decisionless()(t, m)
			set("visitors[0].snapshots[0].decisions[0].variation_id", "")(t, m)
		}, wantErr: "visitors[0].snapshots[0].decisions[0].campaign_id: must be a string, got null"},
		{name: "impression entity_id null with a decision", edit: set("visitors[0].snapshots[0].events[0].entity_id", nil),
			wantErr: "visitors[0].snapshots[0].events[0].entity_id: must be a string, got null"},
		{name: "conversion entity_id null", edit: set("visitors[1].snapshots[0].events[0].entity_id", nil),
			wantErr: "visitors[1].snapshots[0].events[0].entity_id: must be a string, got null"},
		{name: "decision-less with a conversion entity_id null", edit: func(t testing.TB, m map[string]any) {
			decisionless()(t, m)
			set("visitors[0].snapshots[0].events[0].key", "purchase")(t, m)
		}, wantErr: "visitors[0].snapshots[0].events[0].entity_id: must be a string, got null"},
		{name: "decision-less entity_id missing", edit: func(t testing.TB, m map[string]any) {
			decisionless()(t, m)
			del("visitors[0].snapshots[0].events[0].entity_id")(t, m)
		}, wantErr: "visitors[0].snapshots[0].events[0].entity_id: required"},
		{name: "decision-less campaign_id missing", edit: func(t testing.TB, m map[string]any) {
			decisionless()(t, m)
			del("visitors[0].snapshots[0].decisions[0].campaign_id")(t, m)
		}, wantErr: "visitors[0].snapshots[0].decisions[0].campaign_id: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := New(Options{})
			p := payload(t, validOptimizely)
			if tt.edit != nil {
				tt.edit(t, p)
			}
			body := marshal(t, p)
			w := postOptimizely(srv, body)

			reqs := srv.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, ModeOptimizely, reqs[0].Mode)
			assert.Equal(t, body, reqs[0].Body)
			assert.Equal(t, w.Code, reqs[0].Status)
			if tt.wantErr == "" {
				require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
				assert.Empty(t, w.Body.String())
				assert.Len(t, srv.Accepted(), 1)
				return
			}
			require.Equal(t, http.StatusBadRequest, w.Code)
			assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
			msg := errorOf(t, w)
			assert.True(t, strings.HasPrefix(msg, tt.wantErr), "error %q, want prefix %q", msg, tt.wantErr)
			assert.Equal(t, msg, reqs[0].Error)
			assert.Empty(t, srv.Accepted())
			assert.Equal(t, Stats{Requests: 1, Rejected: 1}, srv.Stats())
		})
	}
}

func TestOptimizelyExactErrorBody(t *testing.T) {
	srv := New(Options{})
	p := payload(t, validOptimizely)
	set("visitors[1].snapshots[0].events[0].timestamp", json.Number("170000000000"))(t, p)
	w := postOptimizely(srv, marshal(t, p))
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.JSONEq(t, `{"error":"visitors[1].snapshots[0].events[0].timestamp: must be a 13-digit epoch-milliseconds integer"}`, w.Body.String())
}

func TestOptimizelyRequestLevel(t *testing.T) {
	valid := []byte(validOptimizely)
	tests := []struct {
		name     string
		method   string
		path     string
		header   http.Header
		body     []byte
		want     int
		wantErr  string
		wantMode string
	}{
		{name: "valid", path: OptimizelyPath, body: valid, want: 204, wantMode: ModeOptimizely},
		{name: "content-type with charset", path: OptimizelyPath, header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}, body: valid, want: 204, wantMode: ModeOptimizely},
		{name: "content-type text", path: OptimizelyPath, header: http.Header{"Content-Type": {"text/plain"}}, body: valid, want: 400, wantErr: "content-type must be application/json", wantMode: ModeOptimizely},
		{name: "content-type missing", path: OptimizelyPath, header: http.Header{}, body: valid, want: 400, wantErr: "content-type must be application/json", wantMode: ModeOptimizely},
		{name: "not JSON", path: OptimizelyPath, body: []byte(`{"account_id":`), want: 400, wantErr: "body: invalid JSON", wantMode: ModeOptimizely},
		{name: "trailing data", path: OptimizelyPath, body: append(append([]byte{}, valid...), []byte(" {}")...), want: 400, wantErr: "body: invalid JSON", wantMode: ModeOptimizely},
		{name: "array body", path: OptimizelyPath, body: []byte(`[]`), want: 400, wantErr: "body: must be an object", wantMode: ModeOptimizely},
		{name: "wrong path", path: "/v1/event", body: valid, want: 404, wantErr: "not found"},
		{name: "root path", path: "/", body: valid, want: 404, wantErr: "not found"},
		{name: "GET", method: http.MethodGet, path: OptimizelyPath, want: 405, wantErr: "method not allowed", wantMode: ModeOptimizely},
		{name: "unsupported encoding", path: OptimizelyPath, header: http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"br"}}, body: valid, want: 415, wantErr: "unsupported content-encoding", wantMode: ModeOptimizely},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := New(Options{})
			method, header := tt.method, tt.header
			if method == "" {
				method = http.MethodPost
			}
			if header == nil {
				header = jsonHeader
			}
			w := do(srv, method, tt.path, header, tt.body)
			require.Equal(t, tt.want, w.Code, w.Body.String())
			if tt.wantErr != "" {
				assert.Contains(t, errorOf(t, w), tt.wantErr)
			}
			if tt.want == 405 {
				assert.Equal(t, "POST", w.Header().Get("Allow"))
			}
			reqs := srv.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, tt.wantMode, reqs[0].Mode)
			assert.Equal(t, tt.path, reqs[0].Path)
			assert.Equal(t, tt.want, reqs[0].Status)
		})
	}
}

// bigOptimizely returns a valid batch padded to exactly n bytes with a tag value.
func bigOptimizely(t testing.TB, n int) []byte {
	p := payload(t, validOptimizely)
	set("visitors[1].snapshots[0].events[0].tags", map[string]any{"pad": ""})(t, p)
	base := len(marshal(t, p))
	set("visitors[1].snapshots[0].events[0].tags", map[string]any{"pad": strings.Repeat("x", n-base)})(t, p)
	b := marshal(t, p)
	require.Len(t, b, n)
	return b
}

func TestOptimizelyBodyLimit(t *testing.T) {
	srv := New(Options{})
	w := postOptimizely(srv, bigOptimizely(t, DefaultMaxBodyBytes))
	assert.Equal(t, http.StatusNoContent, w.Code, "exactly the limit is accepted")

	w = postOptimizely(srv, bigOptimizely(t, DefaultMaxBodyBytes+1))
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.JSONEq(t, `{"error":"payload too large"}`, w.Body.String())

	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Len(t, reqs[1].Body, DefaultMaxBodyBytes+1, "read is capped at limit+1")
}

func TestOptimizelyStatsAndUUIDs(t *testing.T) {
	srv := New(Options{})
	body := []byte(validOptimizely)
	require.Equal(t, 204, postOptimizely(srv, body).Code)
	require.Equal(t, 204, postOptimizely(srv, body).Code)
	p := payload(t, validOptimizely)
	del("account_id")(t, p)
	require.Equal(t, 400, postOptimizely(srv, marshal(t, p)).Code)

	assert.Equal(t, Stats{
		Requests: 3, Accepted: 2, Rejected: 1,
		Impressions: 2, Conversions: 2, Events: 4,
		Bytes: int64(2 * len(body)),
	}, srv.Stats())
	assert.Equal(t, map[string]int{"uuid-imp-1": 2, "uuid-conv-1": 2}, srv.UUIDs())
	assert.Len(t, srv.Accepted(), 2)
	assert.Len(t, srv.Requests(), 3)

	srv.Reset()
	assert.Equal(t, Stats{}, srv.Stats())
	assert.Empty(t, srv.Requests())
	assert.Empty(t, srv.UUIDs())
}

func TestGzipBody(t *testing.T) {
	srv := New(Options{})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(validOptimizely))
	require.NoError(t, zw.Close())
	w := do(srv, http.MethodPost, OptimizelyPath, http.Header{
		"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"},
	}, buf.Bytes())
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	assert.Equal(t, []byte(validOptimizely), srv.Requests()[0].Body, "recorded body is decoded")

	w = do(srv, http.MethodPost, OptimizelyPath, http.Header{
		"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"},
	}, []byte("not gzip"))
	assert.Equal(t, http.StatusBadRequest, w.Code)
}

// VWO

const (
	vwoAccount = "654321"
	vwoKey     = "sdk-key-abc"
	vwoUUID    = "0123456789ABCDEF0123456789ABCDEF"
)

func vwoTarget(prefix string) string {
	q := url.Values{"a": {vwoAccount}, "env": {vwoKey}, "sdk": {"otel"}, "sdk-v": {"0.1.0"}}
	return prefix + VWOPath + "?" + q.Encode()
}

var vwoHeader = http.Header{"Content-Type": {"application/json"}, "Authorization": {vwoKey}}

func attrT(doc string) string { return url.QueryEscape(doc) }

func vwoEvents() []any {
	return []any{
		map[string]any{"eT": 1, "u": vwoUUID, "sId": 1700000000, "visitor_ua": "Mozilla/5.0", "visitor_ip": "", "e": 12, "c": 3},
		map[string]any{"eT": 2, "u": vwoUUID, "sId": 1700000001, "visitor_ua": "", "visitor_ip": "10.0.0.1", "e": 12, "c": 3, "g": 7, "r": 19.99},
		map[string]any{"eT": 3, "u": vwoUUID, "sId": 1700000002, "visitor_ua": "", "visitor_ip": "", "t": attrT(`{"u":{"plan":"gold"}}`)},
	}
}

func vwoBody(t testing.TB, evs []any) []byte {
	return marshal(t, map[string]any{"ev": evs})
}

func TestVWOValidation(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(evs []any) // edits the three valid events
		want    int
		wantErr string
	}{
		{name: "valid", want: 200},
		{name: "eT missing", edit: func(e []any) { delete(e[0].(map[string]any), "eT") }, want: 400, wantErr: "ev[0].eT: required"},
		{name: "eT 4", edit: func(e []any) { e[0].(map[string]any)["eT"] = 4 }, want: 400, wantErr: "ev[0].eT: must be 1, 2 or 3"},
		{name: "eT string", edit: func(e []any) { e[0].(map[string]any)["eT"] = "1" }, want: 400, wantErr: "ev[0].eT: must be an integer"},
		{name: "u lowercase", edit: func(e []any) { e[1].(map[string]any)["u"] = strings.ToLower(vwoUUID) }, want: 400, wantErr: "ev[1].u: must be 32 uppercase hex"},
		{name: "u short", edit: func(e []any) { e[1].(map[string]any)["u"] = vwoUUID[1:] }, want: 400, wantErr: "ev[1].u: must be 32 uppercase hex"},
		{name: "u missing", edit: func(e []any) { delete(e[1].(map[string]any), "u") }, want: 400, wantErr: "ev[1].u: required"},
		{name: "sId millis", edit: func(e []any) { e[0].(map[string]any)["sId"] = 1700000000000 }, want: 400, wantErr: "ev[0].sId: must be a 10-digit"},
		{name: "sId float", edit: func(e []any) { e[0].(map[string]any)["sId"] = 1700000000.5 }, want: 400, wantErr: "ev[0].sId: must be an integer"},
		// The Go SDK sends neither, the Node SDK no visitor_ua/visitor_ip with eT 3.
		{name: "visitor_ua and visitor_ip absent", edit: func(e []any) {
			for _, ev := range e {
				delete(ev.(map[string]any), "visitor_ua")
				delete(ev.(map[string]any), "visitor_ip")
			}
		}, want: 200},
		{name: "visitor_ip null", edit: func(e []any) { e[2].(map[string]any)["visitor_ip"] = nil }, want: 400, wantErr: "ev[2].visitor_ip: must be a string"},
		{name: "visitor_ua number", edit: func(e []any) { e[0].(map[string]any)["visitor_ua"] = 5 }, want: 400, wantErr: "ev[0].visitor_ua: must be a string"},
		{name: "env in events", edit: func(e []any) {
			for _, ev := range e {
				ev.(map[string]any)["env"] = vwoKey
			}
		}, want: 200},
		{name: "eT1 e missing", edit: func(e []any) { delete(e[0].(map[string]any), "e") }, want: 400, wantErr: "ev[0].e: required"},
		{name: "eT1 c string", edit: func(e []any) { e[0].(map[string]any)["c"] = "3" }, want: 400, wantErr: "ev[0].c: must be an integer"},
		{name: "eT2 g missing", edit: func(e []any) { delete(e[1].(map[string]any), "g") }, want: 400, wantErr: "ev[1].g: required"},
		// The Go SDK sends revenue as a string, the Node SDK as the app gave it.
		{name: "eT2 r numeric string", edit: func(e []any) { e[1].(map[string]any)["r"] = "19.99" }, want: 200},
		{name: "eT2 r integer string", edit: func(e []any) { e[1].(map[string]any)["r"] = "100" }, want: 200},
		{name: "eT2 r negative exponent string", edit: func(e []any) { e[1].(map[string]any)["r"] = "-1.5e3" }, want: 200},
		{name: "eT2 r integer", edit: func(e []any) { e[1].(map[string]any)["r"] = 100 }, want: 200},
		{name: "eT2 r non-numeric string", edit: func(e []any) { e[1].(map[string]any)["r"] = "abc" }, want: 400, wantErr: "ev[1].r: must be a number or a numeric string"},
		{name: "eT2 r empty string", edit: func(e []any) { e[1].(map[string]any)["r"] = "" }, want: 400, wantErr: "ev[1].r: must be a number or a numeric string"},
		{name: "eT2 r padded string", edit: func(e []any) { e[1].(map[string]any)["r"] = " 12" }, want: 400, wantErr: "ev[1].r: must be a number or a numeric string"},
		{name: "eT2 r NaN string", edit: func(e []any) { e[1].(map[string]any)["r"] = "NaN" }, want: 400, wantErr: "ev[1].r: must be a number or a numeric string"},
		{name: "eT2 r boolean", edit: func(e []any) { e[1].(map[string]any)["r"] = true }, want: 400, wantErr: "ev[1].r: must be a number or a numeric string, got boolean"},
		{name: "eT2 r null", edit: func(e []any) { e[1].(map[string]any)["r"] = nil }, want: 400, wantErr: "ev[1].r: must be a number or a numeric string, got null"},
		{name: "eT2 e missing", edit: func(e []any) { delete(e[1].(map[string]any), "e") }, want: 400, wantErr: "ev[1].e: required"},
		{name: "eT2 g float", edit: func(e []any) { e[1].(map[string]any)["g"] = 7.5 }, want: 400, wantErr: "ev[1].g: must be an integer"},
		{name: "eT2 c string", edit: func(e []any) { e[1].(map[string]any)["c"] = "3" }, want: 400, wantErr: "ev[1].c: must be an integer"},
		{name: "sId missing", edit: func(e []any) { delete(e[1].(map[string]any), "sId") }, want: 400, wantErr: "ev[1].sId: required"},
		{name: "eT2 r absent", edit: func(e []any) { delete(e[1].(map[string]any), "r") }, want: 200},
		{name: "eT3 t missing", edit: func(e []any) { delete(e[2].(map[string]any), "t") }, want: 400, wantErr: "ev[2].t: required"},
		{name: "eT3 t empty", edit: func(e []any) { e[2].(map[string]any)["t"] = "" }, want: 400, wantErr: "ev[2].t: must be a non-empty string"},
		{name: "eT3 t bad escape", edit: func(e []any) { e[2].(map[string]any)["t"] = "%zz" }, want: 400, wantErr: "ev[2].t: must be percent-encoded"},
		{name: "eT3 t not JSON", edit: func(e []any) { e[2].(map[string]any)["t"] = attrT("plan=gold") }, want: 400, wantErr: "ev[2].t: must decode to a JSON object"},
		{name: "eT3 t no u", edit: func(e []any) { e[2].(map[string]any)["t"] = attrT(`{"v":{"plan":"gold"}}`) }, want: 400, wantErr: `ev[2].t: must decode to {"u"`},
		{name: "eT3 t extra top key", edit: func(e []any) { e[2].(map[string]any)["t"] = attrT(`{"u":{"plan":"gold"},"x":1}`) }, want: 400, wantErr: `ev[2].t: must decode to {"u"`},
		{name: "eT3 t two attributes", edit: func(e []any) { e[2].(map[string]any)["t"] = attrT(`{"u":{"a":"1","b":"2"}}`) }, want: 400, wantErr: "ev[2].t: \"u\" must hold exactly one attribute"},
		{name: "eT3 t no attributes", edit: func(e []any) { e[2].(map[string]any)["t"] = attrT(`{"u":{}}`) }, want: 400, wantErr: "ev[2].t: \"u\" must hold exactly one attribute"},
		{name: "eT3 t u null", edit: func(e []any) { e[2].(map[string]any)["t"] = attrT(`{"u":null}`) }, want: 400, wantErr: "ev[2].t: \"u\" must be an object"},
		{name: "eT3 t value number", edit: func(e []any) { e[2].(map[string]any)["t"] = attrT(`{"u":{"age":42}}`) }, want: 400, wantErr: "ev[2].t: attribute \"age\" must have a string value, got number"},
		{name: "eT3 t key too long", edit: func(e []any) {
			e[2].(map[string]any)["t"] = attrT(`{"u":{"` + strings.Repeat("k", 256) + `":"v"}}`)
		}, want: 400, wantErr: "ev[2].t: attribute key longer than 255"},
		{name: "eT3 t value too long", edit: func(e []any) {
			e[2].(map[string]any)["t"] = attrT(`{"u":{"k":"` + strings.Repeat("é", 256) + `"}}`)
		}, want: 400, wantErr: `ev[2].t: attribute "k" value longer than 255`},
		{name: "eT3 t 255 chars ok", edit: func(e []any) {
			e[2].(map[string]any)["t"] = attrT(`{"u":{"` + strings.Repeat("k", 255) + `":"` + strings.Repeat("é", 255) + `"}}`)
		}, want: 200},
		{name: "eT3 t path-escaped", edit: func(e []any) { e[2].(map[string]any)["t"] = url.PathEscape(`{"u":{"plan":"a+b c"}}`) }, want: 200},
		// The Go SDK: `{"u":{"` + url.QueryEscape(k) + `":"` + url.QueryEscape(v) + `"}}`.
		{name: "eT3 t Go SDK encoding", edit: func(e []any) {
			e[2].(map[string]any)["t"] = `{"u":{"home+city":"S%C3%A3o+Paulo%2FZ%C3%BCrich+%26+co%2B1%22"}}`
		}, want: 200},
		{name: "eT3 t Go SDK encoding bad escape", edit: func(e []any) { e[2].(map[string]any)["t"] = `{"u":{"plan":"50%"}}` }, want: 400, wantErr: `ev[2].t: attribute "plan" value must be query-escaped`},
		{name: "eT3 t Go SDK encoding two attributes", edit: func(e []any) { e[2].(map[string]any)["t"] = `{"u":{"a":"1","b":"2"}}` }, want: 400, wantErr: "ev[2].t: \"u\" must hold exactly one attribute"},
		{name: "eT3 t Go SDK encoding value too long", edit: func(e []any) {
			e[2].(map[string]any)["t"] = `{"u":{"k":"` + strings.Repeat("%C3%A9", 256) + `"}}`
		}, want: 400, wantErr: `ev[2].t: attribute "k" value longer than 255`},
		{name: "eT3 t Go SDK encoding 255 chars ok", edit: func(e []any) {
			e[2].(map[string]any)["t"] = `{"u":{"k":"` + strings.Repeat("%C3%A9", 255) + `"}}`
		}, want: 200},
		{name: "eT3 t Go SDK encoding value number", edit: func(e []any) { e[2].(map[string]any)["t"] = `{"u":{"age":42}}` }, want: 400, wantErr: "ev[2].t: attribute \"age\" must have a string value, got number"},
		{name: "event not object", edit: func(e []any) { e[1] = "x" }, want: 400, wantErr: "ev[1]: must be an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := New(Options{})
			evs := vwoEvents()
			if tt.edit != nil {
				tt.edit(evs)
			}
			w := do(srv, http.MethodPost, vwoTarget(""), vwoHeader, vwoBody(t, evs))
			require.Equal(t, tt.want, w.Code, w.Body.String())
			reqs := srv.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, ModeVWO, reqs[0].Mode)
			if tt.want == 200 {
				assert.JSONEq(t, `{"message":"success"}`, w.Body.String())
				assert.Equal(t, Stats{Requests: 1, Accepted: 1, Impressions: 1, Conversions: 1, Events: 3, Bytes: int64(len(reqs[0].Body))}, srv.Stats())
				return
			}
			msg := errorOf(t, w)
			assert.True(t, strings.HasPrefix(msg, tt.wantErr), "error %q, want prefix %q", msg, tt.wantErr)
			assert.Equal(t, Stats{Requests: 1, Rejected: 1}, srv.Stats())
		})
	}
}

func TestVWORequestLevel(t *testing.T) {
	evs := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = vwoEvents()[0]
		}
		return out
	}
	withQuery := func(q url.Values) string { return VWOPath + "?" + q.Encode() }
	tests := []struct {
		name    string
		target  string
		header  http.Header
		body    func(testing.TB) []byte
		want    int
		wantErr string
	}{
		{name: "valid", want: 200},
		{name: "collection prefix", target: vwoTarget("/eu01"), want: 200},
		{name: "two-segment prefix", target: vwoTarget("/a/b"), want: 404, wantErr: "not found"},
		{name: "5000 events", body: func(t testing.TB) []byte { return vwoBody(t, evs(5000)) }, want: 200},
		{name: "5001 events", body: func(t testing.TB) []byte { return vwoBody(t, evs(5001)) }, want: 413, wantErr: "ev: too many events (5001 > 5000)"},
		{name: "no events", body: func(t testing.TB) []byte { return vwoBody(t, []any{}) }, want: 400, wantErr: "ev: must be a non-empty array"},
		{name: "ev missing", body: func(testing.TB) []byte { return []byte(`{}`) }, want: 400, wantErr: "ev: required"},
		{name: "ev not array", body: func(testing.TB) []byte { return []byte(`{"ev":{}}`) }, want: 400, wantErr: "ev: must be an array"},
		{name: "not JSON", body: func(testing.TB) []byte { return []byte(`{"ev":[`) }, want: 400, wantErr: "body: invalid JSON"},
		{name: "too large", body: func(testing.TB) []byte { return bytes.Repeat([]byte(" "), DefaultMaxBodyBytes+1) }, want: 413, wantErr: "payload too large"},
		{name: "missing Authorization", header: http.Header{"Content-Type": {"application/json"}}, want: 401, wantErr: "unauthorized"},
		{name: "wrong Authorization", header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"other"}}, want: 401, wantErr: "unauthorized"},
		{name: "wrong content type", header: http.Header{"Content-Type": {"text/plain"}, "Authorization": {vwoKey}}, want: 400, wantErr: "content-type must be application/json"},
		// Neither the Go nor the Node SDK sends a Content-Type.
		{name: "no content type", header: http.Header{"Authorization": {vwoKey}}, want: 200},
		{name: "content type with charset", header: http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Authorization": {vwoKey}}, want: 200},
		{name: "missing Authorization, no content type", header: http.Header{}, want: 401, wantErr: "unauthorized"},
		{name: "env mismatch", target: withQuery(url.Values{"a": {vwoAccount}, "env": {"other"}}), want: 401, wantErr: "unauthorized"},
		{name: "a missing", target: withQuery(url.Values{"env": {vwoKey}}), want: 400, wantErr: "a: must be a numeric account id"},
		{name: "a not numeric", target: withQuery(url.Values{"a": {"abc"}, "env": {vwoKey}}), want: 400, wantErr: "a: must be a numeric account id"},
		{name: "env missing", target: withQuery(url.Values{"a": {vwoAccount}}), want: 400, wantErr: "env: required"},
		{name: "sdk optional", target: withQuery(url.Values{"a": {vwoAccount}, "env": {vwoKey}}), want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := New(Options{})
			target, header := tt.target, tt.header
			if target == "" {
				target = vwoTarget("")
			}
			if header == nil {
				header = vwoHeader
			}
			body := vwoBody(t, vwoEvents())
			if tt.body != nil {
				body = tt.body(t)
			}
			w := do(srv, http.MethodPost, target, header, body)
			require.Equal(t, tt.want, w.Code, w.Body.String())
			if tt.wantErr != "" {
				msg := errorOf(t, w)
				assert.True(t, strings.HasPrefix(msg, tt.wantErr), "error %q, want prefix %q", msg, tt.wantErr)
			}
			require.Len(t, srv.Requests(), 1)
			assert.Equal(t, tt.want, srv.Requests()[0].Status)
		})
	}
}

func TestVWOUUIDs(t *testing.T) {
	srv := New(Options{})
	body := vwoBody(t, vwoEvents())
	for range 2 {
		require.Equal(t, 200, do(srv, http.MethodPost, vwoTarget(""), vwoHeader, body).Code)
	}
	ids := srv.UUIDs()
	require.Len(t, ids, 3)
	for id, n := range ids {
		assert.Equal(t, 2, n, id)
		assert.True(t, json.Valid([]byte(id)), id)
		assert.NotContains(t, id, "\n")
	}
	assert.Equal(t, 2, ids[`{"c":3,"e":12,"eT":1,"sId":1700000000,"u":"`+vwoUUID+`","visitor_ip":"","visitor_ua":"Mozilla/5.0"}`])
}

// vwoCapture is a batch-events request a real VWO SDK made, recorded by
// internal/vwocompat (Go SDK: go test -run TestCaptureGoSDK -update; Node SDK:
// node/capture.js).
type vwoCapture struct {
	SDK        string              `json:"sdk"`
	SDKVersion string              `json:"sdk_version"`
	Scenario   string              `json:"scenario"`
	Method     string              `json:"method"`
	Host       string              `json:"host"`
	Path       string              `json:"path"`
	Query      string              `json:"query"`
	Header     map[string][]string `json:"header"`
	Body       string              `json:"body"`
}

// TestVWORealSDKRequests replays the requests of the real SDKs, exactly as they sent
// them: each must be accepted.
func TestVWORealSDKRequests(t *testing.T) {
	files, err := filepath.Glob("testdata/vwo_*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	sdks := map[string]int{}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			var c vwoCapture
			require.NoError(t, json.Unmarshal(raw, &c))
			sdks[c.SDK]++
			var body struct {
				Ev []map[string]any `json:"ev"`
			}
			require.NoError(t, json.Unmarshal([]byte(c.Body), &body))
			impressions, conversions := 0, 0
			for _, ev := range body.Ev {
				switch ev["eT"] {
				case 1.0:
					impressions++
				case 2.0:
					conversions++
				}
			}

			srv := New(Options{})
			header := http.Header{}
			for k, vs := range c.Header {
				header[http.CanonicalHeaderKey(k)] = vs
			}
			w := do(srv, c.Method, c.Path+"?"+c.Query, header, []byte(c.Body))
			require.Equal(t, 200, w.Code, "%s %s: %s", c.SDK, c.Scenario, w.Body.String())
			assert.JSONEq(t, `{"message":"success"}`, w.Body.String())
			assert.Equal(t, Stats{Requests: 1, Accepted: 1, Impressions: impressions, Conversions: conversions,
				Events: len(body.Ev), Bytes: int64(len(c.Body))}, srv.Stats())

			// Still refused without the key, or with another.
			for _, auth := range [][]string{nil, {"other"}} {
				h := header.Clone()
				h["Authorization"] = auth
				if auth == nil {
					delete(h, "Authorization")
				}
				assert.Equal(t, 401, do(New(Options{}), c.Method, c.Path+"?"+c.Query, h, []byte(c.Body)).Code)
			}
		})
	}
	assert.NotZero(t, sdks["github.com/wingify/vwo-go-sdk"], "no Go SDK capture")
	assert.NotZero(t, sdks["vwo-node-sdk"], "no Node SDK capture")
}

// decisionless turns visitors[0]'s impression into the JavaScript SDK's decision-less one.
func decisionless() func(testing.TB, map[string]any) {
	return func(t testing.TB, m map[string]any) {
		set("visitors[0].snapshots[0].decisions[0].campaign_id", nil)(t, m)
		set("visitors[0].snapshots[0].decisions[0].experiment_id", "")(t, m)
		set("visitors[0].snapshots[0].decisions[0].variation_id", nil)(t, m)
		set("visitors[0].snapshots[0].decisions[0].metadata.rule_key", "")(t, m)
		set("visitors[0].snapshots[0].decisions[0].metadata.variation_key", "")(t, m)
		set("visitors[0].snapshots[0].events[0].entity_id", nil)(t, m)
	}
}

// jsCapture is a request the Optimizely JavaScript SDK sent (internal/jscompat writes and
// checks these files from the real SDK).
type jsCapture struct {
	SDK        string              `json:"sdk"`
	SDKVersion string              `json:"sdk_version"`
	Scenario   string              `json:"scenario"`
	Method     string              `json:"method"`
	URL        string              `json:"url"`
	Header     map[string][]string `json:"header"`
	Body       string              `json:"body"`
}

// TestOptimizelyRealJSSDKRequests POSTs the requests the Optimizely JavaScript SDK 6.6.1
// sends (captured by internal/jscompat) to the replica: each must be accepted.
func TestOptimizelyRealJSSDKRequests(t *testing.T) {
	files, err := filepath.Glob("testdata/optimizely_js_*.json")
	require.NoError(t, err)
	scenarios := map[string]bool{}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			var c jsCapture
			require.NoError(t, json.Unmarshal(raw, &c))
			scenarios[c.Scenario] = true
			require.Equal(t, "@optimizely/optimizely-sdk", c.SDK)
			u, err := url.Parse(c.URL)
			require.NoError(t, err)
			require.Equal(t, OptimizelyPath, u.Path)
			require.Contains(t, []string{"logx.optimizely.com", "eu.logx.optimizely.com"}, u.Host)
			var body struct {
				Visitors []struct {
					Snapshots []struct {
						Events []struct {
							Key string `json:"key"`
						} `json:"events"`
					} `json:"snapshots"`
				} `json:"visitors"`
			}
			require.NoError(t, json.Unmarshal([]byte(c.Body), &body))
			impressions, conversions := 0, 0
			for _, v := range body.Visitors {
				for _, sn := range v.Snapshots {
					for _, e := range sn.Events {
						if e.Key == impressionKey {
							impressions++
						} else {
							conversions++
						}
					}
				}
			}
			srv := New(Options{})
			header := http.Header{}
			for k, vs := range c.Header {
				header[http.CanonicalHeaderKey(k)] = vs
			}
			w := do(srv, c.Method, u.Path, header, []byte(c.Body))
			require.Equal(t, http.StatusNoContent, w.Code, "%s: %s", c.Scenario, w.Body.String())
			assert.Equal(t, Stats{Requests: 1, Accepted: 1, Impressions: impressions, Conversions: conversions,
				Events: impressions + conversions, Bytes: int64(len(c.Body))}, srv.Stats())
		})
	}
	for _, s := range []string{"experiment_impression", "rollout_impression", "decisionless_impression",
		"holdout_impression", "conversion", "eu_holdout_impression", "eu_conversion", "cmab_impression"} {
		assert.True(t, scenarios[s], "no capture of %s", s)
	}
}

func TestIsNumberLiteral(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "100": true, "-3": true, "12.5": true, "0.30000000000000004": true, "1e21": true, "-1.5E+3": true,
		"": false, "-": false, "01": false, "1.": false, ".5": false, "1e": false, " 1": false, "1 ": false,
		"+1": false, "abc": false, "NaN": false, "Infinity": false, "0x10": false, "1_000": false, "12,5": false,
	} {
		assert.Equal(t, want, isNumberLiteral(s), "%q", s)
	}
}

// Faults and scripts

func TestScript(t *testing.T) {
	srv := New(Options{})
	srv.Script(
		Step{Status: 503, RetryAfter: "1", Body: `{"error":"busy"}`},
		Step{Status: 500}, // answered before validation: the body is never looked at
		Step{Delay: 20 * time.Millisecond},
	)
	require.Equal(t, 3, srv.Pending())

	w := postOptimizely(srv, []byte(validOptimizely))
	assert.Equal(t, 503, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	assert.JSONEq(t, `{"error":"busy"}`, w.Body.String())

	w = postOptimizely(srv, []byte("garbage"))
	assert.Equal(t, 500, w.Code)
	assert.Empty(t, w.Header().Get("Retry-After"))

	start := time.Now()
	w = postOptimizely(srv, []byte(validOptimizely))
	assert.Equal(t, 204, w.Code)
	assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)

	w = postOptimizely(srv, []byte(validOptimizely))
	assert.Equal(t, 204, w.Code, "script exhausted: normal answers")
	assert.Equal(t, 0, srv.Pending())

	st := srv.Stats()
	assert.Equal(t, 4, st.Requests)
	assert.Equal(t, 2, st.Accepted)
	assert.Equal(t, 2, st.Rejected)
	assert.Equal(t, 4, st.Events)
	statuses := []int{}
	for _, r := range srv.Requests() {
		statuses = append(statuses, r.Status)
	}
	assert.Equal(t, []int{503, 500, 204, 204}, statuses)
	assert.Equal(t, "busy", srv.Requests()[0].Error)

	// 404s do not consume steps; Reset drops pending ones.
	srv.Script(Step{Status: 503})
	assert.Equal(t, 404, do(srv, http.MethodPost, "/nope", jsonHeader, nil).Code)
	assert.Equal(t, 1, srv.Pending())
	srv.Reset()
	assert.Equal(t, 0, srv.Pending())
}

func TestSetFaultPoisonEvent(t *testing.T) {
	srv := New(Options{})
	srv.SetFault(func(_ *http.Request, body []byte) *Step {
		if bytes.Contains(body, []byte(`"uuid-poison"`)) {
			return &Step{Status: 400, Body: `{"error":"poison"}`}
		}
		return nil
	})
	srv.Script(Step{Status: 503})

	p := payload(t, validOptimizely)
	set("visitors[1].snapshots[0].events[0].uuid", "uuid-poison")(t, p)
	w := postOptimizely(srv, marshal(t, p))
	assert.Equal(t, 400, w.Code)
	assert.Equal(t, 1, srv.Pending(), "a fault leaves the script untouched")

	assert.Equal(t, 503, postOptimizely(srv, []byte(validOptimizely)).Code, "no fault: the script answers")
	assert.Equal(t, 204, postOptimizely(srv, []byte(validOptimizely)).Code)

	srv.SetFault(nil)
	assert.Equal(t, 204, postOptimizely(srv, marshal(t, p)).Code)
	assert.Equal(t, map[string]int{"uuid-imp-1": 2, "uuid-conv-1": 1, "uuid-poison": 1}, srv.UUIDs())
}

func TestSetFaultOutage(t *testing.T) {
	srv := New(Options{})
	var mu sync.Mutex
	down := true
	srv.SetFault(func(*http.Request, []byte) *Step {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return &Step{Status: 503, RetryAfter: "2"}
		}
		return nil
	})
	w := do(srv, http.MethodPost, vwoTarget(""), vwoHeader, vwoBody(t, vwoEvents()))
	assert.Equal(t, 503, w.Code)
	assert.Equal(t, "2", w.Header().Get("Retry-After"))
	mu.Lock()
	down = false
	mu.Unlock()
	w = do(srv, http.MethodPost, vwoTarget(""), vwoHeader, vwoBody(t, vwoEvents()))
	assert.Equal(t, 200, w.Code)
}

// Live server

func TestStartClose(t *testing.T) {
	srv := New(Options{})
	base, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	assert.Equal(t, base, srv.URL())
	_, err = srv.Start("127.0.0.1:0")
	assert.Error(t, err)

	resp, err := http.Post(base+OptimizelyPath, "application/json", strings.NewReader(validOptimizely))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 204, resp.StatusCode)

	// An oversized body gets its 400, not a reset connection.
	resp, err = http.Post(base+OptimizelyPath, "application/json", bytes.NewReader(bigOptimizely(t, DefaultMaxBodyBytes+1000)))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 400, resp.StatusCode)
	assert.JSONEq(t, `{"error":"payload too large"}`, string(b))

	require.NoError(t, srv.Close())
	require.NoError(t, srv.Close())
	_, err = http.Post(base+OptimizelyPath, "application/json", strings.NewReader(validOptimizely))
	assert.Error(t, err)
	_, err = srv.Start("127.0.0.1:0")
	assert.Error(t, err, "a closed server does not restart")
}

func TestDelayRespectsClientCancel(t *testing.T) {
	srv := New(Options{})
	base, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	srv.Script(Step{Delay: time.Hour, Status: 503})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+OptimizelyPath, strings.NewReader(validOptimizely))
	req.Header.Set("Content-Type", "application/json")
	_, err = http.DefaultClient.Do(req)
	require.Error(t, err)

	require.Eventually(t, func() bool { return len(srv.Requests()) == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, StatusClientClosed, srv.Requests()[0].Status)
	assert.Equal(t, 0, srv.Stats().Accepted)
}

func TestCloseEndsDelay(t *testing.T) {
	srv := New(Options{})
	base, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	srv.Script(Step{Delay: time.Hour})

	done := make(chan int, 1)
	go func() {
		resp, err := http.Post(base+OptimizelyPath, "application/json", strings.NewReader(validOptimizely))
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	require.Eventually(t, func() bool { return srv.Pending() == 0 }, 5*time.Second, time.Millisecond)
	start := time.Now()
	require.NoError(t, srv.Close())
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Equal(t, 503, <-done)
}

func TestAdmin(t *testing.T) {
	srv := New(Options{Admin: true})
	require.Equal(t, 204, postOptimizely(srv, []byte(validOptimizely)).Code)

	w := do(srv, http.MethodGet, "/stats", nil, nil)
	require.Equal(t, 200, w.Code)
	var st Stats
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &st))
	assert.Equal(t, srv.Stats(), st)
	assert.Equal(t, 2, st.Events)
	assert.Contains(t, w.Body.String(), `"impressions":1`)

	assert.Equal(t, 405, do(srv, http.MethodGet, "/reset", nil, nil).Code)
	assert.Equal(t, 204, do(srv, http.MethodPost, "/reset", nil, nil).Code)
	assert.Equal(t, Stats{}, srv.Stats(), "admin requests are not recorded")

	plain := New(Options{})
	assert.Equal(t, 404, do(plain, http.MethodGet, "/stats", nil, nil).Code)
}

func TestConcurrent(t *testing.T) {
	srv := New(Options{})
	base, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	srv.Script(Step{Status: 503}, Step{Status: 503})

	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			p := payload(t, validOptimizely)
			set("visitors[0].snapshots[0].events[0].uuid", fmt.Sprintf("imp-%d", i))(t, p)
			set("visitors[1].snapshots[0].events[0].uuid", fmt.Sprintf("conv-%d", i))(t, p)
			resp, err := http.Post(base+OptimizelyPath, "application/json", bytes.NewReader(marshal(t, p)))
			if assert.NoError(t, err) {
				resp.Body.Close()
			}
			_ = srv.Stats()
			_ = srv.UUIDs()
		})
	}
	wg.Wait()
	st := srv.Stats()
	assert.Equal(t, n, st.Requests)
	assert.Equal(t, n-2, st.Accepted)
	assert.Equal(t, 2*(n-2), st.Events)
	assert.Len(t, srv.UUIDs(), 2*(n-2))
}
