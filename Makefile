# Cairn: build, test, benchmark. `make help` lists the targets.
GO ?= go

.PHONY: build test test-short race fuzz bench help

# VERSION is what cairn version prints: the git description of the
# checkout (the binary also carries Go's VCS stamp when it is built with it).
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

build: ## build the cairn binary into ./cairn
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o cairn ./cmd/cairn

test: ## install the real S3 clients the tests drive, then run every test
	./scripts/test.sh

test-short: ## unit tests only, skipping the slow real-client and crash scenarios
	$(GO) test -short ./...

race: ## the concurrency tests under the race detector
	$(GO) test -race -short ./...

fuzz: ## run each fuzz target for FUZZTIME (default 30s)
	./scripts/fuzz.sh $(FUZZTIME)

bench: ## the Go benchmarks of the hot paths
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
