# mednet — the two commands of the README's quick start, and a few more.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
FAST_WORKERS ?= 2
FAST_TIERS   := tests/unit tests/contract tests/service

.PHONY: demo up down status test test-fast setup tools images catalog clean

demo: setup          ## bring everything up and tell the whole story: two firms, calls, notes, brief, alerts
	$(BIN)/mednet demo

up: setup            ## bring up the local stack (Kafka + MongoDB-wire) and the four services, show them healthy
	$(BIN)/mednet up

down: setup          ## stop the services and the local stack
	$(BIN)/mednet down

status: setup
	$(BIN)/mednet status

test: setup images   ## the whole suite: the fast tiers on both cores, then the rest on real Kafka and MongoDB (its own native stack if none is given), images too
	@$(BIN)/python -m pytest -n $(FAST_WORKERS) --dist worksteal $(FAST_TIERS); fast=$$?; \
	$(BIN)/python -m pytest $(addprefix --ignore=,$(FAST_TIERS)); rest=$$?; \
	echo "fast tiers exit $$fast, the rest exit $$rest"; [ $$fast -eq 0 ] && [ $$rest -eq 0 ]

test-fast: setup     ## unit, contract and service tests: in-memory adapters, no Kafka, no MongoDB, under a minute
	$(BIN)/python -m pytest -n $(FAST_WORKERS) --dist worksteal $(FAST_TIERS)

catalog: setup       ## regenerate the JSON Schemas, the AsyncAPI documents and the canvases' wiring sections
	$(BIN)/mednet catalog export

setup: $(STAMP) tools

tools:               ## promtool, prometheus, buildah, debootstrap (apt); kustomize, syft (go install, ~/.cache/mednet/bin)
	@bash deploy/tools/install-tools.sh

images: tools        ## every service's image (services/*/Dockerfile) with buildah on a local Debian base, and its SBOM
	@bash deploy/images/build.sh

$(STAMP): requirements-dev.txt constraints.txt shared/pyproject.toml deploy/cli/pyproject.toml services/*/pyproject.toml
	@command -v java >/dev/null || { echo "error: java (JDK 17+) is required: apt-get install openjdk-17-jdk-headless"; exit 1; }
	@command -v mvn >/dev/null || { echo "error: mvn is required to fetch the Kafka and MongoDB-wire jars: apt-get install maven"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

clean:
	rm -rf $(VENV)
