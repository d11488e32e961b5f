#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The sanitizer job of CI (scripts/test.sh runs it after the C tests, as the
# part 'sanitizers' of TCONV_TEST_PARTS):
#   asan  a Debug (-O1) tree with AddressSanitizer, LeakSanitizer and
#         UndefinedBehaviorSanitizer; the C tests but the long ones (ctest
#         label 'slow', the conformance sweeps), the random suites cut to
#         their first TCONV_TEST_MAX_CASES cases; any report fails the test;
#   deep  the OpenCL tests again with full stack unwinding for leaks
#         (tests/sanitizers/lsan.supp explains why);
#   tsan  a ThreadSanitizer tree: the thread stress tests;
#   fuzz  the libFuzzer harnesses of tests/fuzz (clang), each for
#         TCONV_FUZZ_SECONDS on the committed corpus.
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
# The random suites run their first cases only (same seeds as scripts/test.sh).
export TCONV_TEST_MAX_CASES="${TCONV_TEST_MAX_CASES:-24}"
fuzz_seconds="${TCONV_FUZZ_SECONDS:-60}"

sanitizer_flags_asan="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
sanitizer_flags_tsan="-fsanitize=thread -fno-omit-frame-pointer"

# configure <tree> <compiler flags> [cmake args...]: a Debug tree at -O1
# (-O0 makes the SIMD kernels ten times slower under ASan, for nothing).
configure() {
  local tree="$1" flags="$2"
  shift 2
  cmake -S "$here" -B "$tree" -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS_DEBUG=-g -O1" \
    "-DCMAKE_C_FLAGS=$flags" -DTCONV_TEST_TIMEOUT_FACTOR=3 "$@" >/dev/null
}

stage_started=0
begin() {
  stage_started=$SECONDS
  echo "== test-sanitizers: $1"
}
end() { echo "== test-sanitizers: $1 done in $((SECONDS - stage_started)) s"; }

# Tests that cannot run in a sanitizer tree: example_plugin and embed_* build
# and link programs against the installed package with the system's flags,
# which an instrumented libtconv cannot serve (packaging is tested by the C
# tests of scripts/test.sh).
# selection_measure_measured asserts that the measured winner leads by 20%
# or more (else a close call is measured again), which ASan's slowdown of
# the native backend turns into a close call: timing, not memory.
not_sanitizable='^(example_plugin|embed_.*|selection_measure_measured)$'

run_asan() {
  begin "ASan+UBSan+LSan tree ($prefix-asan)"
  configure "$prefix-asan" "$sanitizer_flags_asan"
  cmake --build "$prefix-asan" -j "$jobs"
  ctest --test-dir "$prefix-asan" --output-on-failure -j "$jobs" -LE 'slow|conformance' \
    -E "$not_sanitizable"
  end asan
}

# The OpenCL tests once more, now that the first pass has filled PoCL's
# kernel cache (so LLVM, whose millions of allocations the full unwinder
# would have to walk, hardly runs): leaks with whole stacks, suppressed only
# inside PoCL's kernel compiler.
run_deep() {
  begin "OpenCL tests with full-stack leak reports ($prefix-asan)"
  ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0:malloc_context_size=40" \
    LSAN_OPTIONS="suppressions=$supp/lsan-deep.supp:print_suppressions=0" \
    ctest --test-dir "$prefix-asan" --output-on-failure -j "$jobs" -LE 'slow|conformance' \
    -E "$not_sanitizable" -R 'opencl'
  end deep
}

run_tsan() {
  begin "ThreadSanitizer tree ($prefix-tsan)"
  configure "$prefix-tsan" "$sanitizer_flags_tsan"
  cmake --build "$prefix-tsan" -j "$jobs" --target test_thread_stress test_shared_context_stress \
    tconv_backend_cpu tconv_backend_opencl tconv_faulty_plugins
  ctest --test-dir "$prefix-tsan" --output-on-failure -R '^thread_stress'
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

run_fuzz() {
  begin "fuzzers ($prefix-fuzz, ${fuzz_seconds} s each)"
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
  local name
  for name in npy problem; do
    local corpus="$prefix-fuzz/corpus/$name" artifacts="$prefix-fuzz/artifacts/$name/"
    mkdir -p "$corpus" "$artifacts"
    echo "-- fuzz_$name: ${fuzz_seconds} s"
    # New inputs go to the tree's corpus; the committed seeds are read only.
    TCONV_CACHE_DIR=off "$prefix-fuzz/tests/fuzz/fuzz_$name" -max_total_time="$fuzz_seconds" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts" \
      "$corpus" "$here/tests/fuzz/corpus/$name"
  done
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
