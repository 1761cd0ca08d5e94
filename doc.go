// Package experimentationexporter ships impression and conversion events built from
// OTLP log records to experimentation platforms (Optimizely Event API, VWO batch events).
package experimentationexporter // import "github.com/experimentationexporter/experimentationexporter"

//go:generate .tools/bin/mdatagen metadata.yaml
