# The two commands of the quick start:
#   make serve   install what is missing, build, start the server with embedded defaults
#   make test    install what is missing, build, run every test suite (what CI runs)
BUILD_DIR ?= build
BUILD_TYPE ?= Release
ARGS ?=

.PHONY: all deps configure build serve test unit integration bench clean

all: build

deps:
	./scripts/install-deps.sh

configure: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE); \
	fi

build: configure
	cmake --build $(BUILD_DIR)

serve: build
	./$(BUILD_DIR)/switchboard serve $(ARGS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 300 -j2

unit: build
	./$(BUILD_DIR)/tests/unit_tests

integration: build
	./$(BUILD_DIR)/tests/integration_tests

bench: build
	./bench/http/run.sh

clean:
	rm -rf $(BUILD_DIR)
