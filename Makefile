# chat-engine: `make run` starts one node on 127.0.0.1:8000; `make test` runs every test.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)

.PHONY: all deps build run test unit e2e cluster sanitize bench bench-cluster clean

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

# Load and memory numbers for one node (tools/chat-bench; docs/benchmarks.md). Prints, asserts nothing.
bench: build
	tools/chat-bench/run.sh $(BUILD_DIR)/chat-engine

# One instance against three over Kafka and PostgreSQL (start scripts/dev-services first).
bench-cluster: build
	tools/chat-bench/cluster.sh $(BUILD_DIR)/chat-engine

clean:
	rm -rf $(BUILD_DIR) build-asan
