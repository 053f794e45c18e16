# chat-engine: `make run` starts one node on 127.0.0.1:8000; `make test` runs every test.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)

.PHONY: all deps build run test unit e2e cluster conformance sanitize bench bench-full bench-smoke bench-one bench-cluster clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	exec $(BUILD_DIR)/chat-engine

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

e2e: build
	@scripts/python-env.sh
	CHAT_ENGINE_BIN=$(abspath $(BUILD_DIR))/chat-engine .venv/bin/python -m pytest tests/e2e -q --ignore=tests/e2e/cluster

# The cluster suite against the services of scripts/dev-services (start them first).
cluster: build
	@scripts/python-env.sh
	CHAT_ENGINE_BIN=$(abspath $(BUILD_DIR))/chat-engine \
	CHAT_TEST_DATABASE_URL=postgresql://chat:chat@127.0.0.1:5432/chat CHAT_TEST_KAFKA_BROKERS=127.0.0.1:9092 \
	  .venv/bin/python -m pytest tests/e2e/cluster -q

# The Autobahn WebSocket testsuite (Python 2.7 in a virtualenv outside git), re-scored for a chat
# server by tools/conformance/score.py: docs/reliability.md, "WebSocket conformance (Autobahn)".
conformance: build
	@scripts/python-env.sh
	.venv/bin/python -m pytest tools/conformance -q
	@scripts/conformance.sh $(BUILD_DIR)

# Everything: starts Kafka and PostgreSQL (and stops what it started), runs unit and single-node
# suites side by side, then the cluster suite.
test: build
	@scripts/test.sh $(BUILD_DIR)

# Every test again against an AddressSanitizer + UndefinedBehaviorSanitizer build (Debug).
sanitize: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCHAT_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)
	@scripts/python-env.sh
	CHAT_ENGINE_BIN=$(abspath build-asan)/chat-engine .venv/bin/python -m pytest tests/e2e -q --ignore=tests/e2e/cluster

# chat-engine against Centrifugo and a Node.js relay, interleaved, 3 runs each (docs/benchmarks.md §6):
# writes bench/results/<date>.json, the generated part of docs/benchmarks.md and docs/bench/*.png.
# Under 15 minutes on 2 cores. Prints numbers, asserts nothing. bench-full: longer runs, 5 each.
bench: build
	scripts/bench-peers.sh install
	.venv/bin/python tools/chat-bench/compare.py --mode short --chat-engine $(BUILD_DIR)/chat-engine

bench-full: build
	scripts/bench-peers.sh install
	.venv/bin/python tools/chat-bench/compare.py --mode full --chat-engine $(BUILD_DIR)/chat-engine

# The same with tiny sizes, report into a temporary directory: checks that the harness works.
bench-smoke: build
	scripts/bench-smoke.sh $(BUILD_DIR)

# chat-engine alone, a minute: idle, pairs, fanout (tools/chat-bench/run.sh). Prints, asserts nothing.
bench-one: build
	tools/chat-bench/run.sh $(BUILD_DIR)/chat-engine

# One instance against three over Kafka and PostgreSQL (start scripts/dev-services first).
bench-cluster: build
	tools/chat-bench/cluster.sh $(BUILD_DIR)/chat-engine

clean:
	rm -rf $(BUILD_DIR) build-asan
