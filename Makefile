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
FUNCTIONS      := transfer status processor sweeper webhook applenotifications applebackfill

STATICCHECK_VERSION := v0.8.2
# golang.org/x/tools, for deadcode.
X_TOOLS_VERSION := v0.52.0

# SAM CLI from PyPI, in a virtual environment; `sam validate --lint` runs the
# cfn-lint pinned beside it.
SAM_CLI_VERSION  := 1.170.0
CFN_LINT_VERSION := 1.58.0
SAM_VENV         := $(CACHE)/sam-$(SAM_CLI_VERSION)
SAM              := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam
# checkov from PyPI, in a virtual environment of its own (its pins are not
# SAM's): the policy scan of template.yaml. Each finding the template accepts
# is skipped in that resource's Metadata, with its reason.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV    := $(CACHE)/checkov-$(CHECKOV_VERSION)
# moto's server from PyPI, in a virtual environment of its own: the local
# Secrets Manager (the functions' secrets; docs/design.md, Secrets). The venv
# is made under the cache's real path, so that its scripts' interpreter lines
# hold wherever .cache is linked from.
MOTO_VERSION := 5.2.5
MOTO_VENV    := $(CACHE)/moto-$(MOTO_VERSION)
MOTO_SERVER  := $(MOTO_VENV)/bin/moto_server
# schemathesis from PyPI, in a virtual environment of its own: generated
# requests from api/openapi.yaml against the local stack (dev/schemathesis).
SCHEMATHESIS_VERSION := 4.32.5
SCHEMATHESIS_VENV    := $(CACHE)/schemathesis-$(SCHEMATHESIS_VERSION)
# The Lambda Runtime Interface Emulator has no semver tags: a pseudo-version.
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE         := $(TOOLS)/aws-lambda-rie
# A bootstrap must stay small for cold starts (docs/design.md B9): 10 MB.
BOOTSTRAP_MAX_BYTES := 10000000

.PHONY: help run test unit lint build bench fuzz soak emulators tools clean sam-validate sam-build rie transferctl checkov moto schemathesis

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: emulators moto transferctl ## run the whole service locally with demo data (API on http://127.0.0.1:3000)
	MOTO_SERVER=$(MOTO_SERVER) $(GO) run ./dev/cmd/local

test: emulators moto lint sam-validate checkov sam-build rie ## run every test (unit, integration against DynamoDB Local + ElasticMQ + moto, Lambda bootstraps under RIE)
	AWS_LAMBDA_RIE=$(RIE) MOTO_SERVER=$(MOTO_SERVER) $(GO) test -count=1 -timeout 15m ./...
	@FUZZTIME=$(FUZZTIME_SHORT) GO=$(GO) scripts/fuzz.sh
	@$(MAKE) --no-print-directory schemathesis
	@$(MAKE) --no-print-directory soak SOAK_DURATION=$(SOAK_DURATION_SHORT)

# The soak (dev/cmd/soak): the whole service on the local stack under a mixed
# load from many clients while faults are injected (SDK transport, queue
# deliveries, SIGKILL of the consumer processes, SIGSTOP of the emulators),
# then a checker of the final state (non-zero exit on any violation) and the
# capacity against the emulators' raw ceiling. Loopback only, bounded, stops
# by itself. SOAK_FLAGS passes more (go run ./dev/cmd/soak -help lists them).
SOAK_DURATION       ?= 60s
SOAK_DURATION_SHORT ?= 45s
SOAK_FLAGS          ?=
soak: emulators moto ## run the checked soak with fault injection for SOAK_DURATION (default 60s; e.g. SOAK_DURATION=10m)
	@bin=$$(mktemp -d); trap 'rm -rf "$$bin"' EXIT; \
	  $(GO) build -o "$$bin/soak" ./dev/cmd/soak && \
	  MOTO_SERVER=$(MOTO_SERVER) "$$bin/soak" -duration $(SOAK_DURATION) -log-dir .local/soak $(SOAK_FLAGS)

# Every Go fuzz target (scripts/fuzz.sh lists them): a short run of each in
# `make test`, FUZZTIME each in `make fuzz`. A crasher found is written under
# the package's testdata/fuzz/ and replayed by every `go test` from then on.
FUZZTIME       ?= 1m
FUZZTIME_SHORT ?= 3s
fuzz: ## run every Go fuzz target for FUZZTIME each (default 1m)
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

unit: ## run every package's unit tests (-short: what needs the emulators skips)
	$(GO) test -count=1 -short ./...

lint: $(TOOLS)/staticcheck $(TOOLS)/.deadcode-$(X_TOOLS_VERSION) ## gofmt, go vet, staticcheck, go mod tidy, deadcode, the layout's rules
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...
	$(GO) mod tidy -diff
	@dead=$$($(TOOLS)/deadcode -test ./...); if [ -n "$$dead" ]; then echo "deadcode -test:"; echo "$$dead"; exit 1; fi
	@scripts/check-layout.sh

# Speed and memory against the budgets of docs/design.md (§Budgets); docs/performance.md
# explains the figures. The Go benchmarks measure handler CPU; cmd/bench
# starts the emulators and measures round trips, loopback latency, and the
# real bootstraps (host build) under RIE, then rewrites the generated part of
# docs/performance.md. Bounded load on 127.0.0.1 only; about 5 minutes.
BENCH_DIR   := $(CACHE)/bench
BENCH_COUNT ?= 5
bench: emulators moto rie ## measure speed and memory against docs/design.md's budgets; writes docs/performance.md
	@mkdir -p $(BENCH_DIR)
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) ./dev/bench/ | tee $(BENCH_DIR)/micro.txt
	@$(MAKE) --no-print-directory build DIST=$(BENCH_DIR)/arm64
	@$(MAKE) --no-print-directory build LAMBDA_ARCH=$$($(GO) env GOARCH) DIST=$(BENCH_DIR)/host >/dev/null
	MOTO_SERVER=$(MOTO_SERVER) $(GO) run ./dev/cmd/bench -micro $(BENCH_DIR)/micro.txt -micro-count $(BENCH_COUNT) \
	  -dist $(BENCH_DIR)/arm64 -bootstraps $(BENCH_DIR)/host -rie $(RIE) \
	  -json $(BENCH_DIR)/results-$$(date -u +%Y%m%dT%H%M%SZ).json -spread '$(BENCH_DIR)/results-*.json' \
	  -out docs/performance.md

