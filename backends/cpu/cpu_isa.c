/* SPDX-License-Identifier: Apache-2.0 */
/* Runtime choice of the micro-kernel family: the best the CPU supports, or the
 * one TCONV_CPU_ISA names (tests force each in turn). A family is "supported"
 * only when the CPU has every feature its file is compiled for. */
#include <string.h>

#include "common/cpu_features.h"
#include "cpu_kernel.h"

cpu_isa_t cpu_isa_for_features(unsigned features) {
#ifdef TCONV_CPU_X86_KERNELS
    if (tconv_cpu_has_all(features, cpu_kernel_avx512_features)) {
        return cpu_isa_avx512;
    }
    if (tconv_cpu_has_all(features, cpu_kernel_avx2_features)) {
        return cpu_isa_avx2;
    }
#endif
    return cpu_isa_c;
}

cpu_isa_t cpu_isa_detect(void) {
    return cpu_isa_for_features(tconv_cpu_features());
}

static const char *const isa_names[] = {"c", "avx2", "avx512"};

int cpu_isa_parse(const char *name, cpu_isa_t *isa) {
    for (int k = 0; k < 3; ++k) {
        if (strcmp(name, isa_names[k]) == 0) {
            *isa = (cpu_isa_t)k;
            return 0;
        }
    }
    return -1;
}

const char *cpu_isa_name(cpu_isa_t isa) {
    return isa_names[isa];
}

const cpu_kernel_t *cpu_kernel_select(cpu_isa_t isa, tconv_dtype_t dtype) {
#ifdef TCONV_CPU_X86_KERNELS
    static const cpu_kernel_t *const table[3][2] = {
        {&cpu_kernel_c_f32, &cpu_kernel_c_f64},
        {&cpu_kernel_avx2_f32, &cpu_kernel_avx2_f64},
        {&cpu_kernel_avx512_f32, &cpu_kernel_avx512_f64},
    };
#else
    /* Only the portable kernels exist; detect never returns another ISA. */
    static const cpu_kernel_t *const table[3][2] = {
        {&cpu_kernel_c_f32, &cpu_kernel_c_f64},
        {&cpu_kernel_c_f32, &cpu_kernel_c_f64},
        {&cpu_kernel_c_f32, &cpu_kernel_c_f64},
    };
#endif
    if (dtype != tconv_f32 && dtype != tconv_f64) {
        return NULL;
    }
    return table[isa][dtype == tconv_f64];
}
