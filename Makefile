# zinc - entry points. Everything builds with meson + ninja; this file only wraps them.
#
#   make deps    install the missing Debian packages listed in tools/debian-packages.txt
#   make build   configure (first time) and build into build/ (gcc, -O2 -g, assertions on)
#   make test    deps + build + every test suite + an ASan/UBSan build (clang) of the fast suites,
#                ending with one summary line "zinc tests: N passed, N failed, N skipped"
#   make tidy    layering/purity/banned-call check and format check only
#   make format  reformat every C file with .clang-format
#   make clean   remove the build folders
#   make demo    deps + build, then a three-node lab and zinc at work (tools/demo), lab taken down
#   make lab     deps + build, then bring the lab up (tools/lab up; `tools/lab down` ends it)

BUILD      ?= build
ASAN_BUILD ?= build-asan
# Suites that also run under AddressSanitizer + UndefinedBehaviorSanitizer (shorter budgets).
ASAN_SUITES ?= unit dataplane fuzz client store wal sim ops node recipes compat
MESON_TEST ?= meson test --print-errorlogs --num-processes 2

.PHONY: all deps build build-asan test tidy format clean demo lab

all: build

deps:
	@tools/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

$(ASAN_BUILD)/build.ninja:
	CC=clang meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined \
	    -Db_lundef=false -Dsanitizer_build=true

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

test: build build-asan
	@rc=0; \
	$(MESON_TEST) -C $(BUILD) || rc=1; \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
	    $(MESON_TEST) -C $(ASAN_BUILD) $(addprefix --suite ,$(ASAN_SUITES)) || rc=1; \
	python3 tools/test-summary.py $(BUILD) $(ASAN_BUILD) || rc=1; \
	exit $$rc

tidy: $(BUILD)/build.ninja
	$(MESON_TEST) -C $(BUILD) --suite tidy

format:
	find common proto consensus store dataplane node mgmt client perf tests tools \
	    -name '*.[ch]' -not -path '*/build*' 2>/dev/null | xargs -r clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

demo: build
	@BUILD=$(BUILD) tools/demo

lab: build
	tools/lab up
