# Portico — `make run` and `make test` are all a newcomer needs.
GO          ?= go
BIN         := bin/portico
VERSION     := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X main.version=$(VERSION)
GOBIN       := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
BENCH_FLAGS ?=
FUZZTIME    ?= 20s

.PHONY: build run test race lint deps-check bench bench-go fuzz clean

## build: the static binary at bin/portico
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/portico

## run: the showcase — a gateway on the embedded config beside the demo upstream
run: build
	$(BIN) dev

## test: lint, dependency rules, then every test with the race detector
test: lint deps-check race

race:
	$(GO) test -race -count=1 -timeout 15m ./...

$(STATICCHECK):
	GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

## lint: gofmt, go vet, staticcheck (installed on first use)
lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

## deps-check: leaf packages import nothing of ours outside their subtree
deps-check:
	@bash .ci/deps-check.sh

## bench: Go micro-benchmarks, then the load suite (pinned, with nginx and HAProxy as peers)
bench: build bench-go
	$(BIN) bench --out bench-out $(BENCH_FLAGS)

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./node/... ./demo/... ./edge/... ./cluster/...

## fuzz: each fuzz target for FUZZTIME
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzNormalize$$' -fuzztime $(FUZZTIME) ./node/route
	$(GO) test -run '^$$' -fuzz '^FuzzMatch$$' -fuzztime $(FUZZTIME) ./node/route
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./node/config

clean:
	rm -rf bin bench-out
