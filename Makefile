# Dispatch triage services. `make help` lists the targets.
SHELL := bash
.DEFAULT_GOAL := help
UV := python3 -m uv
PYTEST_ARGS ?=
# Service images: $(IMAGE_REPO)/<service>:$(IMAGE_TAG), as docker-compose.yml and deploy/k8s name them.
IMAGE_REPO ?= dispatch-triage
IMAGE_TAG ?= dev
SERVICES := intake triage routing

.PHONY: help install deps images run up down status test test-unit lint typecheck eval bench bench-triage soak clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

.venv/.installed: pyproject.toml uv.lock shared/pyproject.toml services/*/pyproject.toml
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --all-packages --frozen --quiet
	@touch $@

install: .venv/.installed ## Install Python packages into .venv (uv, locked versions)

deps: ## Install the system tools the tests drive (Chromium, promtool, kubeconform, ...); needs root
	@deploy/local/deps.sh

images: $(addprefix image-,$(SERVICES)) ## Build the service images with docker (IMAGE_TAG, default dev)

image-%:
	@command -v docker >/dev/null 2>&1 || { echo "make images: docker not found (install Docker to build the images)" >&2; exit 1; }
	docker build -f services/$*/Dockerfile -t $(IMAGE_REPO)/$*:$(IMAGE_TAG) .

run: install ## Start Kafka and the services in the foreground (Ctrl-C stops all)
	@deploy/local/stack.sh run

up: install ## Start Kafka and the services in the background; wait until ready
	@deploy/local/stack.sh up

down: ## Stop everything `make up` started
	@deploy/local/stack.sh down

status: ## Show which processes are running
	@deploy/local/stack.sh status

test: install ## Run every test tier against a real Kafka broker (and PostgreSQL if TEST_POSTGRES_URL)
	@deploy/local/test.sh $(PYTEST_ARGS)

test-unit: install ## Run the unit and db tests on every core (no broker; SQLite, PostgreSQL too if TEST_POSTGRES_URL)
	.venv/bin/pytest -n auto -m "not integration and not e2e and not fault and not browser" $(PYTEST_ARGS)

lint: install ## ruff check and format check
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck: install ## mypy (strict) over the packages, tests and scripts
	.venv/bin/mypy

eval: install ## Triage quality on the labelled dev calls, fairness set and five-city call types
	.venv/bin/python scripts/eval_triage.py

bench: install ## End-to-end load: POST -> routed latency and throughput vs baselines (BENCH_ARGS)
	.venv/bin/python -m scripts.bench $(BENCH_ARGS)

bench-triage: install ## Triage throughput vs a naive regex baseline, and per-call latency, on one core
	.venv/bin/python scripts/bench_triage.py

soak: install ## Fault soak: ROUNDS (default 50) rounds of random faults while calls stream in
	@deploy/local/soak.sh --rounds $(or $(ROUNDS),50) $(SOAK_ARGS)

clean: down ## Remove .run/ (databases, logs) but keep the jar cache
	rm -rf .run
