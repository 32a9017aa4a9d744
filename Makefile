# Gregor — entry points for humans and CI. CMake does the real build.
#
#   make run     install deps, build, start a local cluster (ZooKeeper + 3
#                brokers on localhost:9092-9094; BROKERS=N for another count)
#   make run SECURE=1  the same, secured (deploy/local-cluster.sh --secure):
#                SASL_SSL client listeners (SCRAM-SHA-512 over TLS, nothing in
#                plaintext), mutual TLS between brokers, ACLs with a super
#                user admin whose settings go to .local-cluster/client.properties
#                (for gregor --command-config and kcat -F; docs/security.md)
#   make stop    stop the local cluster (data stays in .local-cluster/)
#   make status  show the local cluster's processes and which broker is the
#                controller
#   make test    install deps, -Werror build + ASan/UBSan build; ASan runs the
#                unit tests and a quick integration subset; a ThreadSanitizer
#                build runs its thread tests and the broker under the cluster
#                integration tests (any race report fails it); libFuzzer
#                targets run for FUZZ_SECONDS each; then the full ctest suite
#                runs last: its summary is the last line printed (the stages:
#                docs/testing.md)
#   make build   configure + build into build/ (binaries in build/bin)
#   make image   build the gregor and gregor-zookeeper Docker images from a
#                locally made Debian base (no registry); then
#                `docker compose up -d` runs docker-compose.yml
#   make bench   build, install the peers it measures beside Gregor (Redis,
#                NATS: deploy/install-deps.sh --bench; PEERS=0 skips both) and
#                run tests/bench/run (docs/PERFORMANCE.md)
#   make bench-compare OLD NEW   (or OLD=a.json NEW=b.json; neither: the two
#                newest results in $(BUILD)/bench-results) the change per
#                figure between two bench results files (tests/bench/compare.py)
#   make deb     build the gregor Debian package into build-deb/ (binaries,
#                /etc/gregor/server.properties, gregor-broker.service;
#                docs/deploy.md)
#   make clean   delete build directories (not the cluster state)
#
# Variables: SECURE (0; 1: make run starts the secure cluster), BUILD (build), ASAN_BUILD (build-asan), TSAN_BUILD (build-tsan),
# DEB_BUILD (build-deb), JOBS (2), BROKERS (3), CMAKE_ARGS (extra cmake -D flags), ASAN_TESTS /
# TSAN_TESTS (ctest -R regex of the integration tests also run under ASan /
# TSan), SKIP_ASAN=1 (skip the ASan stage), SKIP_TSAN=1 (skip the TSan
# stage), SKIP_FUZZ=1 (skip the libFuzzer stage), FUZZ_SECONDS (15, per fuzz
# target), SKIP_COMPOSE=1 (skip the compose stage; it skips itself when no
# Docker engine answers).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

