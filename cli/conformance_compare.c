/* SPDX-License-Identifier: Apache-2.0 */
/* Tolerances and error measures for conformance outputs (see conformance_compare.h). */
#include "conformance_compare.h"

#include <math.h>

double array_value(const npy_array_t *a, size_t i) {
    return a->dtype == npy_f64 ? ((const double *)a->data)[i] : ((const float *)a->data)[i];
}

static double max_abs(const npy_array_t *a) {
    double m = 0.0;
    for (size_t i = 0; a && a->data && i < a->count; i++)
        m = fmax(m, fabs(array_value(a, i)));
    return m;
}

static int64_t gcd(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

double case_tolerance(const conformance_case_t *c, const npy_array_t *input,
                      const npy_array_t *kernel, const npy_array_t *bias,
                      const npy_array_t *golden) {
    const tconv_problem_t *p = &c->problem;
    double taps = (double)(p->in_channels / (p->groups > 0 ? p->groups : 1));
    for (int i = 0; i < p->spatial_rank; i++) {
        int64_t s = p->strides[i], d = p->dilation[i], k = p->kernel_size[i];
        int64_t g = gcd(s, d);
        int64_t period = g > 0 && s / g > 0 ? s / g : 1; /* taps t, t+period: same phase */
        taps *= (double)((k + period - 1) / period);
    }
    double bound = max_abs(input) * max_abs(kernel) * taps + max_abs(bias);
    double scale = fmax(1.0, fmax(max_abs(golden), bound));
    double rtol = c->tolerance > 0        ? c->tolerance
                  : p->dtype == tconv_f64 ? CONFORMANCE_RTOL_F64
                                          : CONFORMANCE_RTOL_F32;
    return rtol * scale;
}

double gradient_tolerance(tconv_dtype_t dtype, const npy_array_t *golden) {
    double rtol = dtype == tconv_f64 ? CONFORMANCE_GRAD_RTOL_F64 : CONFORMANCE_GRAD_RTOL_F32;
    return rtol * fmax(1.0, max_abs(golden));
}

double max_abs_error_at(const npy_array_t *golden, const void *got, size_t *where) {
    double worst = 0.0;
    *where = 0;
    for (size_t i = 0; i < golden->count; i++) {
        double g = array_value(golden, i);
        double v = golden->dtype == npy_f64 ? ((const double *)got)[i] : ((const float *)got)[i];
        double e = fabs(v - g);
        if (isnan(e)) {
            *where = i;
            return INFINITY;
        }
        if (e > worst) {
            worst = e;
            *where = i;
        }
    }
    return worst;
}
