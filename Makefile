# The two commands of the quick start:
#   make serve   install what is missing, build, start the server with embedded defaults
#   make test    install what is missing, build, run every test suite (what CI runs)
BUILD_DIR ?= build
BUILD_TYPE ?= Release
ARGS ?=

.PHONY: all deps test-deps e2e-deps configure build serve test unit integration e2e fuzz test-asan bench bench-gateway bench-jobs bench-control bench-chat clean

all: build

# What serving needs; test-deps adds the tests' and benchmarks' tools.
deps:
	./scripts/install-deps.sh

test-deps:
	./scripts/install-deps.sh --test

# The e2e tests' clients: the official openai, @anthropic-ai/sdk and @modelcontextprotocol/sdk npm
# packages, pinned by tests/e2e/package-lock.json.
e2e-deps: test-deps
	@if [ ! -d tests/e2e/node_modules/openai ] || [ ! -d tests/e2e/node_modules/@anthropic-ai/sdk ] || \
	    [ ! -d tests/e2e/node_modules/@modelcontextprotocol/sdk ]; then \
	  cd tests/e2e && npm ci --no-audit --no-fund; \
	fi

configure: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE); \
	fi

build: configure
	cmake --build $(BUILD_DIR)

serve: configure
	cmake --build $(BUILD_DIR) --target switchboard
	./$(BUILD_DIR)/switchboard serve $(ARGS)

# (cmake runs again: GoogleTest may have been installed since the first configure)
test: e2e-deps configure
	cmake -S . -B $(BUILD_DIR) >/dev/null
	cmake --build $(BUILD_DIR)
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 300 -j2

unit: test-deps build
	./$(BUILD_DIR)/tests/unit_tests

integration: test-deps build
	./$(BUILD_DIR)/tests/integration_tests

e2e: build e2e-deps
	SB_BINARY=$(BUILD_DIR)/switchboard node --test tests/e2e/

# libFuzzer targets (clang, ASan, UBSan) in build-fuzz, each run FUZZ_SECONDS (default 60).
FUZZ_SECONDS ?= 60
fuzz: test-deps
	@if [ ! -f build-fuzz/build.ninja ]; then \
	  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DSB_FUZZ=ON; \
	fi
	cmake --build build-fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/fuzz.sh

# Every suite against a build under AddressSanitizer and UBSan (build-asan).
test-asan: e2e-deps
	@if [ ! -f build-asan/build.ninja ]; then \
	  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSB_SANITIZE=ON; \
	fi
	cmake --build build-asan
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure --timeout 600 -j2

bench: test-deps build
	./bench/http/run.sh
	./bench/gateway/run.sh
	./bench/jobs/run.sh
	./bench/knowledge/run.sh
	./bench/control/run.sh
	./bench/chat/run.sh

bench-control: test-deps build
	./bench/control/run.sh

bench-chat: test-deps build
	./bench/chat/run.sh

bench-gateway: test-deps build
	./bench/gateway/run.sh

bench-jobs: test-deps build
	./bench/jobs/run.sh

clean:
	rm -rf $(BUILD_DIR)
