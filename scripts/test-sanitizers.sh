#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The sanitizer job of CI (scripts/test.sh runs it after the C tests, as the
# part 'sanitizers' of TCONV_TEST_PARTS):
#   asan  a Debug (-O1) tree with AddressSanitizer, LeakSanitizer and
#         UndefinedBehaviorSanitizer; the C tests but those listed below,
#         the random suites cut to their first TCONV_TEST_MAX_CASES cases;
#         any report fails the test;
#   deep  a few OpenCL tests again with full stack unwinding for leaks
#         (tests/sanitizers/lsan.supp explains why);
#   tsan  a ThreadSanitizer tree: the thread stress tests;
#   fuzz  the libFuzzer harnesses of tests/fuzz (clang), side by side, each
#         for TCONV_FUZZ_SECONDS on the committed corpus.
# Budget: CI (scripts/test.sh: C tests, this job, Python tests) must finish
# in 30 minutes on the 2-core CI machine, which leaves this job about 9
# minutes. Measured on this 2-core machine, shared (docs/internals.md,
# "Sanitizers, fault injection, fuzzing", has the figures): asan 280 s,
# deep 70 s, tsan 50 s, fuzz 140 s (most of it the clang build); the cuts
# below say what gives way and why.
# Usage: scripts/test-sanitizers.sh [build-prefix] [stage...]
#   build-prefix (default: build): the trees are <prefix>-asan, -tsan, -fuzz;
#   stages (default: all of them, in this order): asan deep tsan fuzz.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${1:-$here/build}"
shift || true
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(asan deep tsan fuzz)
jobs="$(nproc)"
supp="$here/tests/sanitizers"

"$here/scripts/install-deps.sh"

# Every run in the job: any report ends the process with a failure.
# use_sigaltstack=0: PoCL's LLVM threads install their own alternate signal
# stack, which ASan then fails to unmap at thread exit (abort).
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:use_sigaltstack=0:check_initialization_order=1:strict_init_order=1"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=4"
# Cut: the random suites (and the CLI round trips) run their first 24 cases
# only, same seeds as scripts/test.sh (which runs all 50-600 of them, with
# no sanitizer): a shorter walk over the same options, each case several
# times slower under ASan.
export TCONV_TEST_MAX_CASES="${TCONV_TEST_MAX_CASES:-24}"
# Cut: 30 s per fuzzer, both at once (one core each), instead of minutes:
# the job replays the committed corpus and the inputs the tree has kept,
# then explores for the rest; longer runs are for a developer's machine
# (TCONV_FUZZ_SECONDS=600 scripts/test-sanitizers.sh build fuzz).
fuzz_seconds="${TCONV_FUZZ_SECONDS:-30}"

sanitizer_flags_asan="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
sanitizer_flags_tsan="-fsanitize=thread -fno-omit-frame-pointer"

# configure <tree> <compiler flags> [cmake args...]: a Debug tree at -O1
# (-O0 makes the SIMD kernels ten times slower under ASan, for nothing).
# GCC: -fno-var-tracking (debug info keeps the lines and frames a report
# shows; only the locations of variables across optimised code go) takes a
# third off the build: GCC spends that much on the SIMD kernels' templates.
configure() {
  local tree="$1" flags="$2" debug_flags="-g -O1"
  shift 2
  case "${CC:-cc}" in
    *clang*) ;;
    *) debug_flags="$debug_flags -fno-var-tracking" ;;
  esac
  cmake -S "$here" -B "$tree" -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS_DEBUG=$debug_flags" \
    "-DCMAKE_C_FLAGS=$flags" -DTCONV_TEST_TIMEOUT_FACTOR=3 "$@" >/dev/null
}

stage_started=0
begin() {
  stage_started=$SECONDS
  echo "== test-sanitizers: $1"
}
end() { echo "== test-sanitizers: $1 done in $((SECONDS - stage_started)) s"; }

# ctest_exactly <count> <tree> <ctest args...>: runs the tests the arguments
# select, and fails when they are not <count> tests: a renamed test must not
# drop out of a stage's list unnoticed.
ctest_exactly() {
  local want="$1" tree="$2"
  shift 2
  local have
  have="$(ctest --test-dir "$tree" -N "$@" | sed -n 's/^Total Tests: //p')"
  if [ "$have" != "$want" ]; then
    echo "FAILED: the stage's list selects ${have:-no} tests of $tree, want $want: $*" >&2
    ctest --test-dir "$tree" -N "$@" >&2
    return 1
  fi
  ctest --test-dir "$tree" --output-on-failure -j "$jobs" "$@"
}

