/* SPDX-License-Identifier: Apache-2.0 */
/* x86 CPU feature detection (cpu_features.h). */
#include "cpu_features.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static const struct {
    const char *name;
    unsigned bit;
} feature_names[] = {
    {"avx", TCONV_CPU_AVX},           {"avx2", TCONV_CPU_AVX2},
    {"fma", TCONV_CPU_FMA},           {"f16c", TCONV_CPU_F16C},
    {"avx512f", TCONV_CPU_AVX512F},   {"avx512vl", TCONV_CPU_AVX512VL},
    {"avx512dq", TCONV_CPU_AVX512DQ}, {"avx512bw", TCONV_CPU_AVX512BW},
    {"avx512cd", TCONV_CPU_AVX512CD},
};

bool tconv_cpu_features_parse(const char *list, unsigned *bits) {
    *bits = 0;
    const char *p = list;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        bool known = len == 0; /* empty items ("a,,b") are harmless */
        for (size_t i = 0; i < sizeof feature_names / sizeof feature_names[0] && !known; i++) {
            if (strlen(feature_names[i].name) == len &&
                strncmp(p, feature_names[i].name, len) == 0) {
                *bits |= feature_names[i].bit;
                known = true;
            }
        }
        if (!known)
            return false;
        p += len;
        if (*p == ',')
            p++;
    }
    return true;
}

#if defined(__x86_64__) || defined(__i386__)
/* F16C from CPUID leaf 1 (ECX bit 29): clang before 16 has no "f16c" for
 * __builtin_cpu_supports and refuses to compile it. Like GCC's builtin, it
 * counts only where AVX is usable (the OS saves the YMM state): the
 * conversions work on YMM registers. */
static bool cpu_has_f16c(bool avx_usable) {
    unsigned eax, ebx, ecx, edx;
    return avx_usable && __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
}
#endif

/* What the CPU reports (__builtin_cpu_supports takes string literals only). */
static unsigned detected_features(void) {
    unsigned bits = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    bits |= __builtin_cpu_supports("avx") ? TCONV_CPU_AVX : 0;
    bits |= __builtin_cpu_supports("avx2") ? TCONV_CPU_AVX2 : 0;
    bits |= __builtin_cpu_supports("fma") ? TCONV_CPU_FMA : 0;
    bits |= cpu_has_f16c(__builtin_cpu_supports("avx")) ? TCONV_CPU_F16C : 0;
    bits |= __builtin_cpu_supports("avx512f") ? TCONV_CPU_AVX512F : 0;
    bits |= __builtin_cpu_supports("avx512vl") ? TCONV_CPU_AVX512VL : 0;
    bits |= __builtin_cpu_supports("avx512dq") ? TCONV_CPU_AVX512DQ : 0;
    bits |= __builtin_cpu_supports("avx512bw") ? TCONV_CPU_AVX512BW : 0;
    bits |= __builtin_cpu_supports("avx512cd") ? TCONV_CPU_AVX512CD : 0;
#endif
    return bits;
}

unsigned tconv_cpu_features(void) {
    unsigned bits = detected_features();
    /* secure_getenv: a set-user-ID program never lets its caller pick kernels. */
    const char *mask = secure_getenv(TCONV_CPU_ISA_MASK_ENV);
    unsigned allowed;
    /* An unparsable mask hides everything: tests see the failure at once as
     * the portable kernels, never as a silently ignored mask. */
    if (mask != NULL)
        bits &= tconv_cpu_features_parse(mask, &allowed) ? allowed : 0u;
    return bits;
}
