# mednet — the two commands of the README's quick start, and a few more.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo up down status test test-fast setup tools images catalog clean

demo: setup          ## bring everything up and tell the whole story: two firms, calls, notes, brief, alerts
	$(BIN)/mednet demo

up: setup            ## bring up the local stack (Kafka + MongoDB-wire) and the four services, show them healthy
	$(BIN)/mednet up

down: setup          ## stop the services and the local stack
	$(BIN)/mednet down

status: setup
	$(BIN)/mednet status

test: setup images   ## the whole suite on real Kafka and MongoDB (starts its own native stack if none is given), images too
	$(BIN)/python -m pytest

test-fast: setup     ## unit, contract and service tests: in-memory adapters, no Kafka, no MongoDB, under a minute
	$(BIN)/python -m pytest tests/unit tests/contract $(wildcard tests/service)

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
