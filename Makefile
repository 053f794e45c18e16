# chat-engine: `make run` starts one node on 127.0.0.1:8000; `make test` runs every test.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)

.PHONY: all deps build web run test unit e2e cluster test-netfaults conformance test-asan test-tsan fuzz bench bench-full bench-smoke bench-one bench-cluster clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The web client (web/ → web/dist, served at http://127.0.0.1:8000/); skipped without Node.js.
web:
	@scripts/build-web.sh

run: build web
	exec $(BUILD_DIR)/chat-engine

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

e2e: build
	@scripts/python-env.sh
	CHAT_ENGINE_BIN=$(abspath $(BUILD_DIR))/chat-engine .venv/bin/python -m pytest tests/e2e -q --ignore=tests/e2e/cluster --ignore=tests/e2e/netfaults

# The cluster suite against the services of scripts/dev-services (start them first).
cluster: build
	@scripts/python-env.sh
	CHAT_ENGINE_BIN=$(abspath $(BUILD_DIR))/chat-engine \
	CHAT_TEST_DATABASE_URL=postgresql://chat:chat@127.0.0.1:5432/chat CHAT_TEST_KAFKA_BROKERS=127.0.0.1:9092 \
	  .venv/bin/python -m pytest tests/e2e/cluster -q

# Faults cut in the network (tests/e2e/netfaults, docs/reliability.md): each instance in a network
# namespace of its own, faults are nftables drops. Needs root and the services of scripts/dev-services,
# which it leaves running (so it can run beside the other suites, but not beside `make cluster`).
# About 2 minutes; prints one FIGURE line per test.
test-netfaults: build
	@scripts/python-env.sh
	CHAT_ENGINE_BIN=$(abspath $(BUILD_DIR))/chat-engine \
	CHAT_TEST_DATABASE_URL=postgresql://chat:chat@127.0.0.1:5432/chat CHAT_TEST_KAFKA_BROKERS=127.0.0.1:9092 \
	CHAT_REQUIRE_SERVICES=1 CHAT_REQUIRE_NETNS=1 \
	  .venv/bin/python -m pytest tests/e2e/netfaults -q -s

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

# The unit and single-node end-to-end suites (and each fuzz corpus) against a sanitized build:
# test-asan with AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/, test-tsan with
# ThreadSanitizer in build-tsan/. The first report fails the run (scripts/test-sanitized.sh).
# CLUSTER=1 adds the cluster suite, with the services of scripts/dev-services.
SANITIZED_FLAGS = -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1"
test-asan: deps
	cmake -S . -B build-asan $(SANITIZED_FLAGS) -DCHAT_SANITIZE=address
	cmake --build build-asan -j $(JOBS)
	CLUSTER=$(CLUSTER) scripts/test-sanitized.sh build-asan

test-tsan: deps
	cmake -S . -B build-tsan $(SANITIZED_FLAGS) -DCHAT_SANITIZE=thread
	cmake --build build-tsan -j $(JOBS)
	CLUSTER=$(CLUSTER) scripts/test-sanitized.sh build-tsan

# Each libFuzzer target of tests/fuzz for FUZZ_SECONDS (clang, build-fuzz/); new inputs go to
# build-fuzz/finds/<target>/, crashes to build-fuzz/crashes/ (docs/reliability.md, "Fuzzing").
FUZZ_SECONDS ?= 60
fuzz: deps
	cmake -S . -B build-fuzz $(SANITIZED_FLAGS) -DCMAKE_CXX_COMPILER=clang++ -DCHAT_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS) --target fuzzers
	scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

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
	rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz
