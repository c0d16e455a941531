# Conviction: make targets. `make demo` and `make test` install what is missing first.
#   make setup   install Debian and PyPI dependencies (XGBoost library, test oracles) into .venv
#   make build   release build of the `conviction` binary
#   make demo    run the whole pipeline on the embedded market simulator (11 symbols)
#   make test    run every test (swift test), with local moto_server stand-ins for S3 and Secrets Manager
#   make bench   benchmarks against their Python baselines (results in docs/benchmarks.md)
#   make dist    relocatable release: dist/conviction-<version>-linux-x86_64.tar.gz (see docs/aws.md)
#   make model   fine-tune the default sentiment model on ../shared TFNS data (results in docs/scoring.md)
#   make clean   remove build outputs and demo data
SHELL := /bin/bash
DEMO_DIR ?= demo-data
SWIFT_BUILD_FLAGS ?=

.PHONY: setup build demo test bench model dist clean

setup:
	@bash scripts/setup.sh

build: setup
	swift build -c release $(SWIFT_BUILD_FLAGS)

demo: build
	@bash scripts/demo.sh "$(DEMO_DIR)"

# Every `swift test` runs under a watchdog that kills a hang and names it (scripts/run-tests.sh).
test: setup
	bash scripts/run-tests.sh $(SWIFT_BUILD_FLAGS)

bench: setup
	@bash benchmarks/run.sh
	@bash benchmarks/scoring.sh
	@bash benchmarks/replay.sh
	@bash benchmarks/dashboard.sh
	@bash benchmarks/pipeline.sh

dist: setup
	bash scripts/dist.sh release dist

model: setup
	@bash scripts/train-model.sh

clean:
	rm -rf .build "$(DEMO_DIR)"