# DIST and LAMBDA_ARCH are overridable: the RIE tests build host bootstraps
# with `make build LAMBDA_ARCH=<host> DIST=<folder>`.
DIST ?= dist
transferctl: ## build the operator CLI into bin/transferctl
	$(GO) build -o bin/transferctl ./cmd/transferctl

build: ## build the Lambda bootstraps (linux/$(LAMBDA_ARCH)) into $(DIST)/<function>/bootstrap
	@for f in $(FUNCTIONS); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_ARCH) $(GO) build $(LAMBDA_GOFLAGS) -o $(DIST)/$$f/bootstrap ./functions/$$f; \
	  printf '  %-10s %s bytes\n' $$f "$$(stat -c %s $(DIST)/$$f/bootstrap)"; \
	done

# `sam build` calls build-<LogicalId> with ARTIFACTS_DIR set (BuildMethod: makefile).
build-TransferFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/transfer
build-StatusFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/status
build-AppleNotificationsFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/applenotifications
build-ProcessorFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/processor
build-SweeperFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sweeper
build-WebhookFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/webhook
build-AppleBackfillFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/applebackfill

sam-validate: $(SAM_VENV)/.installed ## sam validate --lint (cfn-lint) on template.yaml
	$(SAM) validate --lint

# --skip-download: no Prisma Cloud; only the checks shipped in the package.
schemathesis: emulators moto $(SCHEMATHESIS_VENV)/.installed ## schemathesis: at least 1,000 generated requests from api/openapi.yaml against the local stack, every check but ignored_auth (dev/schemathesis)
	MOTO_SERVER=$(MOTO_SERVER) GO=$(GO) dev/schemathesis/run.sh $(SCHEMATHESIS_VENV)/bin/schemathesis

$(SCHEMATHESIS_VENV)/.installed:
	rm -rf $(SCHEMATHESIS_VENV)
	python3 -m venv $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_VENV)/bin/pip install --quiet --disable-pip-version-check schemathesis==$(SCHEMATHESIS_VERSION)
	touch $@

checkov: $(CHECKOV_VENV)/.installed ## checkov policy scan of template.yaml (accepted findings are skipped in Metadata, with why)
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact --quiet

$(CHECKOV_VENV)/.installed:
	rm -rf $(CHECKOV_VENV)
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	touch $@

# Built into a folder of its own, so that concurrent runs in one checkout do
# not share .aws-sam/. build-in-source: no copy of the tree (and its .cache/)
# per function; language-extensions: see the template's Transform.
sam-build: $(SAM_VENV)/.installed ## sam build, as `sam deploy` packages it (arm64), and check the bootstraps' sizes
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	  $(SAM) build --build-in-source --language-extensions --build-dir "$$out/build" --cache-dir "$$out/cache" >"$$out/log" 2>&1 \
	    || { cat "$$out/log"; exit 1; }; \
	  for b in "$$out"/build/*/bootstrap; do \
	    size=$$(stat -c %s "$$b"); fn=$$(basename "$$(dirname "$$b")"); \
	    printf '  %-20s %s bytes (linux/arm64)\n' "$$fn" "$$size"; \
	    if [ "$$size" -gt $(BOOTSTRAP_MAX_BYTES) ]; then echo "$$fn: bootstrap over $(BOOTSTRAP_MAX_BYTES) bytes"; exit 1; fi; \
	  done

moto: $(MOTO_VENV)/.installed ## install moto's server (the local Secrets Manager) into a venv under .cache

$(MOTO_VENV)/.installed:
	real=$$(mkdir -p $(CACHE) && cd $(CACHE) && pwd -P)/moto-$(MOTO_VERSION); \
	  rm -rf "$$real" && python3 -m venv "$$real" && \
	  "$$real/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==$(MOTO_VERSION)' && \
	  touch "$$real/.installed"

rie: $(RIE) ## install the Lambda Runtime Interface Emulator (aws-lambda-rie) into .cache/bin

emulators: $(EMULATORS_STAMP) ## fetch DynamoDB Local and ElasticMQ from Maven Central (once)

$(EMULATORS_STAMP): tools/emulators/pom.xml scripts/fetch-emulators.sh
	scripts/fetch-emulators.sh

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(TOOLS)/.deadcode-$(X_TOOLS_VERSION):
	GOBIN=$(TOOLS) $(GO) install golang.org/x/tools/cmd/deadcode@$(X_TOOLS_VERSION)
	rm -f $(TOOLS)/.deadcode-* && touch $@

# The stamp names the version, so that a new pin reinstalls.
$(RIE): $(TOOLS)/.aws-lambda-rie-$(RIE_VERSION)
$(TOOLS)/.aws-lambda-rie-$(RIE_VERSION):
	GOBIN=$(TOOLS) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)
	rm -f $(TOOLS)/.aws-lambda-rie-* && touch $@

$(SAM_VENV)/.installed:
	rm -rf $(SAM_VENV)
	python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_CLI_VERSION) cfn-lint==$(CFN_LINT_VERSION)
	touch $@

clean: ## remove build outputs (keeps the fetched tools)
	rm -rf dist .aws-sam
