/* SPDX-License-Identifier: Apache-2.0 */
/* Measured choice between CPU-class devices (the native backend and OpenCL
 * CPU devices such as PoCL), whose model estimates are too close to tell
 * apart: each one runs the problem on zeros and the fastest median wins.
 * Decisions are remembered per problem shape (selection_cache.h).
 *
 * TCONV_SELECT: unset or "auto" measures unless a remembered decision
 * exists; "model" never measures (the backends' estimates decide);
 * "measure" always measures and refreshes the remembered decision.
 *
 * A remembered decision is measured again, and the best time of each device
 * over the measurements kept, while the winner's lead is a close call
 * (under TCONV_MEASURE_CLOSE_MARGIN) and it was measured fewer than
 * TCONV_MEASURE_MAX_MEASUREMENTS times: one noisy run must not decide for
 * ever. A decision older than TCONV_MEASURE_MAX_AGE_SECONDS (or dated in the
 * future) is measured anew: drivers, kernels and machines change. */
#ifndef TCONV_CORE_MEASURE_H
#define TCONV_CORE_MEASURE_H

#include <stddef.h>

#include "context.h"
#include "selection.h"

/* Problems whose four tensors together exceed this are never measured:
 * the buffers and the runs would cost more than a wrong guess. */
#define TCONV_MEASURE_MAX_BYTES ((size_t)256 << 20)
/* Below this estimated time (seconds) on the fastest candidate the choice
 * cannot pay for a measurement, which may cost a kernel build of seconds on
 * an OpenCL device: the host-native backend is taken without measuring. */
#define TCONV_MEASURE_MIN_SECONDS 1e-3
/* A winner ahead of every other device by less than this fraction of the
 * faster time is a close call, measured again. */
#define TCONV_MEASURE_CLOSE_MARGIN 0.20
/* How often a close call is measured at most (the first time included). */
#define TCONV_MEASURE_MAX_MEASUREMENTS 3
/* Age after which a remembered decision is measured anew: 30 days. */
#define TCONV_MEASURE_MAX_AGE_SECONDS (30 * 24 * 3600)

/* How many devices, from position @p first of the selection order on, form
 * a run that automatic ranking placed, that are CPU-class and that have not
 * declined. Measuring makes sense for a run of two or more. */
size_t tconv_measure_run_length(const struct tconv_context *context,
                                const tconv_selection_t *selection, size_t first);

/* Orders the run of @p length devices at position @p first of the selection
 * order fastest first: from a remembered decision, by measurement, or (with
 * TCONV_SELECT=model or a problem too large) not at all. Devices that fail
 * while measured are recorded as declined. Sets selection->measure_note to
 * the explanation. The plans it measures are made with @p options (NULL: no
 * plan option set; else every device of the run has the slot), so the
 * winner's is the plan the caller asked for. When it measured and
 * @p winner_plan is not NULL, *winner_plan receives the plan of the device
 * now first in the run (its weights are zeros); otherwise every plan it
 * made is destroyed and *winner_plan is NULL. Fails only when out of
 * memory. */
tconv_status_t tconv_measure_decide(const struct tconv_context *context,
                                    tconv_selection_t *selection, size_t first, size_t length,
                                    const tconv_canonical_t *problem,
                                    const tconv_plan_options_t *options,
                                    tconv_backend_plan_t *winner_plan);

#endif /* TCONV_CORE_MEASURE_H */
