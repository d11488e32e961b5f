/* SPDX-License-Identifier: Apache-2.0 */
/* Include right after a `#pragma GCC target(...)` line: defines
 * TCONV_CPU_TARGET_FEATURES, the cpu_features.h bits of every feature the
 * code below it may use (GCC defines __AVX2__, __AVX512VL__, ... for the
 * pragma's target, implied features included). The kernel choice then
 * requires all of them, so a pragma that gains a feature can never make the
 * kernels run on a CPU without it (SIGILL). Include once per file. */
#ifndef TCONV_COMMON_TARGET_FEATURES_H
#define TCONV_COMMON_TARGET_FEATURES_H

#include "cpu_features.h"

#ifdef __AVX__
#define TCONV_TARGET_HAS_AVX TCONV_CPU_AVX
#else
#define TCONV_TARGET_HAS_AVX 0u
#endif
#ifdef __AVX2__
#define TCONV_TARGET_HAS_AVX2 TCONV_CPU_AVX2
#else
#define TCONV_TARGET_HAS_AVX2 0u
#endif
#ifdef __FMA__
#define TCONV_TARGET_HAS_FMA TCONV_CPU_FMA
#else
#define TCONV_TARGET_HAS_FMA 0u
#endif
#ifdef __F16C__
#define TCONV_TARGET_HAS_F16C TCONV_CPU_F16C
#else
#define TCONV_TARGET_HAS_F16C 0u
#endif
#ifdef __AVX512F__
#define TCONV_TARGET_HAS_AVX512F TCONV_CPU_AVX512F
#else
#define TCONV_TARGET_HAS_AVX512F 0u
#endif
#ifdef __AVX512VL__
#define TCONV_TARGET_HAS_AVX512VL TCONV_CPU_AVX512VL
#else
#define TCONV_TARGET_HAS_AVX512VL 0u
#endif
#ifdef __AVX512DQ__
#define TCONV_TARGET_HAS_AVX512DQ TCONV_CPU_AVX512DQ
#else
#define TCONV_TARGET_HAS_AVX512DQ 0u
#endif
#ifdef __AVX512BW__
#define TCONV_TARGET_HAS_AVX512BW TCONV_CPU_AVX512BW
#else
#define TCONV_TARGET_HAS_AVX512BW 0u
#endif
#ifdef __AVX512CD__
#define TCONV_TARGET_HAS_AVX512CD TCONV_CPU_AVX512CD
#else
#define TCONV_TARGET_HAS_AVX512CD 0u
#endif

/* Features the compiler may use here; a feature cpu_features.h does not
 * know (e.g. a future avx512 subset) must be added there first. */
#define TCONV_CPU_TARGET_FEATURES                                                                  \
    (TCONV_TARGET_HAS_AVX | TCONV_TARGET_HAS_AVX2 | TCONV_TARGET_HAS_FMA | TCONV_TARGET_HAS_F16C | \
     TCONV_TARGET_HAS_AVX512F | TCONV_TARGET_HAS_AVX512VL | TCONV_TARGET_HAS_AVX512DQ |            \
     TCONV_TARGET_HAS_AVX512BW | TCONV_TARGET_HAS_AVX512CD)

#endif /* TCONV_COMMON_TARGET_FEATURES_H */
