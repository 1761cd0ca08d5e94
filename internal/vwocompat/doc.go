// Package vwocompat checks the exporter's VWO batch events against the real VWO Go SDK
// (github.com/wingify/vwo-go-sdk): it runs the SDK with batch events against a local
// TLS server standing in for dev.visualwebsiteoptimizer.com, records its requests
// (capture_test.go, which also refreshes ../eventsapi/testdata with -update) and
// compares them, event by event, with what the exporter builds from records that
// carry only keys and names (compare_test.go).
//
// It is a separate module so the SDK never becomes a dependency of the exporter.
package vwocompat
