/* SPDX-License-Identifier: Apache-2.0 */
/* Entry points of the CPU backend's backward passes: what plan creation,
 * set_weights and the two ABI 1.1 slots call (see cpu_backward.h). */
#include "cpu_backward.h"

#include "cpu_winograd.h"
#include "cpu_winograd_weights.h"

#include <stddef.h>
#include <stdio.h>

/* The passes the core asked for; a core older than the field asks for none. */
static uint32_t requested_passes(const tconv_canonical_t *p) {
    const size_t end = offsetof(tconv_canonical_t, passes) + sizeof p->passes;
    return p->struct_size >= end ? p->passes : TCONV_PASS_FORWARD;
}

tconv_status_t cpu_backward_create(cpu_plan_t *plan, char *msg, size_t msg_size) {
    const uint32_t passes = requested_passes(&plan->p);
    if (!(passes & (TCONV_PASS_BACKWARD_DATA | TCONV_PASS_BACKWARD_WEIGHTS))) {
        return tconv_success;
    }
    if (plan->p.activation != tconv_activation_linear) {
        snprintf(msg, msg_size,
                 "activation %d with a backward pass: the cpu backend computes backward passes "
                 "of the linear pre-activation only (the core applies the activation)",
                 (int)plan->p.activation);
        return tconv_unimplemented;
    }
    tconv_status_t st = tconv_success;
    if (passes & TCONV_PASS_BACKWARD_DATA) {
        st = cpu_wino_fits(plan, 0)
                 ? cpu_wino_create(plan, 0, &plan->wino, msg, msg_size)
                 : cpu_backward_data_create(plan, &plan->backward_data, msg, msg_size);
    }
    if (st == tconv_success && (passes & TCONV_PASS_BACKWARD_WEIGHTS)) {
        st = cpu_wgrad_create(plan, &plan->weights_full, msg, msg_size);
        plan->backward_weights = plan->weights_full;
        if (st == tconv_success && cpu_wino_wgrad_fits(plan)) {
            st = cpu_wino_wgrad_create(plan, &plan->wino_wgrad, msg, msg_size);
        }
    }
    if (st != tconv_success) {
        cpu_backward_destroy(plan);
    }
    return st;
}

tconv_status_t cpu_backward_set_weights(cpu_plan_t *plan, const void *kernel, char *msg,
                                        size_t msg_size) {
    if (plan->wino) {
        cpu_wino_set_weights(plan->wino, plan, kernel, NULL);
        return tconv_success;
    }
    if (!plan->backward_data) {
        return tconv_success;
    }
    return cpu_backward_data_set_weights(plan->backward_data, plan, kernel, msg, msg_size);
}

tconv_status_t cpu_backward_data(cpu_plan_t *plan, const void *grad_output, void *grad_input,
                                 char *msg, size_t msg_size) {
    if (!plan->backward_data && !plan->wino) {
        snprintf(msg, msg_size,
                 "plan_backward_data: the plan was made without TCONV_PASS_BACKWARD_DATA");
        return tconv_invalid_arguments;
    }
    if (!grad_output || !grad_input) {
        snprintf(msg, msg_size, "plan_backward_data: %s is NULL",
                 !grad_output ? "grad_output" : "grad_input");
        return tconv_invalid_arguments;
    }
    if (plan->wino) {
        cpu_wino_execute(plan, plan->wino, grad_output, grad_input);
        return tconv_success;
    }
    return cpu_plan_execute(plan->backward_data, grad_output, grad_input, msg, msg_size);
}

