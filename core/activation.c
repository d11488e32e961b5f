/* SPDX-License-Identifier: Apache-2.0 */
/* Activation names (canonical and Keras aliases), default parameters and
 * parameter validation. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "problem.h"

/* Indexed by tconv_activation_t: the canonical name is the enum suffix. */
static const char *const canonical_names[TCONV_ACTIVATION_COUNT] = {
    "linear",      "relu",        "relu6",        "leaky_relu", "elu",
    "selu",        "sigmoid",     "hard_sigmoid", "hard_silu",  "tanh",
    "softplus",    "softsign",    "silu",         "gelu",       "exponential",
    "log_sigmoid", "mish",        "celu",         "hard_tanh",  "hard_shrink",
    "soft_shrink", "tanh_shrink", "sparse_plus",  "squareplus", "gelu_tanh",
};

static const struct {
    const char *alias;
    tconv_activation_t activation;
} aliases[] = {
    {"swish", tconv_activation_silu},
    {"hard_swish", tconv_activation_hard_silu},
    {"none", tconv_activation_linear},
    {"identity", tconv_activation_linear},
};

/* Keras activations that mix values across an axis, so cannot be fused. */
static const char *const not_element_wise[] = {"softmax", "log_softmax", "glu", "sparsemax"};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

TCONV_API const char *tconv_activation_name(tconv_activation_t activation) {
    if ((unsigned)activation >= TCONV_ACTIVATION_COUNT)
        return NULL;
    return canonical_names[activation];
}

TCONV_API tconv_status_t tconv_activation_from_name(const char *name,
                                                    tconv_activation_t *activation) {
    TCONV_REQUIRE_NONNULL(name);
    TCONV_REQUIRE_NONNULL(activation);
    for (int a = 0; a < TCONV_ACTIVATION_COUNT; a++) {
        if (strcasecmp(name, canonical_names[a]) == 0) {
            *activation = (tconv_activation_t)a;
            return tconv_success;
        }
    }
    for (size_t i = 0; i < COUNT_OF(aliases); i++) {
        if (strcasecmp(name, aliases[i].alias) == 0) {
            *activation = aliases[i].activation;
            return tconv_success;
        }
    }
    for (size_t i = 0; i < COUNT_OF(not_element_wise); i++) {
        if (strcasecmp(name, not_element_wise[i]) == 0)
            return tconv_set_error(tconv_invalid_arguments,
                                   "activation '%s' is not element-wise: apply it after the "
                                   "convolution",
                                   name);
    }
    char accepted[1024] = "";
    size_t used = 0;
    for (int a = 0; a < TCONV_ACTIVATION_COUNT && used < sizeof accepted; a++)
        used += (size_t)snprintf(accepted + used, sizeof accepted - used, "%s%s", a ? ", " : "",
                                 canonical_names[a]);
    for (size_t i = 0; i < COUNT_OF(aliases) && used < sizeof accepted; i++)
        used += (size_t)snprintf(accepted + used, sizeof accepted - used, ", %s", aliases[i].alias);
    return tconv_set_error(tconv_invalid_arguments, "activation '%.64s' is unknown; accepted: %s",
                           name, accepted);
}

TCONV_API double tconv_activation_default_alpha(tconv_activation_t activation) {
    switch (activation) {
    case tconv_activation_leaky_relu:
        return 0.2;
    case tconv_activation_elu:
    case tconv_activation_celu:
        return 1.0;
    case tconv_activation_hard_shrink:
    case tconv_activation_soft_shrink:
        return 0.5;
    case tconv_activation_squareplus:
        return 4.0;
    default:
        return 0.0;
    }
}

tconv_status_t tconv_activation_validate(tconv_activation_t activation, double alpha,
                                         double *resolved_alpha) {
    if ((unsigned)activation >= TCONV_ACTIVATION_COUNT)
        return tconv_set_error(tconv_invalid_arguments, "activation = %d: must be in 0..%d",
                               (int)activation, TCONV_ACTIVATION_COUNT - 1);
    if (isinf(alpha))
        return tconv_set_error(tconv_invalid_arguments,
                               "activation_alpha = %g: must be finite (or NaN for the default)",
                               alpha);
    if (isnan(alpha))
        alpha = tconv_activation_default_alpha(activation);
    /* Parameters that would divide by zero or take the root of a negative. */
    if (activation == tconv_activation_celu && alpha == 0.0)
        return tconv_set_error(tconv_invalid_arguments,
                               "activation_alpha = 0: celu divides by alpha, must be nonzero");
    if ((activation == tconv_activation_squareplus || activation == tconv_activation_hard_shrink ||
         activation == tconv_activation_soft_shrink) &&
        alpha < 0.0)
        return tconv_set_error(tconv_invalid_arguments, "activation_alpha = %g: %s needs >= 0",
                               alpha, canonical_names[activation]);
    *resolved_alpha = alpha;
    return tconv_success;
}
