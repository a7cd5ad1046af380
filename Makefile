# mpwatch developer entry points. Every target creates or reuses .venv and installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench fuzz kafka-up kafka-down kafka-jars k8s-tools k8s-generate clean tools \
	node-tools go-tools

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## demo: install, then run the main job (mpwatch run, the embedded default) over the bundled sample logs,
## with a new install replayed live; open the printed URL; Ctrl-C stops it (DEMO_PORT=8787 by default)
demo: $(STAMP)
	$(PY) deploy/local/demo.py

## test: lint, type-check, and run every test (unit + real Kafka/Prometheus integration)
test: $(STAMP) lint typecheck kafka-jars k8s-tools tools node-tools go-tools
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## typecheck: mypy over shipper/ and streams/, then the Windows-only code as Windows sees it (types-pywin32)
typecheck: $(STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --platform win32 --cache-dir .mypy_cache/win32 shipper/windows_service.py shipper/winfile.py

## unit: only the tests that need no external service
unit: $(STAMP)
	$(PY) -m pytest -m "not kafka"

## fuzz: the fuzzing harness at length (5,000 generated inputs per target; make test runs 150)
fuzz: $(STAMP)
	MPWATCH_FUZZ_EXAMPLES=5000 $(PY) -m pytest tests/unit/test_fuzz.py -q -p no:cacheprovider --hypothesis-show-statistics

## bench: run the benchmarks; each prints `name: value unit` lines
bench: $(STAMP)
	@dpkg -s rsyslog rsyslog-kafka >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsyslog rsyslog-kafka \
	      || echo "note: could not install rsyslog rsyslog-kafka; the rsyslog comparison is skipped"; \
	  else echo "note: rsyslog rsyslog-kafka missing (installed by make bench as root); rsyslog comparison skipped"; fi; }
	@for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

kafka-up:
	deploy/local/kafka up

kafka-down:
	deploy/local/kafka down

## kafka-jars: download the broker jars once (visible progress; the test fixture then starts at once)
kafka-jars:
	deploy/local/kafka fetch

## k8s-tools: kustomize and kubeconform (go install) and the offline Kubernetes, Strimzi and
## prometheus-operator JSON schemas, built once into .tools/ (deploy/k8s/tools/fetch; K8S_TOOLS_DIR moves it).
## A failure stops CI (MPWATCH_REQUIRE_TOOLS=1); elsewhere the deploy/k8s tests then skip with the reason.
k8s-tools: $(STAMP)
	@PY=$(PY) deploy/k8s/tools/fetch || { [ "$$MPWATCH_REQUIRE_TOOLS" != 1 ] && \
	  echo "note: make k8s-tools failed (above); the deploy/k8s tests skip"; }

## k8s-generate: rewrite deploy/k8s/base's generated files (topics, PrometheusRule, dashboards)
k8s-generate: $(STAMP)
	$(PY) deploy/k8s/generate.py

## tools: system packages the tests need, as package:command (installed when root and missing, else listed)
TOOL_PKGS := npm:npm chromium:chromium prometheus:promtool prometheus:prometheus prometheus-alertmanager:amtool \
	prometheus-alertmanager:prometheus-alertmanager
tools:
	@missing=""; for pair in $(TOOL_PKGS); do command -v $${pair##*:} >/dev/null || missing="$$missing $${pair%%:*}"; done; \
	missing=$$(echo $$missing | tr ' ' '\n' | sort -u | tr '\n' ' '); \
	if [ -n "$${missing// /}" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "note: missing system packages: $$missing(make tools installs them as root); their tests skip"; fi; \
	fi

## node-tools: npm packages the tests use, in .tools/node (git ignores it): tree-sitter with the PowerShell
## grammar for the syntax check of deploy/windows/*.ps1 (tests/powershell/check_ps1.mjs)
NODE_TOOLS := .tools/node
NODE_STAMP := $(NODE_TOOLS)/.installed
node-tools: tools $(NODE_STAMP)
$(NODE_STAMP): tests/powershell/package.json tests/powershell/package-lock.json
	@if ! command -v npm >/dev/null; then echo "note: npm missing (make tools installs it as root); the PowerShell syntax tests skip"; exit 0; fi; \
	mkdir -p $(NODE_TOOLS) && cp tests/powershell/package.json tests/powershell/package-lock.json $(NODE_TOOLS)/ && \
	cd $(NODE_TOOLS) && npm ci --no-audit --no-fund --silent && touch .installed

## go-tools: Go programs the tests use, built into .tools/go from tests/compose (modules from the Go proxy):
## composecheck loads deploy/compose/compose.yaml with compose-go, Docker Compose's own loader, and
## dockerfilecheck runs BuildKit's Dockerfile parser and build checks (docker build --check) offline
GO_TOOLS := .tools/go
GO_STAMP := $(GO_TOOLS)/.built
go-tools: $(GO_STAMP)
$(GO_STAMP): $(wildcard tests/compose/*/main.go) tests/compose/go.mod tests/compose/go.sum
	@if ! command -v go >/dev/null; then echo "note: go missing; the Compose and Dockerfile checks skip"; exit 0; fi; \
	mkdir -p $(GO_TOOLS) && cd tests/compose && go build -mod=readonly -o ../../$(GO_TOOLS)/ ./composecheck ./dockerfilecheck \
	  && touch ../../$(GO_STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .tools