tconv_status_t cpu_backward_weights(cpu_plan_t *plan, const void *input, const void *grad_output,
                                    void *grad_kernel, void *grad_bias, char *msg,
                                    size_t msg_size) {
    if (!plan->backward_weights) {
        snprintf(msg, msg_size,
                 "plan_backward_weights: the plan was made without TCONV_PASS_BACKWARD_WEIGHTS");
        return tconv_invalid_arguments;
    }
    if (!grad_output || (!grad_kernel && !grad_bias) || (grad_kernel && !input)) {
        snprintf(msg, msg_size, "plan_backward_weights: %s",
                 !grad_output                 ? "grad_output is NULL"
                 : !grad_kernel && !grad_bias ? "grad_kernel and grad_bias are both NULL"
                                              : "input is NULL but grad_kernel is asked for");
        return tconv_invalid_arguments;
    }
    if (grad_bias && !plan->p.use_bias) {
        snprintf(msg, msg_size, "plan_backward_weights: grad_bias must be NULL without a bias");
        return tconv_invalid_arguments;
    }
    if (grad_kernel && plan->wino_wgrad && plan->backward_weights == plan->weights_full) {
        cpu_wino_wgrad_execute(plan, plan->wino_wgrad, input, grad_output, grad_kernel);
        grad_kernel = NULL; /* the direct pass: the bias gradient only */
        if (!grad_bias) {
            return tconv_success;
        }
    }
    cpu_wgrad_execute(plan, plan->backward_weights, input, grad_output, grad_kernel, grad_bias);
    return tconv_success;
}

tconv_status_t cpu_backward_set_batch(cpu_plan_t *plan, int64_t batch, char *msg, size_t msg_size) {
    if (plan->backward_data) {
        tconv_status_t st = cpu_plan_set_batch(plan->backward_data, batch, msg, msg_size);
        if (st != tconv_success) {
            return st;
        }
    }
    if (plan->wino) {
        cpu_wino_set_batch(plan->wino, plan, batch);
    }
    if (!plan->weights_full) {
        return tconv_success;
    }
    if (batch == cpu_wgrad_batch(plan->weights_full)) {
        plan->backward_weights = plan->weights_full;
        return tconv_success;
    }
    if (!plan->weights_other || cpu_wgrad_batch(plan->weights_other) != batch) {
        cpu_wgrad_t *wg = NULL; /* made from plan->p, already at the batch */
        tconv_status_t st = cpu_wgrad_create(plan, &wg, msg, msg_size);
        if (st != tconv_success) {
            return st;
        }
        cpu_wgrad_destroy(plan->weights_other);
        plan->weights_other = wg;
    }
    plan->backward_weights = plan->weights_other;
    return tconv_success;
}

void cpu_backward_describe(const cpu_plan_t *plan, char *buf, size_t size) {
    int used = 0;
    buf[0] = '\0';
    const cpu_plan_t *bp = plan->backward_data;
    if (plan->wino) {
        used = cpu_wino_describe(plan->wino, buf, size);
    } else if (bp) {
        used = snprintf(
            buf, size, "backward data: %s tiles, runs D/H/W %lld/%lld/%lld, %lld work items%s",
            bp->dot ? "dot" : "channel-vector", (long long)bp->axis[0].nruns,
            (long long)bp->axis[1].nruns, (long long)bp->axis[2].nruns, (long long)bp->nitems,
            bp->stream_output ? ", non-temporal dx stores (64-byte aligned dx)" : "");
    }
    if (plan->backward_weights && used >= 0 && (size_t)used < size) {
        char direct[384], wino[160] = "";
        cpu_wgrad_describe(plan->backward_weights, direct, sizeof direct);
        if (plan->wino_wgrad) {
            cpu_wino_wgrad_describe(plan->wino_wgrad, wino, sizeof wino);
        }
        snprintf(buf + used, size - (size_t)used, "%s%s%s%s%s", used ? "; " : "", wino,
                 wino[0] ? " (other batches and dL/db: " : "", direct, wino[0] ? ")" : "");
    }
}

void cpu_backward_destroy(cpu_plan_t *plan) {
    if (!plan) {
        return;
    }
    cpu_plan_destroy(plan->backward_data);
    cpu_wino_destroy(plan->wino);
    plan->wino = NULL;
    cpu_wgrad_destroy(plan->weights_full);
    cpu_wgrad_destroy(plan->weights_other);
    cpu_wino_wgrad_destroy(plan->wino_wgrad);
    plan->wino_wgrad = NULL;
    plan->backward_data = NULL;
    plan->backward_weights = plan->weights_full = plan->weights_other = NULL;
}

void cpu_split_by_cost(const double *prefix, int64_t count, size_t nthreads, int64_t *first) {
    int64_t item = 0;
    for (size_t t = 0; t <= nthreads; ++t) {
        double target = prefix[count] * (double)t / (double)nthreads;
        while (item < count && prefix[item] < target) {
            ++item;
        }
        first[t] = t == nthreads ? count : item;
    }
}