BUILD ?= build
ASAN_BUILD ?= build-asan
DEB_BUILD ?= build-deb
JOBS ?= 2
BROKERS ?= 3
SECURE ?= 0
CMAKE_ARGS ?=
ASAN_TESTS ?= ^(integration_api_versions|integration_bad_input|protocol_api_matrix|protocol_fetch_paths|protocol_record_validation|integration_cluster|integration_cluster_configs|integration_control_fence|integration_fetcher|groups_api_versions|groups_rebalance|integration_cli_group|storage_compaction|storage_compaction_txn|protocol_dynamic_configs|protocol_txn_producer|protocol_txn_offset_commit|protocol_produce_offload|integration_large_frames|protocol_sasl|protocol_acls|protocol_tls)$$
SKIP_ASAN ?= 0
PAIRED_JOBS ?= 2
PAIRED_TESTS ?= ^(test_.*|check_layers|check_format|bench_compare|harness_checker|integration_api_versions|integration_bad_input|integration_kcat|integration_rdkafka|integration_python|integration_startup|integration_cli|integration_cli_group|integration_control_fence|integration_fetcher|protocol_api_matrix|protocol_record_validation|protocol_response_writes|protocol_tls|protocol_sasl|protocol_produce_offload|protocol_txn_introspect|protocol_txn_producer|protocol_dynamic_configs|groups_api_versions|storage_log_surgery|storage_compaction|storage_compaction_txn|integration_zk_acl|integration_cli_json|integration_metrics_names|integration_cluster|integration_cluster_configs|protocol_fetch_paths|protocol_txn_offset_commit|protocol_acls|integration_large_frames|groups_rebalance|groups_consume|protocol_offset_for_leader_epoch|protocol_create_partitions|protocol_admin_hardening|protocol_log_dirs_cluster|protocol_transactions|protocol_txn_coordinator|groups_offsets_life)$$
TSAN_BUILD ?= build-tsan
TSAN_TESTS ?= ^(integration_cluster|integration_cluster_configs|integration_fetcher|integration_control_fence|groups_rebalance|groups_consume|protocol_dynamic_configs|protocol_txn_offset_commit|protocol_produce_offload)$$
SKIP_TSAN ?= 0
SKIP_FUZZ ?= 0
SKIP_COMPOSE ?= 0
FUZZ_SECONDS ?= 15
# A fixed seed makes the CI fuzz stage repeat the same exploration (new
# crashes come from longer runs: make test-fuzz FUZZ_SEED=0 FUZZ_SECONDS=600).
FUZZ_SEED ?= 1
CLUSTER := deploy/local-cluster.sh
PEERS ?= 1
# `make bench-compare OLD.json NEW.json`: the two file names are goals too;
# they are taken as arguments and given an empty rule
ifeq (bench-compare,$(firstword $(MAKECMDGOALS)))
  COMPARE_ARGS := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
  ifneq ($(COMPARE_ARGS),)
    $(eval .PHONY: $(COMPARE_ARGS))
    $(eval $(COMPARE_ARGS):;@:)
  endif
endif
OLD ?= $(word 1,$(COMPARE_ARGS))
NEW ?= $(word 2,$(COMPARE_ARGS))

.PHONY: deps configure build image run stop status test test-asan test-tsan test-fuzz test-compose test-full bench bench-deps bench-compare deb clean

deps:
	@deploy/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

# The cluster script defaults to build/bin; these follow BUILD= instead.
CLUSTER_ENV = GREGOR_BROKER=$${GREGOR_BROKER:-$(abspath $(BUILD))/bin/gregor-broker} \
	GREGOR_CLI=$${GREGOR_CLI:-$(abspath $(BUILD))/bin/gregor}

image: deps
	deploy/docker/build-images.sh

run: build
ifeq ($(SECURE),1)
	@$(CLUSTER_ENV) $(CLUSTER) --brokers $(BROKERS) --secure up
	@echo
	@echo "Gregor is running secured: $(BROKERS) broker(s) from localhost:9092, SASL_SSL only (SCRAM-SHA-512"
	@echo "over TLS), ACLs on; super user admin, whose settings are in .local-cluster/client.properties:"
	@echo "  C=.local-cluster/client.properties"
	@echo "  $(BUILD)/bin/gregor --command-config \$$C topic create demo -p 3 -r 3"
	@echo "  web console: http://localhost:8080/ (broker N on port 8080+N; read-only)"
	@echo "  echo hello | kcat -F \$$C -b localhost:9092 -P -t demo    # produce as admin"
	@echo "  kcat -F \$$C -b localhost:9092 -C -t demo -e              # consume as admin"
	@echo "  $(BUILD)/bin/gregor --command-config \$$C user scram set alice --password alice-secret --mechanism SCRAM-SHA-512"
	@echo "  $(BUILD)/bin/gregor --command-config \$$C acl add --allow User:alice --operation Write --topic demo"
	@echo "  (alice: a copy of \$$C with sasl.username=alice, sasl.password=alice-secret; docs/security.md)"
	@echo "  $(CLUSTER) status | kill ID | restart ID"
	@echo "  make stop                                           # stop everything"
else
	@$(CLUSTER_ENV) $(CLUSTER) --brokers $(BROKERS) up
	@echo
	@echo "Gregor is running: $(BROKERS) broker(s) from localhost:9092 (state, logs and data in .local-cluster/):"
	@echo "  $(BUILD)/bin/gregor cluster info                       # controller, brokers, partition health"
	@echo "  $(BUILD)/bin/gregor topic create demo -p 3 -r 3        # a replicated topic"
	@echo "  $(BUILD)/bin/gregor topic describe demo                # leader, replicas, ISR per partition"
	@echo "  echo hello | kcat -b localhost:9092 -P -t demo      # produce"
	@echo "  kcat -b localhost:9092 -C -t demo -e                # consume"
	@echo "  web console: http://localhost:8080/ (broker N on port 8080+N; open it, then kill a broker)"
	@echo "  $(CLUSTER) status | kill ID | restart ID"
	@echo "  make stop                                           # stop everything"
