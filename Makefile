# rdpbroker. The two commands a newcomer needs:
#   make demo   the broker on an embedded demo config with local fake RDP servers
#   make test   every test: unit, fuzz seeds, in-process end-to-end, and the
#               real FreeRDP -> broker -> xrdp test (installs its Debian packages)

SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin
FUZZTIME ?= 30s
DEMO_LISTEN ?= 127.0.0.1:13389

.PHONY: all build test unit test-deps demo fuzz bench vet clean

all: build

build:
	$(GO) build -o $(BIN)/rdpbroker ./cmd/rdpbroker

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

test-deps:
	scripts/install-test-deps.sh

# unit: fast tests only (no Debian packages needed).
unit:
	$(GO) test -race -count=1 ./...

test: test-deps vet
	RDPBROKER_E2E_REAL=1 $(GO) test -race -count=1 -timeout 15m ./...

demo: build
	$(BIN)/rdpbroker demo --listen $(DEMO_LISTEN)

# fuzz: every fuzz target for FUZZTIME each (make fuzz FUZZTIME=10m). -timeout 0:
# go test's default 10m timeout would end a 10m fuzz run as a failure.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -timeout 0 -parallel 1 $$pkg; \
	  done; done

# bench: rdpbroker vs HAProxy 2.6 vs a direct connection, in one run (~7 min),
# report written to docs/benchmarks.md, rdpbroker's CPU profiles under the
# connection-rate load to $(BIN)/profiles. A quick subset while developing:
#   make bench BENCHFLAGS="-only connrate,bulk -duration 2s -repeat 1" BENCHOUT=
BENCHFLAGS ?=
BENCHOUT ?= docs/benchmarks.md
bench: build
	scripts/install-bench-deps.sh
	$(GO) run ./cmd/rdpbench -broker $(BIN)/rdpbroker -profile $(BIN)/profiles $(if $(BENCHOUT),-out $(BENCHOUT)) $(BENCHFLAGS)
	@echo "== affinity table and directory index (docs/benchmarks.md has the goals)"
	$(GO) test -run '^$$' -bench 'Lookup|PlacePersisted|ReplicationDelay|IndexResolve' ./affinity ./directory
	@echo "== 1M-entry restart load and a 100k-user / 1k-group directory sync on slapd"
	$(GO) test -run '^$$' -bench 'RestartLoad1M|SyncLargeDirectory' -benchtime 1x -timeout 20m ./affinity ./directory

clean:
	rm -rf $(BIN)
