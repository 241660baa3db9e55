# The two commands of the README, and the builds they rely on.
#   make run    install missing packages, build, serve on port 18642 with HERMESLINK_HOME (default ~/.hermeslink)
#   make test   install missing packages, build with ASan+UBSan (and TSan for the concurrency tests), run every test
#   make fuzz   build the libFuzzer targets (clang) and run each for FUZZ_SECONDS (default 600)
SHELL := /bin/bash
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build run test test-build tsan-build tsan soak soak-devices fuzz fuzz-build unit integration bench bench-fanout bench-100k bench-store bench-proxy bench-edge bench-stats format clean install deb

all: build

deps:
	@./scripts/deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DHL_BUILD_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j $(JOBS)

run: build
	./build/hermeslink run

test-build: deps
	@cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DHL_WERROR=ON -DHL_SANITIZE=address,undefined $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-test -j $(JOBS)

tsan-build: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DHL_WERROR=ON -DHL_SANITIZE=thread $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target unit_concurrency hermeslink integration_tests fake_hermes

# the libFuzzer targets (fuzz/, clang): make test replays their corpora. Without clang this builds nothing and the replay
# step reports itself skipped (failed under CI=true), as the browser test does
fuzz-build: deps
	@CI= ./scripts/fuzz.sh --build-only || [ $$? -eq 77 ]

# Fuzzing (issue 14): every target of fuzz/ in turn for FUZZ_SECONDS each (default 600); per target its executions,
# coverage and any crash file (build-fuzz/artifacts/<target>/). One target: ./scripts/fuzz.sh --seconds 60 router
FUZZ_SECONDS ?= 600
fuzz: deps
	@JOBS=$(JOBS) ./scripts/fuzz.sh --seconds $(FUZZ_SECONDS)

# the release build too: the hardening suite checks its binary (build/hermeslink) for _FORTIFY_SOURCE, PIE and RELRO
test: build test-build tsan-build fuzz-build
	@./scripts/run-tests.sh

# Every integration suite against a ThreadSanitizer daemon (make test runs the actor, store, SSE and run-proxy ones):
# about 15 minutes
tsan: tsan-build
	@./scripts/run-tsan-integration.sh $(shell grep -o '^    SUITE([a-z_0-9]*)' tests/integration/main.c | sed 's/.*SUITE(\(.*\))/\1/')

# The long crash runs (issue 14): 50 rounds of kill -9 under 20 working clients (messages with streamed runs, renames,
# blobs, token refreshes, approvals, event streams), each restart checked for every answered write (make test runs 5):
# about 8 minutes
soak: test-build
	@HLT_KILL_ROUNDS=50 HLT_VERBOSE=1 CK_DEFAULT_TIMEOUT=1800 CK_RUN_SUITE=kill9_loop ./build-test/tests/integration_tests

# Soak of many devices (issue 14): SOAK_DEVICES simulated devices (default 200) for SOAK_SECONDS (default 1800) of mixed
# traffic against the release daemon and an optimised fake upstream: pairing, token refresh, messages whose runs stream,
# event streams dropped and resumed with Last-Event-ID, uploads, direct runs, revocations. Checks zero lost or duplicated
# events per device, p50/p99/max per route, daemon RSS and descriptors every 10 s (bench/out/soak-*/samples.csv, charted).
# About 31 minutes and both cores; a quick look: make soak-devices SOAK_DEVICES=20 SOAK_SECONDS=60
SOAK_DEVICES ?= 200
SOAK_SECONDS ?= 1800
soak-devices: build
	@./bench/soak.sh --no-build --devices $(SOAK_DEVICES) --seconds $(SOAK_SECONDS)

bench: build
	@./bench/requests.sh --no-build
	@./bench/auth.sh --no-build

# SSE fan-out (1,000 and 10,000 streams, HTTP/1.1 and HTTP/2): about a minute and 20,000 file descriptors
bench-fanout: build
	@./bench/fanout.sh --no-build

# 100,000 concurrent event streams (issue 14): 90,000 over h2c (900 connections x 100 streams, h2o 2.2.5's cap per
# connection) and 10,000 over HTTP/1.1, 20 events each must reach every stream; p50/p99/max latency, daemon RSS per
# stream and CPU. About a minute; ~11,000 descriptors on each side (the soft limit is raised to the hard one, which must
# allow that), ~0.7 GB of daemon memory. A 30,000-stream rehearsal: FANOUT_100K_H2=27000 FANOUT_100K_H1=3000 make bench-100k
bench-100k: build
	@./bench/fanout.sh --no-build e-100k

# Store (issue 7): list vs bootstrap rate, refresh latency next to 50 MiB uploads, peak RSS of 20 parallel 50 MiB
# downloads: about 2 minutes, up to a few GB of daemon RSS (guarded at 8 GiB) and 50 MiB files on disk
bench-store: build
	@./bench/store.sh --no-build

# Run proxy (issue 8): events/s relayed to 1 and 100 subscribers of a 100,000-event run, the latency HermesLink adds at
# ~1,000 events/s, bootstrap p99 next to 100 streaming conversation runs; against an optimised build of the fake
# upstream (tests/fake_upstream): about a minute
bench-proxy: build
	@./bench/proxy.sh --no-build

# HTTP edge (issue 9): what one HTTP/2 client can make h2o hold (6 streams x 50 MiB, never ended) and a rapid-reset
# flood, with system/status timed meanwhile: about 20 s, ~600 MB of daemon memory and temp files
bench-edge: build
	@./bench/edge.sh --no-build

# Statistics (issue 11): /api/v1/statistics/usage?days=30 and /api/v1/statistics over 100,000 usage facts written into a
# fresh link.db (median latency, one connection): about a minute
bench-stats: build
	@./bench/stats.sh --no-build

# Install the release build: the binary, the man page generated from --help, bash and zsh completions and the systemd
# user unit (cmake/install.cmake) under PREFIX (default /usr/local; DESTDIR is honoured)
PREFIX ?= /usr/local
install: build
	@cmake --install build --prefix $(PREFIX)

# The Debian package of the release build (CPack; dependencies from dpkg-shlibdeps): build/packages/hermeslink_*.deb
deb: build
	@cd build && cpack -G DEB

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-test build-tsan build-fuzz