endif

stop:
	@$(CLUSTER) down

status:
	@$(CLUSTER_ENV) $(CLUSTER) status

# The ASan, TSan, fuzz and compose stages run first and stop `make test` on
# failure (their summary is then the last line); the full -Werror suite
# always runs last.
test: deps
	cmake -S . -B $(BUILD) -DGREGOR_WERROR=ON $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS)
	@if [ "$(SKIP_ASAN)" != 1 ]; then $(MAKE) --no-print-directory test-asan; fi
	@if [ "$(SKIP_TSAN)" != 1 ]; then $(MAKE) --no-print-directory test-tsan; fi
	@if [ "$(SKIP_FUZZ)" != 1 ]; then $(MAKE) --no-print-directory test-fuzz; fi
	@if [ "$(SKIP_COMPOSE)" != 1 ]; then $(MAKE) --no-print-directory test-compose; fi
	@$(MAKE) --no-print-directory test-full

# libFuzzer targets (clang, ASan+UBSan) for the request decoder and the
# record-batch validator, each run for FUZZ_SECONDS from the seed corpus.
test-fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_SEED=$(FUZZ_SEED) JOBS=$(JOBS) tests/fuzz/run

# Warnings are enforced by the -Werror build; instrumented builds make GCC
# emit false positives (-Wformat-truncation, -Wmaybe-uninitialized), so the
# ASan build does not use -Werror.
test-asan:
	cmake -S . -B $(ASAN_BUILD) -DGREGOR_WERROR=OFF -DGREGOR_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	@cd $(ASAN_BUILD) && export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 && \
	  rc=0; ctest --output-on-failure -j$(PAIRED_JOBS) -L unit 2>&1 | tee ctest-unit.log || rc=1; \
	  ctest --output-on-failure -j$(PAIRED_JOBS) -R '$(ASAN_TESTS)' 2>&1 | tee ctest-integration.log || rc=1; \
	  if [ $$rc -ne 0 ]; then \
	    echo "ASan/UBSan stage failed (logs: $(ASAN_BUILD)/Testing/Temporary/LastTest.log)"; \
	    grep -h -E '^[0-9]+% tests passed' ctest-unit.log ctest-integration.log | \
	      grep -v -E '^100% tests passed' | tail -n 1; \
	    exit 1; \
	  fi

# ThreadSanitizer: $(TSAN_BUILD) instruments the broker, the CLI and
# tests/tsan/ (shared broker structures hammered from several threads);
# Criterion cannot start under TSan, so the Criterion unit tests are not run
# here, and the multi-broker integration tests (TSAN_TESTS) run from
# $(BUILD) against the TSan broker (GREGOR_BROKER_BIN): network, admin,
# fetcher and controller threads all busy, and the group and txn workers
# (transactions through librdkafka: the coordinator and its marker sender;
# WriteTxnMarkers on __consumer_offsets handed to the group worker). Every TSan process writes its
# reports under $(TSAN_BUILD)/tsan-reports/; any report fails the stage, as
# does a test failing. tests/tsan.supp silences races inside uninstrumented
# third-party libraries only. No -Werror: GCC's instrumented builds warn
# falsely (see test-asan).
test-tsan:
	cmake -S . -B $(BUILD) -DGREGOR_WERROR=ON $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS)
	cmake -S . -B $(TSAN_BUILD) -DGREGOR_WERROR=OFF -DGREGOR_TSAN=ON $(CMAKE_ARGS)
	cmake --build $(TSAN_BUILD) -j$(JOBS)
	@tsan=$(abspath $(TSAN_BUILD)); rm -rf $$tsan/tsan-reports; mkdir -p $$tsan/tsan-reports; \
	  export TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 \
	    suppressions=$(abspath tests/tsan.supp) log_path=$$tsan/tsan-reports/race" \
	    GREGOR_BROKER_BIN=$$tsan/bin/gregor-broker; \
	  rc=0; (cd $$tsan && ctest --output-on-failure -L tsan) 2>&1 | tee $$tsan/ctest-tsan.log || rc=1; \
	  (cd $(BUILD) && ctest --output-on-failure -R '$(TSAN_TESTS)') 2>&1 | \
	    tee $$tsan/ctest-integration.log || rc=1; \
	  reports=$$(ls $$tsan/tsan-reports | wc -l); \
	  if [ $$reports -ne 0 ]; then \
	    rc=1; for f in $$tsan/tsan-reports/*; do echo "== $$f"; head -n 60 "$$f"; done; \
	  fi; \
	  if [ $$rc -ne 0 ]; then \
	    echo "ThreadSanitizer stage failed: $$reports report file(s) in $(TSAN_BUILD)/tsan-reports/"; \
	    grep -h -E '^[0-9]+% tests passed' $$tsan/ctest-tsan.log $$tsan/ctest-integration.log | \
	      grep -v -E '^100% tests passed' | tail -n 1; \
	    exit 1; \
	  fi

