// Package vwocompat checks the exporter's VWO batch events against the real VWO SDKs.
//
// The VWO Go SDK (github.com/wingify/vwo-go-sdk) runs in the test with batch events
// against a local TLS server standing in for dev.visualwebsiteoptimizer.com, which records
// its requests (capture_test.go, which also refreshes ../eventsapi/testdata with -update);
// compare_test.go compares them, event by event, with what the exporter builds from
// records that carry only keys and names.
//
// The VWO Node SDK (vwo-node-sdk, pinned by node/package-lock.json, installed by
// make nodeclient) is the second ground truth: node/decide.js runs it over the calls an
// app makes for the users of a settings file (testdata/node, and seeded random ones) and
// prints each call's result and every event it would send; nodecompare_test.go builds the
// record the app would emit with only what the SDK's API returned (a conversion names no
// variation), compares the exporter's events with the SDK's and asks the Go SDK the same
// questions. It skips when node or node/node_modules is missing.
//
// It is a separate module so the SDKs never become a dependency of the exporter.
package vwocompat