# The C tests the ASan tree leaves out, and why (every other ctest entry
# runs there, conformance_api_cpu and conformance_kit included):
# - example_plugin: its last step builds a program with `pkg-config --cflags
#   --libs tconv` (the system's flags, no sanitizer) against the installed,
#   instrumented libtconv, which ASan refuses ("ASan runtime does not come
#   first"); everything before that step passes in the ASan tree.
# - embed_shared, embed_static: they build tconv again inside a parent
#   project with that project's flags: nothing they run is instrumented
#   (about a minute each, for no sanitizer check).
# - selection_measure_measured: asserts that the measured winner leads by
#   20% or more (else a close call is measured again), which ASan's slowdown
#   of the native backend turns into a close call: timing, not memory.
# - bench_suite, bench_resident_cpu, bench_resident_opencl (cut, for time:
#   35-50 s each under ASan): the benchmark harnesses time suite-size layers
#   (the resident decoder is 15.8 GFLOP); the library paths they drive
#   (buffers, enqueue and wait, the chained decoder) run at test sizes in
#   buffers and opencl_resident here, and the harnesses in scripts/test.sh.
# - conformance_cli_cpu and the OpenCL sweeps (conformance_api_opencl and
#   its _buffered and _tiled runs, conformance_cli_opencl), cut for time: the
#   golden sweeps through `tconv run` (one process per case) and on PoCL (a
#   program per case, ten minutes cold, more under ASan; the staged runs
#   find the programs cached only after conformance_api_opencl);
#   conformance_api_cpu runs the same 511 cases through the API in the ASan
#   tree, the CLI round trips and the random suites (in place, buffered and
#   tiled) run the CLI and OpenCL paths, and scripts/test.sh runs every
#   sweep.
not_sanitizable='^(example_plugin|embed_shared|embed_static|selection_measure_measured|bench_suite|bench_resident_cpu|bench_resident_opencl|conformance_cli_cpu|conformance_api_opencl|conformance_api_opencl_buffered|conformance_api_opencl_tiled|conformance_cli_opencl)$'

# Cut: the tests that create and release the OpenCL objects, not all 27
# OpenCL entries (which cost the full unwinder about a minute): buffers and
# queues of the caller's context (opencl_interop), device-resident buffers
# chained through a decoder and backward (opencl_resident), programs from
# the cache and from binaries (opencl_cache_and_binary), every allocation
# failing in turn (fault_alloc_opencl: the error paths' releases), staged
# buffers per tile (forward_random_opencl_tiled_f32) and the backward
# passes' buffers (backward_random_opencl_buffered_f32). The other OpenCL
# entries run the same create/release code with other shapes and options.
# These six run in the deep stage only: the same ASan build, with the
# stronger leak reports (running them in the asan stage too cost a minute).
deep_tests='^(opencl_interop|opencl_resident|opencl_cache_and_binary|fault_alloc_opencl|forward_random_opencl_tiled_f32|backward_random_opencl_buffered_f32)$'

# LeakSanitizer's own tracer can crash while it stops PoCL's worker threads
# at a test's exit ("Tracer caught signal 11", then "LeakSanitizer has
# encountered a fatal error"; seen once in the deep stage): the test itself
# passed, and there is no verdict on leaks either way. Only then, and only
# when no leak was reported, the failed tests run once more (through the
# stage's command prefix, "$@"); any other failure fails the stage.
lsan_crash_rerun() {
  local status="$1" log="$2" tree="$3"
  shift 3
  if [ "$status" -eq 0 ]; then
    return 0
  fi
  if grep -q 'LeakSanitizer has encountered a fatal error' "$log" &&
    ! grep -q 'LeakSanitizer: detected memory leaks' "$log"; then
    echo "test-sanitizers: LeakSanitizer's tracer crashed (no leak verdict); the failed tests once more"
    "$@" ctest --test-dir "$tree" --output-on-failure --rerun-failed
    return
  fi
  return "$status"
}

run_asan() {
  begin "ASan+UBSan+LSan tree ($prefix-asan)"
  configure "$prefix-asan" "$sanitizer_flags_asan"
  cmake --build "$prefix-asan" -j "$jobs"
  local log="$prefix-asan/asan-ctest.log" status=0
  ctest --test-dir "$prefix-asan" --output-on-failure -j "$jobs" --no-tests=error \
    -E "$not_sanitizable|$deep_tests" 2>&1 | tee "$log" || status=$?
  lsan_crash_rerun "$status" "$log" "$prefix-asan"
  end asan
}