# docker-compose.yml for real (images, a broker killed under acks=all load,
# down/up keeping the data); says SKIPPED when no Docker engine answers.
test-compose:
	tests/compose/run

# Full suite in two passes: PAIRED_TESTS (the unit tests and the integration
# tests that run one broker, or one cluster of their own whose faults they
# wait out on conditions, and measure no timing tighter than what they also
# pass under ASan) two at a time (PAIRED_JOBS), then every other test alone
# (the cluster fault scenarios, the group fault tests, rates, quotas,
# restarts, the package). The last line is one
# summary of both passes in ctest's form.
test-full:
	@cd $(BUILD) && rc=0; \
	  ctest --output-on-failure -j$(PAIRED_JOBS) -R '$(PAIRED_TESTS)' 2>&1 | tee ctest-paired.log || rc=1; \
	  ctest --output-on-failure -E '$(PAIRED_TESTS)' 2>&1 | tee ctest-alone.log || rc=1; \
	  summary=$$(cat ctest-paired.log ctest-alone.log | awk \
	    '/^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+/ { f += $$4; t += $$9; n++ } \
	     END { if (n == 2) printf "%d%% tests passed, %d tests failed out of %d\n", \
	           t ? int(100 * (t - f) / t) : 0, f, t }'); \
	  if [ -z "$$summary" ]; then echo "ctest printed no summary for one of the passes"; exit 1; fi; \
	  cat ctest-paired.log ctest-alone.log > ctest-full.log; \
	  grep -h -A200 'The following tests FAILED' ctest-paired.log ctest-alone.log || true; \
	  echo; echo "$$summary"; exit $$rc

# The peers are installed before the build so that CMake finds their C
# clients (nats_bench, redis_read_bench); make test never needs them.
bench-deps:
	@if [ "$(PEERS)" != 0 ]; then deploy/install-deps.sh --bench; fi

bench: bench-deps
	@$(MAKE) --no-print-directory build
	GREGOR_BUILD_DIR=$(abspath $(BUILD)) PEERS=$(PEERS) tests/bench/run

bench-compare:
	@if [ -n "$(OLD)" ]; then python3 tests/bench/compare.py "$(OLD)" "$(NEW)"; \
	  else python3 tests/bench/compare.py --dir $(BUILD)/bench-results; fi

# The package's binaries: Debian's hardening flags (dpkg-buildflags, all of
# them: PIE, RELRO with BIND_NOW, FORTIFY_SOURCE, stack protector), the
# build type the tests use, no test suites; deploy/debian/build-deb.sh strips
# and packages them.
deb: deps
	export DEB_BUILD_MAINT_OPTIONS=hardening=+all; \
	cmake -S . -B $(DEB_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGREGOR_TESTS=OFF \
	  -DGREGOR_LOCK_CHECKS=OFF \
	  -DCMAKE_C_FLAGS="$$(dpkg-buildflags --get CFLAGS) $$(dpkg-buildflags --get CPPFLAGS)" \
	  -DCMAKE_EXE_LINKER_FLAGS="$$(dpkg-buildflags --get LDFLAGS)" $(CMAKE_ARGS)
	cmake --build $(DEB_BUILD) -j$(JOBS) --target gregor-broker gregor
	@deploy/debian/build-deb.sh $(DEB_BUILD)/bin $(DEB_BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(DEB_BUILD) build-fuzz
