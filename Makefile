# Start with `make help`: every target a user needs, from the "## target:" comments below.
# The usual ones: make run (the demo), make test (what CI runs), make e2e, make collector.
#
# Tool versions, pinned with the collector release set of go.mod and builder-config.yaml
# (README section "Building a collector").
OCB_VERSION      := v0.162.0
MDATAGEN_VERSION := v0.159.0
TOOLS            := $(CURDIR)/.tools/bin
COLLECTOR        := _build/otelcol-experimentation
export GOTOOLCHAIN := local
export GOFLAGS := -buildvcs=false

.PHONY: test run collector tools generate bench fuzz e2e lint loadbench sdkcompat nodeclient image image-test

## test: everything CI runs: vet, gofmt, unit tests with -race, the Optimizely SDK
## comparison, short fuzzing, end-to-end tests with real clients.
test: lint
	go test -race -count=1 ./...
	$(MAKE) sdkcompat
	$(MAKE) fuzz FUZZTIME=10000x # a count, not a time: a deadline passing mid-minimization fails the run on a busy machine
	$(MAKE) e2e

## sdkcompat: rule resolution and payloads against the official Optimizely Go SDK and
## JavaScript SDK (internal/jscompat), and VWO events against the VWO Go SDK and the VWO
## Node SDK (internal/vwocompat); their own modules, so the SDKs never enter the exporter's
## dependencies. The Node.js comparisons need `make nodeclient`; vwocompat's skips without
## it unless VWOCOMPAT_REQUIRE_NODE is set (CI sets it).
sdkcompat:
	cd internal/sdkcompat && go vet ./... && go test -count=1 ./...
	cd internal/jscompat && go vet ./... && go test -count=1 ./...
	cd internal/vwocompat && go vet ./... && go test -count=1 ./...

## nodeclient: Node.js and the pinned JS packages: OpenFeature/OpenTelemetry for the e2e
## tests, the Optimizely JavaScript SDK for internal/jscompat, the VWO Node SDK for
## internal/vwocompat.
nodeclient:
	bash .ci/npm-ci.sh testbed/e2e/nodeclient internal/jscompat/node internal/vwocompat/node

## lint: gofmt over every module; vet of the exporter, of testbed/ (the test tooling's own
## module, with the e2e tag), of testbed/e2e/goclient and of examples/go (the README's Go
## programs, also built; make e2e runs them).
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
	go vet ./...
	cd testbed && go vet -tags e2e ./...
	cd testbed/e2e/goclient && go vet ./...
	cd examples/go && go vet ./... && go build ./...

## help: this list, from the "## target:" comment above each target.
.PHONY: help
help:
	@awk '/^## [a-z][a-z0-9_-]*:/ { sub(/^## /, ""); n = index($$0, ":"); d = substr($$0, n + 1); sub(/^ +/, "", d); \
	  printf "make %-13s %s\n", substr($$0, 1, n - 1), d; more = 1; next } \
	  more && /^## / { sub(/^## /, ""); printf "%-18s %s\n", "", $$0; next } { more = 0 }' $(firstword $(MAKEFILE_LIST))

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

## bench: the in-process benchmarks, 6 runs each, into bench.out (README "Performance").
bench:
	go test -run xxx -bench . -benchmem -count 6 . | tee bench.out

## fuzz: the fuzz targets, FUZZTIME each (30s; make fuzz FUZZTIME=5m).
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

## image: the container image (Dockerfile) from the ocb build: FROM scratch, the static
## binary, CA certificates, examples/production.yaml as /etc/otelcol/config.yaml, user 10001.
## Engine: podman if installed, else docker (ENGINE=docker make image to choose).
IMAGE         ?= otelcol-experimentation:0.1.0
ENGINE        ?= $(shell command -v podman >/dev/null 2>&1 && echo podman || echo docker)
CA_CERTS      ?= /etc/ssl/certs/ca-certificates.crt
IMAGE_CONTEXT := _build/image
image: $(COLLECTOR)
	@go version -m $(COLLECTOR) | grep -q 'CGO_ENABLED=0' || { echo "$(COLLECTOR) is not a static build (CGO_ENABLED=0)"; exit 1; }
	@test -s $(CA_CERTS) || { echo "no CA certificates at $(CA_CERTS) (Debian: apt-get install ca-certificates)"; exit 1; }
	rm -rf $(IMAGE_CONTEXT) && mkdir -p $(IMAGE_CONTEXT)/queue
	cp $(COLLECTOR) $(IMAGE_CONTEXT)/otelcol-experimentation
	cp $(CA_CERTS) $(IMAGE_CONTEXT)/ca-certificates.crt
	cp examples/production.yaml $(IMAGE_CONTEXT)/config.yaml
	chmod 0644 $(IMAGE_CONTEXT)/ca-certificates.crt $(IMAGE_CONTEXT)/config.yaml
	$(ENGINE) build --build-arg VERSION=$(lastword $(subst :, ,$(IMAGE))) -f Dockerfile -t $(IMAGE) $(IMAGE_CONTEXT)
	@echo "$(IMAGE): $$($(ENGINE) image inspect --format '{{.Size}}' $(IMAGE) | awk '{printf "%.1f MB", $$1/1e6}')"

## image-test: build the image and run it (podman, installed from Debian if no engine is
## there): OTLP/HTTP from the host through the container to the Event API replica, then
## SIGTERM must deliver the open batch and exit 0 (testbed/image/test.sh, testbed/cmd/imagetest).
image-test:
	bash testbed/image/test.sh
