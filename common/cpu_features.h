/* SPDX-License-Identifier: Apache-2.0 */
/* x86 CPU feature detection, one implementation for the CPU backend's kernel
 * choice (backends/cpu/cpu_isa.c) and the CLI's peak-FLOP/s kernels
 * (cli/bench_peak.c). A SIMD family may run only when the CPU has EVERY
 * feature its code was compiled for: target_features.h tells a kernel file
 * what that set is. Internal: compiled in, never installed. */
#ifndef TCONV_COMMON_CPU_FEATURES_H
#define TCONV_COMMON_CPU_FEATURES_H

#include <stdbool.h>

/* Feature bits (the names are GCC's __builtin_cpu_supports names). */
#define TCONV_CPU_AVX      0x001u
#define TCONV_CPU_AVX2     0x002u
#define TCONV_CPU_FMA      0x004u
#define TCONV_CPU_F16C     0x008u
#define TCONV_CPU_AVX512F  0x010u
#define TCONV_CPU_AVX512VL 0x020u
#define TCONV_CPU_AVX512DQ 0x040u
#define TCONV_CPU_AVX512BW 0x080u
#define TCONV_CPU_AVX512CD 0x100u

/** Environment variable for tests only: a comma list of feature names
 *  ("avx512f,avx2,fma"); features not listed count as absent, as on a CPU
 *  that lacks them (listing one the CPU lacks does not add it). */
#define TCONV_CPU_ISA_MASK_ENV "TCONV_CPU_ISA_MASK"

/** The features of this CPU (0 on other architectures), less those
 *  TCONV_CPU_ISA_MASK leaves out when it is set. */
unsigned tconv_cpu_features(void);

/** Parses a comma list of feature names into bits. False (and *bits
 *  undefined) on an unknown name. */
bool tconv_cpu_features_parse(const char *list, unsigned *bits);

/** Whether @p have holds every bit of @p required. */
static inline bool tconv_cpu_has_all(unsigned have, unsigned required) {
    return (have & required) == required;
}

#endif /* TCONV_COMMON_CPU_FEATURES_H */
