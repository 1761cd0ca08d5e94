package main

import (
	"compress/gzip"
	"io"
	"net/http"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// otlpSink is the floor's receiving end: an OTLP/HTTP logs endpoint that decodes each
// /v1/logs protobuf request (gzip, the otlp_http exporter's default, or plain), counts
// its log records and answers 200 with an empty ExportLogsServiceResponse.
type otlpSink struct {
	requests, records, bytes atomic.Int64
	response                 []byte
}

func newOTLPSink() (*otlpSink, error) {
	resp, err := plogotlp.NewExportResponse().MarshalProto()
	if err != nil {
		return nil, err
	}
	return &otlpSink{response: resp}, nil
}

func (s *otlpSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/logs" || r.Method != http.MethodPost {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	var body io.Reader = countingReader{r.Body, &s.bytes}
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		defer zr.Close()
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	req := plogotlp.NewExportRequest()
	if err := req.UnmarshalProto(raw); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.records.Add(int64(req.Logs().LogRecordCount()))
	s.requests.Add(1)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.response)
}

// countingReader counts the bytes read from the wire.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
