# The two commands of the quick start:
#   make serve   install what is missing, build, start the server with embedded defaults
#   make test    install what is missing, build, run every test suite (what CI runs)
BUILD_DIR ?= build
BUILD_TYPE ?= Release
ARGS ?=

.PHONY: all deps e2e-deps configure build serve test unit integration e2e bench bench-gateway bench-jobs clean

all: build

deps:
	./scripts/install-deps.sh

# The e2e tests' client: the official openai npm package, pinned by tests/e2e/package-lock.json.
e2e-deps: deps
	@if [ ! -d tests/e2e/node_modules/openai ]; then \
	  cd tests/e2e && npm ci --no-audit --no-fund; \
	fi

configure: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE); \
	fi

build: configure
	cmake --build $(BUILD_DIR)

serve: build
	./$(BUILD_DIR)/switchboard serve $(ARGS)

test: build e2e-deps
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 300 -j2

unit: build
	./$(BUILD_DIR)/tests/unit_tests

integration: build
	./$(BUILD_DIR)/tests/integration_tests

e2e: build e2e-deps
	SB_BINARY=$(BUILD_DIR)/switchboard node --test tests/e2e/

bench: build
	./bench/http/run.sh
	./bench/gateway/run.sh
	./bench/jobs/run.sh
	./bench/knowledge/run.sh

bench-gateway: build
	./bench/gateway/run.sh

bench-jobs: build
	./bench/jobs/run.sh

clean:
	rm -rf $(BUILD_DIR)
