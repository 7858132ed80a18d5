# The two commands of the README:
#   make demo   builds medvault and starts it on a new demo vault
#   make test   runs every test (unit, sanitizers, end to end, fuzz smoke)
# Both install what they need first (scripts/setup.sh; sudo when not root).

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
BENCH_BUILD?= build-bench
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 30

# ccache hits across clones in other folders (CI builds a fresh clone).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all setup build asan test unit-asan e2e fuzz bench demo clean

all: build

setup:
	@bash scripts/setup.sh
	@cd test/e2e && { [ -d node_modules ] && [ node_modules -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; }

build: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@ninja -C $(BUILD) -j$(JOBS)

asan: setup
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMEDVAULT_SANITIZE=ON >/dev/null
	@ninja -C $(ASAN_BUILD) -j$(JOBS)

# Every test: unit and end-to-end tests on the normal build, the unit tests
# again under AddressSanitizer + UndefinedBehaviorSanitizer, and each fuzzer
# for a bounded time.
test: build asan
	cd $(BUILD) && ctest -j$(JOBS) --output-on-failure
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest -j$(JOBS) -L unit --output-on-failure
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

# libFuzzer targets (clang), each run for FUZZ_SECONDS from its seed corpus.
fuzz: setup
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEDVAULT_FUZZ=ON >/dev/null
	@ninja -C $(FUZZ_BUILD) -j$(JOBS) $$(cd fuzz && ls *_fuzz.cc | sed 's/\.cc$$//')
	@bash scripts/run-fuzzers.sh $(FUZZ_BUILD)/fuzz $(FUZZ_SECONDS)

bench: setup
	@bash scripts/setup.sh bench
	@cmake -S . -B $(BENCH_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DMEDVAULT_BENCH=ON >/dev/null
	@ninja -C $(BENCH_BUILD) -j$(JOBS)
	@bash bench/run.sh $(BENCH_BUILD)
	@bash bench/perf_suite.sh $(BENCH_BUILD)/src/cli/medvault
	@bash bench/backup_bench.sh $(BENCH_BUILD)/src/cli/medvault

demo: build
	@bash scripts/demo.sh $(BUILD)/src/cli/medvault

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(BENCH_BUILD) demo-vault
