# Versions pinned with go.mod (see README "Versions").
OCB_VERSION      := v0.162.0
MDATAGEN_VERSION := v0.159.0
TOOLS            := $(CURDIR)/.tools/bin
COLLECTOR        := _build/otelcol-experimentation
export GOTOOLCHAIN := local
export GOFLAGS := -buildvcs=false

.PHONY: test run collector tools generate bench fuzz e2e lint loadbench sdkcompat nodeclient

## test: everything CI runs: vet, gofmt, unit tests with -race, the Optimizely SDK
## comparison, short fuzzing, end-to-end tests with real clients.
test: lint
	go test -race -count=1 ./...
	$(MAKE) sdkcompat
	$(MAKE) fuzz FUZZTIME=5s
	$(MAKE) e2e

## sdkcompat: rule resolution and payloads against the official Optimizely Go SDK and
## JavaScript SDK (internal/jscompat, run with Node.js: make nodeclient installs it), and
## VWO events against the VWO Go SDK (their own modules, so the SDKs never enter the
## exporter's dependencies).
sdkcompat:
	cd internal/sdkcompat && go vet ./... && go test -count=1 ./...
	cd internal/jscompat && go vet ./... && go test -count=1 ./...
	cd internal/vwocompat && go vet ./... && go test -count=1 ./...

## nodeclient: Node.js and the pinned JS packages: OpenFeature/OpenTelemetry for the e2e
## tests, the Optimizely JavaScript SDK for internal/jscompat.
nodeclient:
	bash testbed/e2e/nodeclient/install.sh
	bash internal/jscompat/node/install.sh

## lint: gofmt over every module; vet of the exporter, of testbed/ (the test tooling's own
## module, with the e2e tag) and of testbed/e2e/goclient.
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
	go vet ./...
	cd testbed && go vet -tags e2e ./...
	cd testbed/e2e/goclient && go vet ./...

## run: the demo: Event API replica + collector (examples/demo.yaml) + testbed/e2e/goclient, a Go
## app using the Optimizely Go SDK via OpenFeature and its OpenTelemetry hook; checks what the API
## received against the SDK's own impressions. testbed/ is its own module, so it runs from there.
run: $(COLLECTOR)
	cd testbed && go run ./cmd/demo -collector ../$(COLLECTOR) -config ../examples/demo.yaml

## collector: build the collector with ocb from builder-config.yaml.
collector: $(COLLECTOR)
$(COLLECTOR): $(TOOLS)/builder builder-config.yaml go.mod $(wildcard *.go internal/*/*.go)
	$(TOOLS)/builder --config=builder-config.yaml

tools: $(TOOLS)/builder $(TOOLS)/mdatagen
$(TOOLS)/builder:
	GOBIN=$(TOOLS) go install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)
# mdatagen cannot be installed with go install through this proxy; build it from a tools module.
$(TOOLS)/mdatagen:
	mkdir -p .tools/mdatagen && cd .tools/mdatagen && ( test -f go.mod || go mod init mdgtool ) && \
	  echo 'package main' > tools.go && \
	  go get -tool go.opentelemetry.io/collector/cmd/mdatagen@$(MDATAGEN_VERSION) && \
	  go build -o $(TOOLS)/mdatagen go.opentelemetry.io/collector/cmd/mdatagen

## generate: regenerate internal/metadata from metadata.yaml. mdatagen names the package
## after the folder, so it runs from a link named after the package.
generate: $(TOOLS)/mdatagen
	ln -sfn $(CURDIR) /tmp/experimentationexporter
	cd /tmp/experimentationexporter && PWD=/tmp/experimentationexporter $(TOOLS)/mdatagen metadata.yaml

## e2e: end-to-end tests (testbed/e2e) against a collector built with ocb.
e2e: $(COLLECTOR)
	cd testbed && go test -count=1 -timeout 20m -tags e2e ./e2e/... -collector=$(CURDIR)/$(COLLECTOR)

bench:
	go test -run xxx -bench . -benchmem -count 6 . | tee bench.out

FUZZTIME ?= 30s
fuzz:
	go test -run xxx -fuzz FuzzConvert -fuzztime $(FUZZTIME) .
	go test -run xxx -fuzz FuzzParseDatafile -fuzztime $(FUZZTIME) ./internal/optimizely/

## loadbench: events/s end to end (OTLP/HTTP → collector → loopback events API), CPU and peak RSS,
## side by side with the floor: the same collector and load exporting with core otlp_http
## to an OTLP sink (3 runs each, alternating).
loadbench: $(COLLECTOR)
	cd testbed && go run ./cmd/loadbench -collector ../$(COLLECTOR) -batch-size 500 -compare 3
	cd testbed && go run ./cmd/loadbench -collector ../$(COLLECTOR) -batch-size 500 -validate
	cd testbed && go run ./cmd/loadbench -collector ../$(COLLECTOR) -batch-size 10 -events 200000