# The OpenCL lifetime tests with full stacks for leaks, suppressed only
# inside PoCL's kernel compiler. PoCL's kernel cache (~/.cache/pocl, shared
# by every tree) already holds their programs from the C tests' Release run
# (same sources and options), so LLVM, whose millions of allocations the
# full unwinder would have to walk, hardly runs.
deep_ctest() {
  ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0:malloc_context_size=40" \
    LSAN_OPTIONS="suppressions=$supp/lsan-deep.supp:print_suppressions=0" "$@"
}

run_deep() {
  begin "OpenCL tests with full-stack leak reports ($prefix-asan)"
  local log="$prefix-asan/deep-ctest.log" status=0
  deep_ctest ctest_exactly 6 "$prefix-asan" -R "$deep_tests" 2>&1 | tee "$log" || status=$?
  lsan_crash_rerun "$status" "$log" "$prefix-asan" deep_ctest
  end deep
}

# Only the targets the two stress tests load (the build is most of this
# stage).
run_tsan() {
  begin "ThreadSanitizer tree ($prefix-tsan)"
  configure "$prefix-tsan" "$sanitizer_flags_tsan"
  cmake --build "$prefix-tsan" -j "$jobs" --target test_thread_stress test_shared_context_stress \
    tconv_backend_cpu tconv_backend_opencl tconv_faulty_plugins
  ctest_exactly 2 "$prefix-tsan" -R '^(thread_stress|thread_stress_shared_context)$'
  end tsan
}

# clang for the fuzzers: PoCL's clang-15 is always there (pocl-opencl-icd
# depends on it, libFuzzer included); another clang if asked.
find_clang() {
  local c
  for c in ${TCONV_FUZZ_CC:-} clang-15 clang-14 clang; do
    if command -v "$c" >/dev/null 2>&1; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}

# fuzz_one <name>: one harness for fuzz_seconds, its output in the tree's
# log/<name>.log. New inputs go to the tree's corpus; the committed seeds are
# read only.
fuzz_one() {
  local name="$1"
  local corpus="$prefix-fuzz/corpus/$name" artifacts="$prefix-fuzz/artifacts/$name/"
  mkdir -p "$corpus" "$artifacts" "$prefix-fuzz/log"
  TCONV_CACHE_DIR=off "$prefix-fuzz/tests/fuzz/fuzz_$name" -max_total_time="$fuzz_seconds" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts" \
    "$corpus" "$here/tests/fuzz/corpus/$name" >"$prefix-fuzz/log/$name.log" 2>&1
}

run_fuzz() {
  begin "fuzzers ($prefix-fuzz, ${fuzz_seconds} s each, side by side)"
  local cc
  if ! cc="$(find_clang)"; then
    if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then
      echo "FAILED: no clang for the libFuzzer harnesses (CI=true requires it)" >&2
      return 1
    fi
    echo "skipped: no clang for the libFuzzer harnesses"
    return 0
  fi
  CC="$cc" configure "$prefix-fuzz" "$sanitizer_flags_asan -fsanitize=fuzzer-no-link" \
    -DTCONV_BUILD_TESTS=OFF -DTCONV_WITH_OPENCL=OFF -DTCONV_BUILD_FUZZERS=ON
  cmake --build "$prefix-fuzz" -j "$jobs" --target tconv_fuzzers
  # Symbolized reports when an llvm-symbolizer is around (clang-15 ships none).
  local symbolizer
  if symbolizer="$(command -v llvm-symbolizer-15 || command -v llvm-symbolizer)"; then
    export ASAN_SYMBOLIZER_PATH="$symbolizer"
  fi
  # Both at once: each harness is one thread (fuzz_problem sets
  # TCONV_NUM_THREADS=1), the machine has two cores.
  local name failed=0
  local -A pids=()
  for name in npy problem; do
    fuzz_one "$name" &
    pids[$name]=$!
  done
  for name in npy problem; do
    if wait "${pids[$name]}"; then
      echo "-- fuzz_$name: passed"
      grep -E '^(Done|stat::(number_of_executed_units|new_units_added|peak_rss_mb))' \
        "$prefix-fuzz/log/$name.log" || true
    else
      echo "-- fuzz_$name: FAILED (crash input in $prefix-fuzz/artifacts/$name/):" >&2
      tail -n 80 "$prefix-fuzz/log/$name.log" >&2
      failed=1
    fi
  done
  [ "$failed" = 0 ] || return 1
  end fuzz
}

job_started=$SECONDS
for stage in "${stages[@]}"; do
  case "$stage" in
    asan) run_asan ;;
    deep) run_deep ;;
    tsan) run_tsan ;;
    fuzz) run_fuzz ;;
    *) echo "test-sanitizers: unknown stage '$stage' (asan, deep, tsan, fuzz)" >&2; exit 2 ;;
  esac
done
echo "== test-sanitizers: all stages passed in $((SECONDS - job_started)) s"
