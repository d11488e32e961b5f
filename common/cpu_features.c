/* x86 CPU feature detection (cpu_features.h). */
#include "cpu_features.h"

#include <stdlib.h>
#include <string.h>

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

/* What the CPU reports (__builtin_cpu_supports takes string literals only). */
static unsigned detected_features(void) {
    unsigned bits = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    bits |= __builtin_cpu_supports("avx") ? TCONV_CPU_AVX : 0;
    bits |= __builtin_cpu_supports("avx2") ? TCONV_CPU_AVX2 : 0;
    bits |= __builtin_cpu_supports("fma") ? TCONV_CPU_FMA : 0;
    bits |= __builtin_cpu_supports("f16c") ? TCONV_CPU_F16C : 0;
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
