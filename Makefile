# The two commands of the README are `make run` and `make test`. Everything
# they need beyond Go, Java/Maven and Python is fetched on first use and
# cached under .cache/ (git-ignored).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO      ?= go
CACHE   := $(CURDIR)/.cache
TOOLS   := $(CACHE)/bin
EMULATORS_STAMP := $(CACHE)/emulators/.fetched

# Lambda builds: static, stripped, without the RPC shim of the old go1.x runtime.
LAMBDA_GOFLAGS := -trimpath -ldflags='-s -w' -tags lambda.norpc
LAMBDA_ARCH    ?= arm64
FUNCTIONS      := transfer status processor sweeper

STATICCHECK_VERSION := v0.8.2

.PHONY: help run test unit lint build bench emulators tools clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: emulators ## run the whole service locally with demo data (API on http://127.0.0.1:3000)
	$(GO) run ./cmd/local

test: emulators lint ## run every test (unit, integration against DynamoDB Local + ElasticMQ)
	$(GO) test -count=1 -timeout 15m ./...

unit: ## run the fast unit tests only (no emulators)
	$(GO) test -count=1 -short ./internal/transfer/ ./internal/httpapi/ ./internal/auth/ ./internal/lookupcache/ ./internal/stackdef/ ./internal/queue/

lint: $(TOOLS)/staticcheck ## gofmt, go vet, staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...

build: ## build the Lambda bootstraps (linux/$(LAMBDA_ARCH)) into dist/<function>/bootstrap
	@for f in $(FUNCTIONS); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_ARCH) $(GO) build $(LAMBDA_GOFLAGS) -o dist/$$f/bootstrap ./functions/$$f; \
	  printf '  %-10s %s bytes\n' $$f "$$(stat -c %s dist/$$f/bootstrap)"; \
	done

# `sam build` calls build-<LogicalId> with ARTIFACTS_DIR set (BuildMethod: makefile).
build-TransferFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/transfer
build-StatusFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/status
build-ProcessorFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/processor
build-SweeperFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sweeper

emulators: $(EMULATORS_STAMP) ## fetch DynamoDB Local and ElasticMQ from Maven Central (once)

$(EMULATORS_STAMP): tools/emulators/pom.xml scripts/fetch-emulators.sh
	scripts/fetch-emulators.sh

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

clean: ## remove build outputs (keeps the fetched tools)
	rm -rf dist .aws-sam
